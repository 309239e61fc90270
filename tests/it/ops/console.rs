//! The console's assets from the admin router: served without a token even when reads are
//! protected, with a strict Content-Security-Policy, and free of inline code and HTML sinks.

use meridian::admin::Limits;
use reqwest::StatusCode;

use super::control::{Server, TOKEN};

#[tokio::test]
async fn assets_are_embedded_with_a_strict_policy_and_data_needs_the_token() {
    let s = Server::start(Some(TOKEN), true, Limits::default()).await;
    for (path, kind) in [
        ("/ui", "text/html"),
        ("/ui/app.js", "text/javascript"),
        ("/ui/app.css", "text/css"),
        ("/ui/world.json", "application/json"),
    ] {
        let resp = s
            .req(reqwest::Method::GET, path, None)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let h = resp.headers();
        assert!(
            h["content-type"].to_str().unwrap().starts_with(kind),
            "{path}"
        );
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.starts_with("default-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        let body = resp.text().await.unwrap();
        let outside = body.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !outside.contains("http://") && !outside.contains("https://"),
            "{path} loads nothing from elsewhere"
        );
        match path {
            "/ui" => {
                // Scripts and styles only by reference; no inline handlers or style attributes.
                assert_eq!(body.matches("<script").count(), 1);
                assert!(body.contains("<script src=\"/ui/app.js\" defer></script>"));
                assert!(!body.contains("<style") && !body.contains(" style="));
                let handler = body.split(" on").skip(1).any(|rest| {
                    let name: String = rest.chars().take_while(char::is_ascii_lowercase).collect();
                    !name.is_empty() && rest[name.len()..].starts_with('=')
                });
                assert!(!handler, "an inline event handler in index.html");
            }
            "/ui/app.js" => {
                for sink in [
                    "innerHTML",
                    "outerHTML",
                    "insertAdjacentHTML",
                    "document.write",
                    "eval(",
                ] {
                    assert!(!body.contains(sink), "app.js uses {sink}");
                }
            }
            _ => {}
        }
    }
    // The data behind the page follows `protect_reads`.
    let (code, _) = s.get("/v1/console", None).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, body) = s.get("/v1/console", Some(TOKEN)).await;
    assert_eq!(code, StatusCode::OK);
    assert!(body["zones"].is_array());
    let (code, _) = s
        .get("/v1/console/map?service=www.example", Some(TOKEN))
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}
