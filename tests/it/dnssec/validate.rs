//! Property: every signed reply, for many names (existing, missing, wildcard, service,
//! delegated), types and client subnets, validates with hickory-proto's verifier, and every
//! authoritative RRset in it is signed.

use hickory_proto::rr::RecordType;
use meridian::dnssec::Algorithm;

use super::{ask, dnskeys, over_tcp, over_udp, rrsets, verify, world};

const NAMES: [&str; 16] = [
    "example.test.",
    "www.example.test.",
    "mail.example.test.",
    "alias.example.test.",
    "chain.example.test.",
    "b.deep.example.test.",
    "a.b.deep.example.test.",
    "exists.apps.example.test.",
    "_sip._tcp.example.test.",
    "caa.example.test.",
    "steer.test.",
    "geo.steer.test.",
    "fo.steer.test.",
    "api.steer.test.",
    "cdn.steer.test.",
    "big.example.test.",
];
const TYPES: [RecordType; 9] = [
    RecordType::A,
    RecordType::AAAA,
    RecordType::TXT,
    RecordType::MX,
    RecordType::NS,
    RecordType::SOA,
    RecordType::CNAME,
    RecordType::SRV,
    RecordType::CAA,
];
const SUBNETS: [Option<&str>; 5] = [
    None,
    Some("198.51.100.0/24"),
    Some("203.0.113.5/32"),
    Some("8.8.8.0/24"),
    Some("2001:db8::/56"),
];

/// A small deterministic generator (the cases are reproducible from the seed).
struct Lcg(u64);

impl Lcg {
    fn pick(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

#[tokio::test]
async fn every_signed_reply_validates_with_an_independent_verifier() {
    for (seed, algorithm) in [(1, Algorithm::EcdsaP256Sha256), (2, Algorithm::Ed25519)] {
        let w = world(true, algorithm).await;
        let keys = [
            dnskeys(&w, "example.test.").await,
            dnskeys(&w, "steer.test.").await,
        ]
        .concat();
        let mut rng = Lcg(seed);
        for _ in 0..300 {
            let base = NAMES[rng.pick(NAMES.len())];
            let name = match rng.pick(4) {
                0 => format!("r{}.{base}", rng.pick(1_000_000)),
                1 => format!("q{}.apps.example.test.", rng.pick(1000)),
                2 => format!("n{}.sub.example.test.", rng.pick(10)),
                _ => base.to_string(),
            };
            let qtype = TYPES[rng.pick(TYPES.len())];
            let ecs = SUBNETS[rng.pick(SUBNETS.len())];
            let co = rng.pick(2) == 0;
            let m = ask(&name, qtype, true, co, ecs);
            let reply = if rng.pick(3) == 0 {
                over_tcp(&w, &m).await
            } else {
                over_udp(&w, &m).await
            };
            if reply.metadata.truncation {
                continue;
            }
            let signed = verify(
                &[&reply.answers, &reply.authorities, &reply.additionals],
                &keys,
            );
            let referral = !reply.metadata.authoritative;
            for set in rrsets(&reply.answers)
                .into_iter()
                .chain(rrsets(&reply.authorities))
            {
                if referral && set.1 == RecordType::NS {
                    continue;
                }
                assert!(
                    signed.contains(&set),
                    "{name} {qtype} {ecs:?}: {set:?} unsigned: {reply:?}"
                );
            }
        }
    }
}
