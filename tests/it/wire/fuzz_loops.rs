//! Bounded, seeded mutation fuzzing on stable Rust (the cargo-fuzz targets' properties in CI): packets into `Handler::handle`, texts into `compile_zone`.

use std::net::IpAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::{Name, RecordType};
use meridian::config::compile::compile_zone;
use meridian::dns::{Handler, Transport};
use meridian::zone::ZoneSet;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::fixture::{self, MAX_UDP, NAMES};
use super::oracle;

/// Iterations per loop, and a wall-clock cap so a slow machine stays fast.
const PACKETS: usize = 60_000;
const ZONE_TEXTS: usize = 5_000;
const BUDGET: Duration = Duration::from_secs(6);

fn root() -> std::path::PathBuf {
    fixture::repo_root(env!("CARGO_MANIFEST_DIR"))
}

/// Well-formed queries for every fixture name, several types, with and without EDNS/ECS.
fn seed_packets() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    let types = [
        RecordType::A,
        RecordType::AAAA,
        RecordType::TXT,
        RecordType::ANY,
    ];
    let subnets = [None, Some("198.51.100.0/24"), Some("2001:db8:2::/48")];
    for (i, name) in NAMES.iter().enumerate() {
        let qtype = types[i % types.len()];
        let mut m = Message::new(i as u16, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
        seeds.push(m.to_vec().unwrap());
        let mut edns = Edns::new();
        edns.set_max_payload(if i % 2 == 0 { 1232 } else { 512 });
        // DO=1 on some (signed answers and compact denial when the signed handler is
        // picked), with the CO flag on some of those.
        edns.set_dnssec_ok(i % 3 != 1);
        if i % 3 == 2 {
            edns.flags_mut().z = 0x4000;
        }
        if let Some(s) = subnets[i % subnets.len()] {
            let ecs: ClientSubnet = s.parse().unwrap();
            edns.options_mut().insert(EdnsOption::Subnet(ecs));
        }
        m.set_edns(edns);
        seeds.push(m.to_vec().unwrap());
    }
    seeds
}

const INTERESTING: [u8; 8] = [0, 1, 0x20, 0x3f, 0x40, 0x7f, 0xc0, 0xff];

/// One to four byte-level mutations: flips, interesting bytes, inserts, deletes, splices.
fn mutate(rng: &mut StdRng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let len = out.len();
        let at = if len == 0 {
            0
        } else {
            rng.random_range(0..len)
        };
        match rng.random_range(0..7) {
            0 if len > 0 => out[at] ^= 1 << rng.random_range(0..8),
            1 if len > 0 => out[at] = INTERESTING[rng.random_range(0..INTERESTING.len())],
            2 => out.insert(at, rng.random()),
            3 if len > 0 => {
                let end = (at + rng.random_range(1..=8)).min(len);
                out.drain(at..end);
            }
            4 => out.truncate(at),
            5 if !other.is_empty() => {
                let from = rng.random_range(0..other.len());
                let end = (from + rng.random_range(1..=16)).min(other.len());
                out.splice(at..at, other[from..end].iter().copied());
            }
            _ if len > 1 => {
                let b = rng.random_range(0..len);
                out.swap(at, b);
            }
            _ => out.push(rng.random()),
        }
    }
    out
}

/// Run `f`, turning a panic into an error that shows the input.
fn no_panic(what: &str, input: &[u8], f: impl FnOnce() -> Result<(), String>) {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => {}
        Ok(Err(rule)) => panic!("{what}: {rule}\ninput: {input:02x?}"),
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("a non-string panic");
            panic!("{what} panicked: {message}\ninput: {input:02x?}")
        }
    }
}

/// Checks one packet against the oracle; the reply's rcode (`None` for silence) and whether
/// it carried an RRSIG.
fn check_packet(handlers: &[Handler], packet: &[u8], pick: u8) -> (Option<u8>, bool) {
    let handler = &handlers[fixture::pick(pick)];
    let transport = if pick & 0x10 == 0 {
        Transport::Udp
    } else {
        Transport::Tcp
    };
    let src: IpAddr = if pick & 0x20 == 0 {
        [198, 51, 100, 7].into()
    } else {
        "2001:db8:2::1".parse().unwrap()
    };
    let mut rcode = None;
    let mut signed = false;
    no_panic("Handler::handle", packet, || {
        let reply = handler.handle(packet, src, transport);
        rcode = reply.as_ref().map(|r| r[3] & 0xf);
        signed = reply
            .as_deref()
            .and_then(|r| Message::from_vec(r).ok())
            .is_some_and(|m| {
                m.answers
                    .iter()
                    .chain(&m.authorities)
                    .any(|r| r.record_type() == RecordType::RRSIG)
            });
        oracle::check(packet, transport, MAX_UDP, reply.as_deref())
    });
    (rcode, signed)
}

fn handlers() -> Vec<Handler> {
    fixture::handlers(&root())
}

