//! The signed chain of trust of the delegation lab: BIND's tools sign the local root and example.test, Meridian signs its zones with keys from `meridian dnssec keygen`, the root's key is the resolvers' trust anchor.
//
// The parent holds the DS that `meridian dnssec ds` prints for gslb.example.test, and for
// bad.example.test (also served by Meridian, signed with its own key) the DS of a key
// Meridian never signs with, so that zone's answers are bogus.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::lab::{ORIGIN, RESOLVER};
use crate::support::skip::find_tool;

/// The signing tools, and the Debian package of each.
pub const TOOLS: [(&str, &str); 4] = [
    ("dnssec-keygen", "bind9-utils"),
    ("dnssec-signzone", "bind9-utils"),
    ("dnssec-dsfromkey", "bind9-utils"),
    ("delv", "bind9-dnsutils"),
];

/// A zone Meridian signs with a key whose DS is not in the parent (the DS of another key).
pub const BOGUS: &str = "bad.example.test";
/// A zone whose DS in the parent is the digest of its DNSKEY with one character changed.
pub const TAMPERED: &str = "tampered.example.test";

const MERIDIAN_BIN: &str = env!("CARGO_BIN_EXE_meridian");

/// Unbound's `module-config` and trust anchor line: validating from `dir`'s root key when
/// the lab is signed (`Some(dir)`), not validating otherwise.
pub fn unbound_settings(signed: Option<&Path>) -> (String, String) {
    match signed {
        Some(dir) => (
            "subnetcache validator iterator".into(),
            format!(
                "    trust-anchor-file: \"{}\"\n    val-log-level: 2",
                dir.join("root.anchor").display()
            ),
        ),
        None => ("subnetcache iterator".into(), String::new()),
    }
}

/// Sign the rendered lab in `dir`: Meridian's zones in `zones` get keys and `[dnssec]`
/// tables, the parent the DS records, then BIND's zones are signed bottom up and the root's
/// key is written as the trust anchor (`root.anchor` for Unbound, `delv.anchor` for delv).
pub fn sign(dir: &Path, zones: &Path) {
    let keys = zones.join("keys");
    let mut parent_extra = meridian_zone(zones, &keys, ORIGIN, None).ds;
    meridian_zone(zones, &keys, BOGUS, Some(other_zone(BOGUS)));
    parent_extra += &stray_ds(dir);
    let tampered = meridian_zone(zones, &keys, TAMPERED, Some(other_zone(TAMPERED)));
    parent_extra += &tampered_ds(dir, &tampered.dnskey);
    for zone in [BOGUS, TAMPERED] {
        let _ = writeln!(parent_extra, "{zone}.  IN NS  ns1.{ORIGIN}.");
    }
    append(&dir.join("example.test.zone"), &parent_extra);
    let parent_ds = bind_sign(dir, "example.test", "example.test.zone");
    append(&dir.join("root.zone"), &parent_ds);
    bind_sign(dir, ".", "root.zone");
    let dnskey = root_dnskey(dir);
    std::fs::write(dir.join("root.anchor"), format!(". IN DNSKEY {dnskey}\n")).unwrap();
    let (flags_proto_alg, key) = split_key(&dnskey);
    let delv = format!("trust-anchors {{\n  \".\" static-key {flags_proto_alg} \"{key}\";\n}};\n");
    std::fs::write(dir.join("delv.anchor"), delv).unwrap();
}

/// A zone file for `origin`, served by Meridian with one record, www (its `[dnssec]` table is
/// appended like the other's).
fn other_zone(origin: &str) -> String {
    format!(
        "# Signed by Meridian, but the parent's DS does not vouch for its key: bogus.\n\
         origin = \"{origin}.\"\nttl = 60\nns = [\"ns1.{ORIGIN}.\"]\n\n\
         [soa]\nmname = \"ns1.{ORIGIN}.\"\nrname = \"hostmaster\"\nserial = 1\nminimum = 3\n\n\
         [records.www]\nA = \"192.0.2.90\"\n"
    )
}

/// What `meridian dnssec ds` printed for a zone: the DS lines and the DNSKEY lines.
struct Printed {
    ds: String,
    dnskey: String,
}

/// Give Meridian's zone `origin` a key (`meridian dnssec keygen`) and a `[dnssec]` table
/// (writing the zone file first when `text` is given); what `meridian dnssec ds` prints.
fn meridian_zone(zones: &Path, keys: &Path, origin: &str, text: Option<String>) -> Printed {
    let file = zones.join(format!("{origin}.toml"));
    if let Some(text) = &text {
        std::fs::write(&file, text).unwrap();
    }
    let keygen = run(Command::new(MERIDIAN_BIN)
        .args(["dnssec", "keygen", "--zone", origin, "--dir"])
        .arg(keys));
    assert!(keys.join(format!("{origin}.csk.pem")).exists(), "{keygen}");
    append(
        &file,
        &format!("\n[dnssec]\ncsk = \"keys/{origin}.csk.pem\"\n"),
    );
    let out = run(Command::new(MERIDIAN_BIN)
        .args(["dnssec", "ds", origin, "--zones"])
        .arg(zones));
    let of_type = |rtype: &str| -> String {
        out.lines()
            .filter(|l| l.split_whitespace().any(|t| t == rtype))
            .fold(String::new(), |mut all, l| {
                let _ = writeln!(all, "{l}");
                all
            })
    };
    let printed = Printed {
        ds: of_type("DS"),
        dnskey: of_type("DNSKEY"),
    };
    assert!(
        !printed.ds.is_empty() && !printed.dnskey.is_empty(),
        "`meridian dnssec ds {origin}` printed no DS or DNSKEY:\n{out}"
    );
    printed
}

