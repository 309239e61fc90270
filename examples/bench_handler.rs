//! Time the handler in-process (no sockets), as the UDP loop calls it: a rough per-query CPU cost of parsing,
//! resolving and encoding, for comparing before and after a change. `cargo run --release
//! --example bench_handler [static|nxdomain|geo+ecs|weighted] [count]`, or
//! `bench_handler replay bench/out/geo.bin [count] [zones dir]` for the benchmark's own
//! queries (`replay bench/out/geo-do1.bin 1000000 bench/out/dnssec/zones`: signed, after
//! `bench/dnssec.sh` prepared them).

use std::sync::Arc;
use std::time::Instant;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::{Name, RecordType};
use meridian::dns::memo::Memo;
use meridian::dns::view::View;
use meridian::dns::{Handler, Snapshots, Transport};
use meridian::geo::GeoDb;
use meridian::zone::key::WireKey;

/// One query answered as the UDP loop answers it: parse, then reply from the thread's view
/// and remembered static replies.
#[inline(never)]
fn one(handler: &Handler, thread: &mut (View<'_>, Memo), packet: &[u8], out: &mut Vec<u8>) -> bool {
    let src = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    let mut key = WireKey::empty();
    let parsed = Handler::parse(packet, &mut key);
    let (view, memo) = thread;
    handler.respond(view.load(), &parsed, src, Transport::Udp, out, Some(memo))
}

fn packet(name: &str, qtype: RecordType, ecs: Option<&str>) -> Vec<u8> {
    let mut m = Message::new(7, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    if let Some(e) = ecs {
        let s: ClientSubnet = e.parse().unwrap();
        edns.options_mut().insert(EdnsOption::Subnet(s));
    }
    m.set_edns(edns);
    m.to_vec().unwrap()
}

/// The messages of a dnsperf `-B` file (each a 2-byte big-endian length, then the message).
fn messages(path: &str) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut rest = &bytes[..];
    while let [a, b, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*a, *b])).min(tail.len());
        out.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    out
}

/// `bench_handler replay bench/out/geo.bin [count] [zones dir]`: the benchmark's own queries
/// against the benchmark's zone (or the zones in `zones`) and database (run `bench/run.sh`
/// once first), cycled. Signatures made in a first pass are published before timing.
fn replay(path: &str, n: usize, zones: &str) {
    let zones = meridian::config::load_zones(std::path::Path::new(zones)).unwrap();
    let geo = GeoDb::open("bench/out/country.mmdb", None).unwrap();
    // Let the GeoIP network tables build (they build on their own thread).
    std::thread::sleep(std::time::Duration::from_millis(500));
    let handler = Handler::new(snapshots(zones, geo), 1232);
    let queries = messages(path);
    let mut thread = (handler.view(), Memo::default());
    let mut out = Vec::with_capacity(512);
    for q in &queries {
        one(&handler, &mut thread, q, &mut out);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32);
    handler.signatures().maintain(now);
    let start = Instant::now();
    for q in queries.iter().cycle().take(n) {
        one(&handler, &mut thread, q, &mut out);
    }
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    println!("{path}: {ns:.0} ns/query over {n} queries");
}

fn snapshots(zones: meridian::zone::ZoneSet, geo: GeoDb) -> Arc<Snapshots> {
    // Default settings: busiest-network tracking on, as a server runs.
    Snapshots::fixed(zones, Arc::new(geo), 10_000)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let only = args.next();
    if only.as_deref() == Some("replay") {
        let path = args.next().unwrap_or_else(|| "bench/out/geo.bin".into());
        let n = args
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or(1_000_000);
        let zones = args.next().unwrap_or_else(|| "bench/zones".into());
        return replay(&path, n, &zones);
    }
    let zones = meridian::config::load_zones(std::path::Path::new("zones")).unwrap();
    let geo = GeoDb::open("geoip/geo-whois-asn-country.mmdb", None).unwrap();
    let handler = Handler::new(snapshots(zones, geo), 1232);
    let cases = [
        (
            "static",
            packet("www.gslb.example.com.", RecordType::A, None),
        ),
        (
            "nxdomain",
            packet("nope.gslb.example.com.", RecordType::A, None),
        ),
        (
            "geo+ecs",
            packet("geo.gslb.example.com.", RecordType::A, Some("81.2.69.0/24")),
        ),
        (
            "weighted",
            packet("api.gslb.example.com.", RecordType::A, None),
        ),
    ];
    let mut thread = (handler.view(), Memo::default());
    // `bench_handler [case] [count]`: one case only (for callgrind), and how many queries.
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(300_000);
    for (label, p) in &cases {
        if only.as_deref().is_some_and(|o| o != *label) {
            continue;
        }
        let start = Instant::now();
        let mut bytes = 0;
        // One reply buffer reused, as the UDP loop does.
        let mut out = Vec::with_capacity(512);
        for _ in 0..n {
            if one(&handler, &mut thread, p, &mut out) {
                bytes += out.len();
            }
        }
        let ns = start.elapsed().as_nanos() as f64 / n as f64;
        println!("{label:10} {ns:8.0} ns/query ({} bytes/reply)", bytes / n);
    }
}
