//! Abuse resistance over real sockets: response rate limiting with slip, and TCP caps per
//! client, per connection and per connection lifetime.

use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use tokio::net::{TcpSocket, TcpStream, UdpSocket};

use crate::support::*;

const GOOD: &str = "tests/fixtures/good";

#[tokio::test]
async fn rrl_limits_a_network_and_slips_truncated_replies() {
    let s = start_with(GOOD, |c| {
        c.rrl_responses_per_second = 5;
        c.rrl_burst = 5;
        c.rrl_slip = 2;
    })
    .await;
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let q = query("www.example.test.", RecordType::A).to_vec().unwrap();
    for _ in 0..20 {
        socket.send_to(&q, s.udp_addrs[0]).await.unwrap();
    }
    let (mut full, mut truncated) = (0, 0);
    let mut buf = vec![0u8; 4096];
    while let Ok(Ok((len, _))) =
        tokio::time::timeout(Duration::from_millis(300), socket.recv_from(&mut buf)).await
    {
        let m = Message::from_vec(&buf[..len]).unwrap();
        if m.metadata.truncation {
            assert!(m.answers.is_empty());
            truncated += 1;
        } else {
            full += 1;
        }
    }
    assert!(
        (5..=6).contains(&full),
        "{full} full answers within the burst"
    );
    assert!(
        truncated >= 6,
        "about every second limited reply slips: {truncated}"
    );
    assert!(full + truncated < 20, "the rest are dropped");
    // TCP is never limited: that is where slipped clients go.
    let reply = tcp(s.tcp_addrs[0], &query("www.example.test.", RecordType::A)).await;
    assert_eq!(reply.answers.len(), 2);
}

async fn connect_from(ip: &str, server: std::net::SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{ip}:0").parse().unwrap()).unwrap();
    socket.connect(server).await.unwrap()
}

async fn answered(stream: &mut TcpStream) -> bool {
    tcp_send(
        stream,
        &query("www.example.test.", RecordType::A).to_vec().unwrap(),
    )
    .await;
    tcp_recv(stream).await.is_some()
}

#[tokio::test]
async fn tcp_caps_per_client_and_per_connection() {
    let s = start_with(GOOD, |c| {
        c.tcp_max_connections_per_client = 2;
        c.tcp_max_queries_per_connection = 3;
    })
    .await;
    let server = s.tcp_addrs[0];
    let mut a = connect_from("127.0.0.61", server).await;
    let mut b = connect_from("127.0.0.61", server).await;
    assert!(answered(&mut a).await && answered(&mut b).await);
    let mut c = connect_from("127.0.0.61", server).await;
    assert!(
        !answered(&mut c).await,
        "a third connection from one client is closed"
    );
    let mut other = connect_from("127.0.0.62", server).await;
    assert!(answered(&mut other).await, "another client is not affected");
    assert!(answered(&mut a).await && answered(&mut a).await);
    assert!(
        !answered(&mut a).await,
        "the fourth query on a connection is not answered"
    );
}

#[tokio::test]
async fn tcp_connections_have_a_bounded_life() {
    let s = start_with(GOOD, |c| {
        c.tcp_max_connection_secs = 1;
        c.tcp_idle_timeout_secs = 10;
    })
    .await;
    let mut stream = TcpStream::connect(s.tcp_addrs[0]).await.unwrap();
    assert!(answered(&mut stream).await);
    let start = std::time::Instant::now();
    // Keep the connection busy; it must still be closed after about a second.
    while answered(&mut stream).await {
        assert!(
            start.elapsed() < Duration::from_secs(4),
            "connection outlived its limit"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(start.elapsed() >= Duration::from_millis(700));
}
