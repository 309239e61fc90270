//! Replies are never fragmented: in a private network namespace whose loopback has an MTU
//! of 1280, a UDP reply that would need fragments arrives as an empty TC=1 reply (the
//! client then asks over TCP), and replies that fit arrive whole.
//!
//! Needs CAP_SYS_ADMIN for `unshare(CLONE_NEWNET)` (CI runs as root); skipped otherwise,
//! failed under `CI=true`. Only this test's thread, and the threads it starts, enter the
//! namespace.

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use crate::support::{netns, query, skip, start_with, tcp, udp_raw, with_edns};

const GOOD: &str = "tests/fixtures/good";
const MTU: i32 = 1280;

#[test]
fn a_reply_larger_than_the_mtu_is_sent_truncated_not_fragmented() {
    if let Err(e) = netns::enter() {
        return skip(&format!(
            "no private network namespace ({e}): needs root or CAP_SYS_ADMIN"
        ));
    }
    netns::loopback_up(Some(MTU)).expect("loopback up with MTU 1280");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let s = start_with(GOOD, |c| c.max_udp_payload = 4096).await;
        let server = s.udp_addrs[0];
        // 1600 bytes of TXT with a 4096-byte client payload: fits the payload, not the MTU.
        let q = with_edns(query("huge.example.test.", RecordType::TXT), 4096, None);
        let raw = udp_raw(server, &q.to_vec().unwrap())
            .await
            .expect("a reply");
        let reply = Message::from_vec(&raw).unwrap();
        assert!(reply.metadata.truncation, "TC=1 instead of fragments");
        assert!(reply.answers.is_empty());
        assert_eq!(reply.queries.len(), 1, "the question is kept");
        assert!(raw.len() < 100);
        // TCP carries the whole answer.
        let reply = tcp(s.tcp_addrs[0], &q).await;
        assert!(!reply.metadata.truncation);
        assert_eq!(reply.answers.len(), 1);
        // Six 100-byte TXT records fit the MTU and arrive whole over UDP.
        let q = with_edns(query("big.example.test.", RecordType::TXT), 4096, None);
        let raw = udp_raw(server, &q.to_vec().unwrap())
            .await
            .expect("a reply");
        let reply = Message::from_vec(&raw).unwrap();
        assert!(!reply.metadata.truncation);
        assert_eq!(reply.answers.len(), 6);
        assert!(raw.len() > 600 && raw.len() <= MTU as usize - 28);
    });
}
