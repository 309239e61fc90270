//! The server under test on loopback, and DNS to it: queries built, sent over UDP and TCP, answers read.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::{Name, RData, RecordType};
use meridian::app::{self, Running};
use meridian::config::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

pub const TIMEOUT: Duration = Duration::from_secs(3);

/// Start the server on 127.0.0.1 with an ephemeral port and the given zones directory.
pub async fn start(zones_dir: &str) -> Running {
    start_with(zones_dir, |_| {}).await
}

pub async fn start_with(zones_dir: &str, tweak: impl FnOnce(&mut ServerConfig)) -> Running {
    let mut config = ServerConfig {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        admin_listen: "127.0.0.1:0".parse().unwrap(),
        udp_sockets_per_address: 2,
        zones_dir: PathBuf::from(zones_dir),
        ..ServerConfig::default()
    };
    tweak(&mut config);
    app::start(config).await.expect("server starts")
}

/// A query message for `name`/`qtype` with a fixed ID and RD set.
pub fn query(name: &str, qtype: RecordType) -> Message {
    let mut m = Message::new(0x4d52, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    m
}

/// Add EDNS with `payload`, optionally carrying ECS `subnet` ("192.0.2.0/24").
pub fn with_edns(mut m: Message, payload: u16, subnet: Option<&str>) -> Message {
    let mut edns = Edns::new();
    edns.set_max_payload(payload);
    if let Some(s) = subnet {
        let ecs: ClientSubnet = s.parse().unwrap();
        edns.options_mut().insert(EdnsOption::Subnet(ecs));
    }
    m.set_edns(edns);
    m
}

pub async fn udp_raw(server: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    let bind: SocketAddr = if server.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    }
    .parse()
    .unwrap();
    let socket = UdpSocket::bind(bind).await.unwrap();
    socket.send_to(packet, server).await.unwrap();
    let mut buf = vec![0u8; 65_535];
    match tokio::time::timeout(TIMEOUT, socket.recv_from(&mut buf)).await {
        Ok(Ok((len, _))) => Some(buf[..len].to_vec()),
        _ => None,
    }
}

pub async fn udp(server: SocketAddr, m: &Message) -> Message {
    let reply = udp_raw(server, &m.to_vec().unwrap())
        .await
        .expect("udp reply");
    Message::from_vec(&reply).expect("reply parses")
}

pub async fn tcp_send(stream: &mut TcpStream, packet: &[u8]) {
    let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(packet);
    stream.write_all(&framed).await.unwrap();
}

pub async fn tcp_recv(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let read = async {
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await.ok()?;
        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
        stream.read_exact(&mut buf).await.ok()?;
        Some(buf)
    };
    tokio::time::timeout(TIMEOUT, read).await.ok().flatten()
}

pub async fn tcp(server: SocketAddr, m: &Message) -> Message {
    let mut stream = TcpStream::connect(server).await.unwrap();
    tcp_send(&mut stream, &m.to_vec().unwrap()).await;
    let reply = tcp_recv(&mut stream).await.expect("tcp reply");
    Message::from_vec(&reply).expect("reply parses")
}

/// Both transports, so every behaviour is checked over each.
pub async fn both(running: &Running, m: &Message) -> [Message; 2] {
    [
        udp(running.udp_addrs[0], m).await,
        tcp(running.tcp_addrs[0], m).await,
    ]
}

/// The A/AAAA addresses of an answer, sorted.
pub fn addrs(m: &Message) -> Vec<IpAddr> {
    let mut v: Vec<IpAddr> = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

/// An address written as text (test literals only).
pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}
