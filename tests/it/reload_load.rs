//! Reloads under a steady query load: good and broken zone files alternate while a client
//! keeps querying; no query may be lost or answered from a half-loaded configuration.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::net::UdpSocket;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_query_is_lost_or_half_answered_during_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string("tests/fixtures/good/example.test.toml").unwrap();
    let zone = dir.path().join("example.test.toml");
    std::fs::write(&zone, &base).unwrap();
    let s = start(dir.path().to_str().unwrap()).await;
    let server = s.udp_addrs[0];
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, bad) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let client = {
        let (stop, sent, bad) = (stop.clone(), sent.clone(), bad.clone());
        tokio::spawn(async move {
            let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let q = query("www.example.test.", RecordType::A).to_vec().unwrap();
            let mut buf = vec![0u8; 4096];
            while !stop.load(Ordering::SeqCst) {
                socket.send_to(&q, server).await.unwrap();
                sent.fetch_add(1, Ordering::SeqCst);
                let got =
                    tokio::time::timeout(Duration::from_secs(1), socket.recv_from(&mut buf)).await;
                let ok = match got {
                    Ok(Ok((len, _))) => Message::from_vec(&buf[..len]).is_ok_and(|m| {
                        m.metadata.response_code == ResponseCode::NoError && m.answers.len() == 2
                    }),
                    _ => false,
                };
                if !ok {
                    bad.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };
    for i in 0..20 {
        let text = if i % 2 == 0 {
            format!("{base}\n[records.r{i}]\nA = \"192.0.2.{i}\"\n")
        } else {
            format!("{base}\n[records.r{i}]\nA = \"not an address\"\n")
        };
        std::fs::write(&zone, text).unwrap();
        let shared = s.shared.clone();
        let result = tokio::task::spawn_blocking(move || shared.reload())
            .await
            .unwrap();
        assert_eq!(result.is_ok(), i % 2 == 0, "reload {i}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::SeqCst);
    client.await.unwrap();
    let (sent, bad) = (sent.load(Ordering::SeqCst), bad.load(Ordering::SeqCst));
    println!("{sent} queries during 20 reloads, {bad} lost or wrong");
    assert!(sent > 100, "the load was real: {sent}");
    assert_eq!(bad, 0);
    assert_eq!(
        s.generation(),
        11,
        "ten good reloads on top of generation 1"
    );
}
