//! The signing budget (TC=1 past it over UDP, TCP always signed), the metrics, and explain's
//! signing state.

use std::time::Duration;

use hickory_proto::rr::RecordType;
use meridian::dnssec::Algorithm;

use super::{ask, dnskeys, has_rrsig, over_tcp, over_udp, world_with};
use crate::support::http::{get_json, metric, scrape};
use crate::support::wait::eventually;

#[tokio::test]
async fn past_the_signing_budget_udp_is_truncated_and_tcp_signed() {
    let w = world_with(true, Algorithm::EcdsaP256Sha256, |c| {
        c.dnssec_signing_budget = 3;
    })
    .await;
    let mut truncated = 0;
    for i in 0..40 {
        let reply = over_udp(
            &w,
            &ask(
                &format!("flood{i}.example.test."),
                RecordType::A,
                true,
                false,
                None,
            ),
        )
        .await;
        if reply.metadata.truncation {
            truncated += 1;
            assert!(reply.answers.is_empty() && reply.authorities.is_empty());
        } else {
            assert!(has_rrsig(&reply));
        }
    }
    assert!(
        truncated > 30,
        "{truncated} of 40 truncated with a budget of 3 per second"
    );
    let tcp = over_tcp(
        &w,
        &ask("flood-tcp.example.test.", RecordType::A, true, false, None),
    )
    .await;
    assert!(has_rrsig(&tcp) && !tcp.metadata.truncation);
    // DO=0 never signs, so it never meets the budget.
    let plain = over_udp(
        &w,
        &ask(
            "flood-plain.example.test.",
            RecordType::A,
            false,
            false,
            None,
        ),
    )
    .await;
    assert!(!plain.metadata.truncation);
    let text = scrape(&w.server).await;
    assert!(
        metric(&text, "meridian_dnssec_budget_exceeded_total").unwrap() >= 30.0,
        "{text}"
    );
    assert!(metric(&text, "meridian_dnssec_signatures_total{path=\"query\"}").unwrap() >= 3.0);
    eventually("the cache publishes", Duration::from_secs(5), || async {
        let text = scrape(&w.server).await;
        metric(&text, "meridian_dnssec_signature_cache_entries").unwrap_or(0.0) > 0.0
    })
    .await;
}

#[tokio::test]
async fn explain_shows_the_key_and_whether_the_signature_was_cached() {
    let w = world_with(true, Algorithm::Ed25519, |_| {}).await;
    let tag = dnskeys(&w, "example.test.").await[0]
        .calculate_key_tag()
        .unwrap();
    let path = "/v1/explain?name=www.example.test&type=A&client=192.0.2.1";
    let first = get_json(&w.server, path).await;
    let sigs = &first["dnssec"]["signatures"];
    assert_eq!(sigs[0]["rrset"], "www.example.test. A", "{first}");
    assert_eq!(sigs[0]["key_tag"], tag);
    eventually(
        "a later explain finds it cached",
        Duration::from_secs(5),
        || async { get_json(&w.server, path).await["dnssec"]["signatures"][0]["cached"] == true },
    )
    .await;
    let unsigned = world_with(false, Algorithm::Ed25519, |_| {}).await;
    let plain = get_json(&unsigned.server, path).await;
    assert!(plain.get("dnssec").is_none(), "{plain}");
}
