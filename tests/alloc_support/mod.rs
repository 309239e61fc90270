//! For the allocation tests (two harnesses of their own, since a global allocator is per
//! binary and only one of them installs the metrics recorder): a global allocator that counts the calling thread's
//! allocations, and every kind of question the reference zone answers, asked through
//! `Handler::parse` and `Handler::respond` as the UDP socket loop asks.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use hickory_proto::rr::RecordType;
use meridian::dns::memo::Memo;
use meridian::dns::view::View;
use meridian::dns::{Handler, Snapshots, Transport};
use meridian::geo::GeoDb;
use meridian::zone::key::WireKey;

use super::dns::{query, with_edns};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note_allocation() {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every call is passed to the system allocator unchanged; counting touches only a
// const-initialised thread-local cell, which does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: the caller's contract for `alloc` is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

pub fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

pub fn packet(name: &str, qtype: RecordType, ecs: Option<&str>) -> Vec<u8> {
    with_edns(query(name, qtype), 1232, ecs).to_vec().unwrap()
}

/// Every kind of answer the reference zone gives: static, CNAME, wildcard, referral, NODATA,
/// NXDOMAIN, REFUSED, and each policy, with client subnets from several continents.
pub fn questions(subnets: &[&str]) -> Vec<Vec<u8>> {
    let zone = "gslb.example.com.";
    let mut out = vec![
        packet(&format!("www.{zone}"), RecordType::A, None),
        packet(&format!("www.{zone}"), RecordType::AAAA, None),
        packet(&format!("www.{zone}"), RecordType::MX, None),
        packet(zone, RecordType::SOA, None),
        packet(zone, RecordType::NS, None),
        packet(&format!("x1.apps.{zone}"), RecordType::A, None),
        packet(&format!("host.legacy.{zone}"), RecordType::A, None),
        packet(&format!("nope.{zone}"), RecordType::A, None),
        packet(&format!("b.deep.{zone}"), RecordType::A, None),
        packet("www.example.org.", RecordType::A, None),
        packet(&format!("login.{zone}"), RecordType::A, None),
        packet(&format!("api.{zone}"), RecordType::A, None),
        packet(&format!("static.{zone}"), RecordType::A, None),
    ];
    for subnet in subnets {
        for service in ["geo", "near", "fast"] {
            out.push(packet(
                &format!("{service}.{zone}"),
                RecordType::A,
                Some(subnet),
            ));
        }
    }
    out
}

/// Client subnets from every continent and both families, for the default database.
pub const COUNTRY_SUBNETS: [&str; 6] = [
    "81.2.69.0/24",
    "8.8.8.0/24",
    "1.0.16.0/24",
    "203.0.113.0/26",
    "2001:4860::/48",
    "2a02:2e0::/32",
];

/// Subnets of `geoip/test-city.mmdb` networks that have subdivisions (City layout).
pub const CITY_SUBNETS: [&str; 5] = [
    "192.0.2.0/26",
    "192.0.2.128/26",
    "198.51.100.64/26",
    "203.0.113.128/26",
    "198.18.0.0/24",
];

/// The zones in `zones` and the GeoIP database at `geoip` behind a handler, once the
/// database's network tables are built (lookups walk its tree until then).
pub fn handler(zones: &str, geoip: &str) -> Handler {
    let zones = meridian::config::load_zones(std::path::Path::new(zones)).unwrap();
    let geo = Arc::new(GeoDb::open(geoip, None).unwrap());
    let snapshots = Snapshots::fixed(zones, geo.clone(), 10_000);
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(2);
    while geo.table_bytes() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{geoip}: tables not built"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Handler::new(snapshots, 1232)
}

/// Answers questions as one UDP socket thread does, with its view, memo and reply buffer.
pub struct Thread<'h> {
    handler: &'h Handler,
    view: View<'h>,
    memo: Memo,
    out: Vec<u8>,
}

impl<'h> Thread<'h> {
    pub fn new(handler: &'h Handler) -> Self {
        Self {
            handler,
            view: handler.view(),
            memo: Memo::default(),
            out: Vec::with_capacity(4096),
        }
    }

    /// Whether `q` got a reply.
    pub fn ask(&mut self, q: &[u8]) -> bool {
        let src = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let mut key = WireKey::empty();
        let parsed = Handler::parse(q, &mut key);
        let loaded = self.view.load();
        self.handler.respond(
            loaded,
            &parsed,
            src,
            Transport::Udp,
            &mut self.out,
            Some(&mut self.memo),
        )
    }

    /// Every question `rounds` times, flushing the metric tallies after each round as
    /// the socket loop does after each batch.
    pub fn rounds(&mut self, questions: &[Vec<u8>], rounds: usize) -> usize {
        let mut replies = 0;
        for _ in 0..rounds {
            for q in questions {
                replies += usize::from(self.ask(q));
            }
            meridian::metrics::flush();
        }
        replies
    }
}
