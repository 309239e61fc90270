//! Zone files broken under a running server: each reload fails with an error naming the file, the previous zones keep answering, and fixing the file recovers.

use std::path::Path;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

use super::harness::{Served, serve};
use crate::support::{addrs, ip};

const EXAMPLE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/good/example.test.toml"
));
const CHILD: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/good/sub.example.test.toml"
));

async fn two_zones() -> Served {
    serve(
        &[
            ("example.test.toml", EXAMPLE.to_string()),
            ("child.example.test.toml", CHILD.to_string()),
        ],
        |_| {},
    )
    .await
}

/// Both zones still answer as they did at start.
async fn old_zones_answer(s: &Served) {
    let www = s.ask("www.example.test.", RecordType::A, None).await;
    assert_eq!(addrs(&www), vec![ip("192.0.2.10"), ip("192.0.2.11")]);
    let child = s.ask("www.child.example.test.", RecordType::A, None).await;
    assert_eq!(addrs(&child), vec![ip("192.0.2.200")]);
}

async fn serial(s: &Served) -> u32 {
    let soa = s.ask("example.test.", RecordType::SOA, None).await;
    match soa.answers.first().map(|r| &r.data) {
        Some(RData::SOA(soa)) => soa.serial,
        other => panic!("no SOA: {other:?}"),
    }
}

/// Reload must fail with an error containing each of `needles`; the old zones keep
/// serving, and the admin status reports the failure.
async fn reload_fails(s: &Served, needles: &[&str]) {
    let generation = s.server.generation();
    let errors = s.server.reload().expect_err("reload must fail");
    let text = errors.to_string();
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} not in {text}");
    }
    println!(
        "reload refused: {}",
        text.lines().next().unwrap_or_default()
    );
    assert_eq!(
        s.server.generation(),
        generation,
        "still the old generation"
    );
    old_zones_answer(s).await;
    let status = s.admin("/v1/status").await;
    assert_eq!(status["last_reload"]["ok"], false, "{status}");
    let reported = status["last_reload"]["errors"].to_string();
    assert!(reported.contains(needles[0]), "{reported}");
}

/// Writing a good file back (with a new serial) makes the next reload succeed.
async fn fix_and_reload(s: &Served, file: &Path, serial_now: u32) {
    let text = EXAMPLE.replace("serial = 7", &format!("serial = {serial_now}"));
    std::fs::write(file, text).unwrap();
    s.server.reload().expect("reload after the fix");
    assert_eq!(serial(s).await, serial_now);
    assert_eq!(s.admin("/v1/status").await["last_reload"]["ok"], true);
}

#[tokio::test]
async fn broken_zone_files_fail_the_reload_and_the_old_zones_keep_serving() {
    let s = two_zones().await;
    let file = s.zones_dir().join("example.test.toml");
    let shown = file.display().to_string();
    assert_eq!(serial(&s).await, 7);
    // Not UTF-8.
    std::fs::write(&file, b"origin = \"example.test.\"\n\xff\xfe\xc0 = 1\n").unwrap();
    reload_fails(&s, &[&shown, "cannot read", "UTF-8"]).await;
    fix_and_reload(&s, &file, 8).await;
    // Cut off mid-write, inside a table header: a syntax error with file:line:col.
    let cut = EXAMPLE.find("[records.www]").unwrap() + 4;
    std::fs::write(&file, &EXAMPLE[..cut]).unwrap();
    reload_fails(&s, &[&format!("{shown}:")]).await;
    fix_and_reload(&s, &file, 9).await;
    // Every zone file deleted.
    let child = s.zones_dir().join("child.example.test.toml");
    std::fs::remove_file(&file).unwrap();
    std::fs::remove_file(&child).unwrap();
    reload_fails(&s, &["no zone files"]).await;
    std::fs::write(&child, CHILD).unwrap();
    fix_and_reload(&s, &file, 10).await;
    // The zones directory itself gone.
    let moved = s.dir.path().join("zones.away");
    std::fs::rename(s.zones_dir(), &moved).unwrap();
    reload_fails(&s, &[&s.zones_dir().display().to_string(), "cannot read"]).await;
    std::fs::rename(&moved, s.zones_dir()).unwrap();
    fix_and_reload(&s, &file, 11).await;
    // Errors were logged with the file name.
    let line = super::harness::log_line(
        &["reload failed; still serving the previous zones"],
        std::time::Duration::from_secs(1),
    );
    line.await;
    s.server.shutdown().await;
}

/// A `*.toml` entry that is not a readable file (a directory, a dangling symlink) is a
/// broken zone file too: the reload must fail rather than silently drop the zone.
#[tokio::test]
async fn zone_file_replaced_by_a_directory_or_dangling_link_fails_the_reload() {
    let s = two_zones().await;
    let file = s.zones_dir().join("example.test.toml");
    let shown = file.display().to_string();
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    let result = s.server.reload();
    let www = s.ask("www.example.test.", RecordType::A, None).await;
    assert_ne!(
        www.metadata.response_code,
        ResponseCode::Refused,
        "example.test. vanished after a reload that returned {result:?}"
    );
    reload_fails(&s, &[&shown]).await;
    std::fs::remove_dir(&file).unwrap();
    std::os::unix::fs::symlink(s.dir.path().join("missing.toml"), &file).unwrap();
    reload_fails(&s, &[&shown]).await;
    std::fs::remove_file(&file).unwrap();
    fix_and_reload(&s, &file, 8).await;
    s.server.shutdown().await;
}
