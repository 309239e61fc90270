//! Rollovers on loopback: a pre-published ZSK, then the switch to it (answers still validate
//! with the DNSKEY set a resolver cached before); a published KSK in DNSKEY and CDS, then the
//! switch (the new DNSKEY set validates with the old cached one).

use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData};
use hickory_proto::rr::{RData, RecordType};
use meridian::dnssec::Algorithm;

use super::{ask, verify, write_key};
use crate::support::dns::start;

const ZONE: &str = "origin = \"roll.test.\"\nns = [\"ns1\"]\n[soa]\nmname = \"ns1\"\nrname = \"hostmaster\"\nserial = 1\n[records.ns1]\nA = \"192.0.2.1\"\n[records.www]\nA = \"192.0.2.2\"\n";

fn keys_of(m: &hickory_proto::op::Message) -> Vec<DNSKEY> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some(k.clone()),
            _ => None,
        })
        .collect()
}

fn signer_tag(m: &hickory_proto::op::Message) -> u16 {
    m.answers
        .iter()
        .find_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(s)) => Some(s.input().key_tag),
            _ => None,
        })
        .unwrap()
}

#[tokio::test]
async fn zsk_pre_publish_and_ksk_rollover_keep_validating() {
    let dir = tempfile::tempdir().unwrap();
    let alg = Algorithm::EcdsaP256Sha256;
    let ksk_a = write_key(dir.path(), "roll.test-a", alg, "ksk");
    let zsk_a = write_key(dir.path(), "roll.test-a", alg, "zsk");
    let zsk_b = write_key(dir.path(), "roll.test-b", alg, "zsk");
    let ksk_c = write_key(dir.path(), "roll.test-c", alg, "ksk");
    let zone_file = dir.path().join("roll.test.toml");
    let write = |table: String| {
        std::fs::write(&zone_file, format!("{ZONE}[dnssec]\ncds = true\n{table}")).unwrap();
    };
    let www = ask("www.roll.test.", RecordType::A, true, false, None);
    let dnskey = ask("roll.test.", RecordType::DNSKEY, true, false, None);
    let cds = ask("roll.test.", RecordType::CDS, true, false, None);

    // 1. ZSK B pre-published: three keys, answers signed by ZSK A, CDS for KSK A only.
    write(format!(
        "ksk = \"{ksk_a}\"\nzsk = \"{zsk_a}\"\npublish_zsk = [\"{zsk_b}\"]\n"
    ));
    let server = start(dir.path().to_str().unwrap()).await;
    let set1 = over_udp_at(&server, &dnskey).await;
    let cached = keys_of(&set1);
    assert_eq!(cached.len(), 3);
    verify(&[&set1.answers], &cached);
    let before = over_udp_at(&server, &www).await;
    verify(&[&before.answers], &cached);
    assert_eq!(
        over_udp_at(&server, &cds)
            .await
            .answers
            .iter()
            .filter(|r| r.record_type() == RecordType::CDS)
            .count(),
        1
    );

    // 2. Switch to ZSK B: a resolver holding the old DNSKEY set still validates.
    write(format!(
        "ksk = \"{ksk_a}\"\nzsk = \"{zsk_b}\"\npublish_zsk = [\"{zsk_a}\"]\n"
    ));
    server.reload().unwrap();
    let after = over_udp_at(&server, &www).await;
    assert_ne!(signer_tag(&after), signer_tag(&before));
    verify(&[&after.answers], &cached);

    // 3. KSK C published: in DNSKEY and CDS (the parent gets its DS), the set signed by A.
    write(format!(
        "ksk = \"{ksk_a}\"\nzsk = \"{zsk_b}\"\npublish_ksk = [\"{ksk_c}\"]\n"
    ));
    server.reload().unwrap();
    let set3 = over_udp_at(&server, &dnskey).await;
    let cached = keys_of(&set3);
    assert_eq!(cached.len(), 3);
    let cds3 = over_udp_at(&server, &cds).await;
    assert_eq!(
        cds3.answers
            .iter()
            .filter(|r| r.record_type() == RecordType::CDS)
            .count(),
        2
    );
    verify(&[&cds3.answers], &cached);

    // 4. Switch to KSK C: the new DNSKEY set validates with the one cached in step 3.
    write(format!("ksk = \"{ksk_c}\"\nzsk = \"{zsk_b}\"\n"));
    server.reload().unwrap();
    let set4 = over_udp_at(&server, &dnskey).await;
    assert_eq!(keys_of(&set4).len(), 2);
    verify(&[&set4.answers], &cached);
    verify(
        &[&over_udp_at(&server, &www).await.answers],
        &keys_of(&set4),
    );
    server.shutdown().await;
}

async fn over_udp_at(
    server: &meridian::app::Running,
    m: &hickory_proto::op::Message,
) -> hickory_proto::op::Message {
    crate::support::dns::udp(server.udp_addrs[0], m).await
}
