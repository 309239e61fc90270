//! Fuzz `Handler::handle` with raw packets over UDP and TCP: a reply or silence, never a panic, and every reply obeys the oracle.
#![no_main]

use std::net::IpAddr;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use meridian::dns::{Handler, Transport};
use meridian_fuzz::fixture::{self, MAX_UDP};
use meridian_fuzz::oracle;

/// One handler per health state, unsigned and signed, built once per process.
static HANDLERS: LazyLock<Vec<Handler>> = LazyLock::new(|| {
    let root = fixture::repo_root(env!("CARGO_MANIFEST_DIR"));
    fixture::handlers(&root)
});

fuzz_target!(|data: &[u8]| {
    // The first byte picks the health state, signed zones or not, transport and source; the
    // rest is the packet.
    let Some((&selector, packet)) = data.split_first() else {
        return;
    };
    let handler = &HANDLERS[fixture::pick(selector)];
    let transport = if selector & 0x10 == 0 {
        Transport::Udp
    } else {
        Transport::Tcp
    };
    let src: IpAddr = if selector & 0x20 == 0 {
        [198, 51, 100, 7].into()
    } else {
        "2001:db8:2::1".parse().unwrap()
    };
    let reply = handler.handle(packet, src, transport);
    if let Err(rule) = oracle::check(packet, transport, MAX_UDP, reply.as_deref()) {
        panic!("{rule}");
    }
});
