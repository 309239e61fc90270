//! `meridian dnssec keygen|ds` and `meridian check` on key files (the real binary).

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use meridian::dnssec::{Algorithm, SigningKey};

const BIN: &str = env!("CARGO_BIN_EXE_meridian");

const ZONE: &str = "origin = \"gslb.example.test.\"\nns = [\"ns1\"]\n[soa]\nmname = \"ns1\"\nrname = \"hostmaster\"\nserial = 1\n[records.ns1]\nA = \"192.0.2.1\"\n";

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn keygen_writes_private_keys_once_and_ds_prints_parent_records() {
    let dir = tempfile::tempdir().unwrap();
    let zones = dir.path().join("zones");
    let keys = zones.join("keys");
    let keys_arg = keys.to_str().unwrap();
    for split in [false, true] {
        let mut args = vec![
            "dnssec",
            "keygen",
            "--zone",
            "gslb.example.test",
            "--dir",
            keys_arg,
        ];
        if split {
            args.extend(["--split", "--algorithm", "ed25519"]);
        }
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{err}");
        assert!(out.starts_with("[dnssec]\n"), "{out}");
    }
    for role in ["csk", "ksk", "zsk"] {
        let path = keys.join(format!("gslb.example.test.{role}.pem"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("-----BEGIN PRIVATE KEY-----"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{role}");
    }
    // Never overwrites.
    let (code, _, err) = run(&[
        "dnssec",
        "keygen",
        "--zone",
        "gslb.example.test",
        "--dir",
        keys_arg,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("exists"), "{err}");

    let zone = format!(
        "{ZONE}[dnssec]\nalgorithm = \"ed25519\"\nksk = \"keys/gslb.example.test.ksk.pem\"\nzsk = \"keys/gslb.example.test.zsk.pem\"\n"
    );
    std::fs::write(zones.join("gslb.example.test.toml"), zone).unwrap();
    let (code, out, err) = run(&[
        "dnssec",
        "ds",
        "gslb.example.test",
        "--zones",
        zones.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("gslb.example.test. 3600 IN DS "),
        "{out}"
    );
    assert!(lines[0].contains(" 15 2 "), "{out}");
    assert!(
        lines[1].starts_with("gslb.example.test. 3600 IN DNSKEY 257 3 15 "),
        "{out}"
    );
    assert!(
        lines[2].starts_with("gslb.example.test. 3600 IN DNSKEY 256 3 15 "),
        "{out}"
    );
    let (code, _, _) = run(&["check", "--zones", zones.to_str().unwrap()]);
    assert_eq!(code, 0);
}

#[test]
fn openssl_keys_load() {
    let Some(openssl) = crate::support::skip::need_tool("openssl", "openssl") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (alg, args) in [
        (Algorithm::Ed25519, vec!["genpkey", "-algorithm", "ed25519"]),
        (
            Algorithm::EcdsaP256Sha256,
            vec![
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ],
        ),
    ] {
        let path = dir.path().join(format!("{}.pem", alg.as_str()));
        let status = Command::new(&openssl)
            .args(&args)
            .args(["-out", path.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(status.success());
        let text = std::fs::read_to_string(&path).unwrap();
        SigningKey::from_pem(&text, alg, meridian::dnssec::KeyRole::Csk)
            .unwrap_or_else(|e| panic!("{}: {e}", alg.as_str()));
    }
}

#[test]
fn check_rejects_unreadable_wrong_algorithm_and_world_readable_keys() {
    let dir = tempfile::tempdir().unwrap();
    let key = super::write_key(
        dir.path(),
        "gslb.example.test",
        Algorithm::EcdsaP256Sha256,
        "csk",
    );
    let zone_file = dir.path().join("gslb.example.test.toml");
    let cases = [
        ("keys/missing.pem", "ecdsap256sha256", 0o600, "cannot read"),
        (key.as_str(), "ed25519", 0o600, "not a ed25519 private key"),
        (
            key.as_str(),
            "rsasha256",
            0o600,
            "unknown algorithm `rsasha256`",
        ),
        (
            key.as_str(),
            "ecdsap256sha256",
            0o644,
            "readable by every user",
        ),
    ];
    for (file, algorithm, mode, says) in cases {
        std::fs::write(
            &zone_file,
            format!("{ZONE}[dnssec]\nalgorithm = \"{algorithm}\"\ncsk = \"{file}\"\n"),
        )
        .unwrap();
        let key_path = dir.path().join(&key);
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(mode)).unwrap();
        let (code, _, err) = run(&["check", "--zones", dir.path().to_str().unwrap()]);
        assert_eq!(code, 2, "{file} {algorithm}: {err}");
        assert!(err.contains(says), "{says}: {err}");
    }
}
