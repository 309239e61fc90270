//! Golden tests: every bad fixture's full error text is pinned in a `.expected` file.
//! Regenerate with `UPDATE_GOLDEN=1 cargo test --test config_errors` and review the diff.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("fixtures directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn bad_fixtures_match_their_expected_errors() {
    let files = fixtures("tests/fixtures/bad");
    assert!(files.len() >= 5, "bad fixtures missing");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for path in files {
        let errors = meridian::config::load_zone(&path).expect_err("fixture must be invalid");
        let text = errors.iter().fold(String::new(), |mut text, e| {
            let _ = writeln!(text, "{e}");
            text
        });
        let expected_path = path.with_extension("expected");
        if update {
            std::fs::write(&expected_path, &text).expect("write golden");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != text {
            mismatches.push(format!(
                "{}:\n--- expected\n{expected}--- got\n{text}",
                path.display()
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn good_fixtures_and_shipped_zones_compile() {
    for dir in ["tests/fixtures/good", "zones"] {
        let set = meridian::config::load_zones(Path::new(dir));
        assert!(
            set.is_ok(),
            "{dir}: {}",
            set.err().map(|e| e.to_string()).unwrap_or_default()
        );
    }
}

#[test]
fn shipped_zones_only_probe_loopback() {
    let set = meridian::config::load_zones(Path::new("zones")).expect("shipped zones");
    let targets = set.targets();
    assert!(!targets.is_empty());
    for t in targets {
        assert!(
            t.probe_addr.ip().is_loopback(),
            "{} probes {}",
            t.key,
            t.probe_addr
        );
    }
}