#[test]
fn mutated_packets_get_a_valid_reply_or_silence() {
    let handlers = handlers();
    let seeds = seed_packets();
    let mut rng = StdRng::seed_from_u64(0x6d65_7269_6469_616e);
    let start = Instant::now();
    let mut runs = 0;
    let mut corpus = seeds.clone();
    let mut rcodes = [0usize; 17];
    let mut signed = 0;
    while runs < PACKETS && start.elapsed() < BUDGET {
        let input = &corpus[rng.random_range(0..corpus.len())];
        let other = &seeds[rng.random_range(0..seeds.len())];
        let packet = mutate(&mut rng, input, other);
        let (rcode, rrsig) = check_packet(&handlers, &packet, rng.random());
        signed += usize::from(rrsig);
        rcodes[rcode.map_or(16, usize::from)] += 1;
        // Mutants that still got an ordinary answer become parents: stacked mutations
        // then explore deep inside well-formed queries.
        if corpus.len() < 4096 && matches!(rcode, Some(0 | 3)) && rng.random_bool(0.1) {
            corpus.push(packet);
        }
        runs += 1;
    }
    println!("{runs} mutated packets in {:?}", start.elapsed());
    println!("  by rcode (index 16 = silence): {rcodes:?}; {signed} signed replies");
    let answered = rcodes[0] + rcodes[3];
    assert!(
        answered > runs / 20,
        "too few mutants got past parsing: {rcodes:?}"
    );
    assert!(
        signed > runs / 500,
        "too few mutants reached the signed path: {signed} of {runs}"
    );
}

/// Seed texts: every zone file in the repository's fixtures and examples.
fn seed_zones() -> Vec<String> {
    let root = root();
    let mut texts = Vec::new();
    for dir in [
        "tests/fixtures/good",
        "tests/fixtures/bad",
        "zones",
        "deploy/zones",
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
        paths.sort();
        for path in paths
            .iter()
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        {
            texts.push(std::fs::read_to_string(path).unwrap());
        }
    }
    let steer = std::fs::read_to_string(root.join("tests/fixtures/steer.toml")).unwrap();
    // A geo service with a CIDR map file, so the map parser is fuzzed too.
    texts.push(steer.replace(
        "[services.geo.geo]",
        "[services.geo.geo]\ncidr_file = \"geo.cidr\"",
    ));
    texts.push(steer);
    texts
}

const TOKENS: [&str; 16] = [
    "-1",
    "0",
    "4294967296",
    "9223372036854775807",
    "1e400",
    "nan",
    "\"\"",
    "\"*\"",
    "\"@\"",
    "\"..\"",
    "[]",
    "{}",
    "\"0.0.0.0/0\"",
    "\"::/0\"",
    "\"999.1.1.1\"",
    "\"a\\u0000b\"",
];

/// Line and token mutations that keep most of the TOML shape, so compilation goes deep.
fn mutate_text(rng: &mut StdRng, text: &str, other: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let donors: Vec<&str> = other.lines().collect();
    for _ in 0..rng.random_range(1..=3) {
        if lines.is_empty() {
            lines.push(String::new());
        }
        let at = rng.random_range(0..lines.len());
        match rng.random_range(0..6) {
            0 => {
                lines.remove(at);
            }
            1 => lines.insert(at, lines[at].clone()),
            2 if !donors.is_empty() => {
                lines.insert(at, donors[rng.random_range(0..donors.len())].to_string());
            }
            3 => {
                // Replace a value after `=` (or inside an array) with an edge token.
                let token = TOKENS[rng.random_range(0..TOKENS.len())];
                if let Some(eq) = lines[at].find('=') {
                    lines[at] = format!("{}= {token}", &lines[at][..eq]);
                }
            }
            _ => {
                let bytes = mutate(rng, lines[at].as_bytes(), other.as_bytes());
                lines[at] = String::from_utf8_lossy(&bytes).into_owned();
            }
        }
    }
    lines.join("\n")
}

/// Compile `text`; a zone that compiles must also answer lookups of its names. True if
/// it compiled.
fn check_zone(text: &str, aux: &str) -> bool {
    let mut compiled = false;
    no_panic("compile_zone", text.as_bytes(), || {
        let mut read = |_: &str| Ok(aux.to_string());
        if let Ok(zone) = compile_zone(Path::new("fuzz.toml"), text, &mut read) {
            compiled = true;
            let zones = ZoneSet::new([zone]);
            let _ = zones.targets();
            for zone in zones.iter() {
                for name in zone.names() {
                    let _ = zone.lookup(name, false);
                }
            }
        }
        Ok(())
    });
    compiled
}

#[test]
fn mutated_zone_files_compile_or_fail_without_panicking() {
    let seeds = seed_zones();
    assert!(seeds.len() >= 8, "seed zone files found: {}", seeds.len());
    let aux_seed = "203.0.113.0/24 web-ap,web-us\n2001:db8::/32 web-eu\n# comment\n";
    let mut rng = StdRng::seed_from_u64(0x7a6f_6e65);
    let start = Instant::now();
    let (mut runs, mut compiled) = (0, 0);
    while runs < ZONE_TEXTS && start.elapsed() < BUDGET {
        let text = &seeds[rng.random_range(0..seeds.len())];
        let other = &seeds[rng.random_range(0..seeds.len())];
        let mutated = mutate_text(&mut rng, text, other);
        let aux_bytes = mutate(&mut rng, aux_seed.as_bytes(), b"10.0.0.0/8 x\n::/0 y\n");
        compiled += usize::from(check_zone(&mutated, &String::from_utf8_lossy(&aux_bytes)));
        runs += 1;
    }
    println!(
        "{runs} mutated zone files in {:?}, {compiled} compiled",
        start.elapsed()
    );
    assert!(
        compiled > runs / 20,
        "mutants too broken to reach compilation"
    );
}