/// The DS (by `dnssec-dsfromkey`) of the first `dnskey` line with the first character of its
/// public key changed (the top bits of its first byte).
fn tampered_ds(dir: &Path, dnskey: &str) -> String {
    let words: Vec<&str> = dnskey.lines().next().unwrap().split_whitespace().collect();
    let at = words.iter().position(|w| *w == "DNSKEY").unwrap() + 4;
    let mut key = words[at].to_string();
    let first = if key.starts_with('A') { "B" } else { "A" };
    key.replace_range(..1, first);
    let tampered = [&words[..at], &[key.as_str()], &words[at + 1..]]
        .concat()
        .join(" ");
    let file = dir.join("tampered.dnskey");
    std::fs::write(&file, format!("{tampered}\n")).unwrap();
    run(Command::new(tool("dnssec-dsfromkey"))
        .args(["-2", "-f"])
        .arg(&file)
        .arg(TAMPERED))
}

/// The DS of a key made for bad.example.test that Meridian never sees.
fn stray_ds(dir: &Path) -> String {
    let stray = dir.join("stray");
    std::fs::create_dir_all(&stray).unwrap();
    let name = run(Command::new(tool("dnssec-keygen"))
        .args(["-q", "-a", "ECDSAP256SHA256", "-f", "KSK", "-K"])
        .arg(&stray)
        .arg(BOGUS));
    let key = stray.join(format!("{}.key", name.trim()));
    run(Command::new(tool("dnssec-dsfromkey")).arg("-2").arg(key))
}

/// Sign BIND's zone `origin` in place with a new key; its DS set, for the zone above.
fn bind_sign(dir: &Path, origin: &str, file: &str) -> String {
    let keys = dir.join("bind-keys");
    std::fs::create_dir_all(&keys).unwrap();
    run(Command::new(tool("dnssec-keygen"))
        .args(["-q", "-a", "ECDSAP256SHA256", "-f", "KSK", "-K"])
        .arg(&keys)
        .arg(origin));
    let signed = format!("{file}.signed");
    run(Command::new(tool("dnssec-signzone"))
        .args(["-q", "-S", "-z", "-K"])
        .arg(&keys)
        .arg("-d")
        .arg(dir)
        .args(["-o", origin, "-f", &signed, file])
        .current_dir(dir));
    std::fs::rename(dir.join(&signed), dir.join(file)).unwrap();
    let dsset = if origin == "." {
        "dsset-.".to_string()
    } else {
        format!("dsset-{origin}.")
    };
    std::fs::read_to_string(dir.join(dsset)).unwrap_or_default()
}

/// The root key's DNSKEY rdata ("257 3 13 <base64>") from its BIND key file.
fn root_dnskey(dir: &Path) -> String {
    let keys = dir.join("bind-keys");
    let file = std::fs::read_dir(&keys)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            name.starts_with("K.+") && p.extension().is_some_and(|e| e == "key")
        })
        .expect("the root's key file");
    let text = std::fs::read_to_string(file).unwrap();
    let line = text
        .lines()
        .find(|l| !l.starts_with(';') && l.contains("DNSKEY"))
        .expect("a DNSKEY line");
    let rdata = line.split_once("DNSKEY").unwrap().1;
    rdata.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// "257 3 13 AAAA BBBB" as ("257 3 13", "AAAABBBB").
fn split_key(dnskey: &str) -> (String, String) {
    let parts: Vec<&str> = dnskey.split_whitespace().collect();
    (parts[..3].join(" "), parts[3..].concat())
}

fn append(file: &Path, text: &str) {
    let mut old = std::fs::read_to_string(file).unwrap();
    old.push('\n');
    old.push_str(text);
    std::fs::write(file, old).unwrap();
}

fn tool(name: &str) -> PathBuf {
    find_tool(name).unwrap_or_else(|| PathBuf::from(name))
}

/// Run to success; its stdout.
fn run(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `delv @resolver -a anchor name type`: whether delv reports the answer fully validated,
/// with its output.
pub fn delv(dir: &Path, name: &str, qtype: &str) -> (bool, String) {
    let out = Command::new(tool("delv"))
        .arg(format!("@{RESOLVER}"))
        .arg("-a")
        .arg(dir.join("delv.anchor"))
        .args(["+root=.", name, qtype])
        .output()
        .expect("delv runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text.contains("; fully validated"), text)
}
