//! The authoritative core over real UDP and TCP sockets: flags, negatives, EDNS, ECS, errors.

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{RData, RecordType};
use tokio::net::TcpStream;

use crate::support::*;

const GOOD: &str = "tests/fixtures/good";

fn answer_types(m: &Message) -> Vec<RecordType> {
    m.answers
        .iter()
        .map(hickory_proto::rr::Record::record_type)
        .collect()
}

#[tokio::test]
async fn flags_aa_set_ra_clear_rd_copied() {
    let s = start(GOOD).await;
    for reply in both(&s, &query("www.example.test.", RecordType::A)).await {
        let h = &reply.metadata;
        assert!(h.authoritative && !h.recursion_available && h.recursion_desired);
        assert_eq!(h.id, 0x4d52);
        assert_eq!(answer_types(&reply), vec![RecordType::A, RecordType::A]);
    }
    let mut q = query("www.example.test.", RecordType::A);
    q.metadata.recursion_desired = false;
    assert!(!udp(s.udp_addrs[0], &q).await.metadata.recursion_desired);
}

#[tokio::test]
async fn negative_answers_carry_the_soa() {
    let s = start(GOOD).await;
    let cases = [
        (
            "missing.example.test.",
            RecordType::A,
            ResponseCode::NXDomain,
        ),
        ("www.example.test.", RecordType::SRV, ResponseCode::NoError),
        ("deep.example.test.", RecordType::A, ResponseCode::NoError),
    ];
    for (name, qtype, rcode) in cases {
        for reply in both(&s, &query(name, qtype)).await {
            assert_eq!(reply.metadata.response_code, rcode, "{name}");
            assert!(reply.answers.is_empty());
            assert_eq!(reply.authorities.len(), 1);
            assert_eq!(reply.authorities[0].record_type(), RecordType::SOA);
            assert_eq!(reply.authorities[0].ttl, 60);
            assert!(reply.metadata.authoritative);
        }
    }
}

#[tokio::test]
async fn outside_zones_refused_and_question_case_preserved() {
    let s = start(GOOD).await;
    for reply in both(&s, &query("www.example.org.", RecordType::A)).await {
        assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
        assert!(!reply.metadata.authoritative);
    }
    let reply = udp(s.udp_addrs[0], &query("wWw.ExAmPlE.tEsT.", RecordType::A)).await;
    assert_eq!(reply.queries[0].name().to_ascii(), "wWw.ExAmPlE.tEsT.");
    assert_eq!(reply.answers[0].name.to_ascii(), "wWw.ExAmPlE.tEsT.");
}

#[tokio::test]
async fn opt_only_when_asked_and_unknown_options_not_echoed() {
    let s = start(GOOD).await;
    let plain = udp(s.udp_addrs[0], &query("www.example.test.", RecordType::A)).await;
    assert!(plain.edns.is_none());
    let mut q = with_edns(query("www.example.test.", RecordType::A), 4096, None);
    if let Some(e) = q.edns.as_mut() {
        e.options_mut()
            .insert(EdnsOption::Unknown(65001, vec![1, 2, 3]));
    }
    for reply in both(&s, &q).await {
        let edns = reply.edns.expect("OPT echoed");
        assert_eq!(edns.max_payload(), 1232);
        assert_eq!(edns.version(), 0);
        assert!(
            edns.options().as_ref().is_empty(),
            "unknown option not echoed"
        );
    }
}

#[tokio::test]
async fn badvers_for_edns_version_above_zero() {
    let s = start(GOOD).await;
    let mut q = with_edns(query("www.example.test.", RecordType::A), 1232, None);
    if let Some(e) = q.edns.as_mut() {
        e.set_version(1);
    }
    for reply in both(&s, &q).await {
        assert_eq!(u16::from(reply.metadata.response_code), 16, "BADVERS");
        assert_eq!(reply.edns.expect("OPT").version(), 0);
        assert!(reply.answers.is_empty());
    }
}

#[tokio::test]
async fn udp_size_caps_and_truncation() {
    let s = start(GOOD).await;
    let server = s.udp_addrs[0];
    // Without EDNS: 512 bytes at most, TC=1 and no partial RRset.
    let raw = udp_raw(
        server,
        &query("big.example.test.", RecordType::TXT)
            .to_vec()
            .unwrap(),
    )
    .await
    .unwrap();
    assert!(raw.len() <= 512);
    let reply = Message::from_vec(&raw).unwrap();
    assert!(reply.metadata.truncation && reply.answers.is_empty());
    // With EDNS 4096 the answer is capped by our 1232 maximum.
    let q = with_edns(query("huge.example.test.", RecordType::TXT), 4096, None);
    let raw = udp_raw(server, &q.to_vec().unwrap()).await.unwrap();
    assert!(raw.len() <= 1232);
    let reply = Message::from_vec(&raw).unwrap();
    assert!(reply.metadata.truncation);
    assert!(reply.edns.is_some(), "OPT kept in a truncated reply");
    // The same question over TCP gets the whole answer.
    let reply = tcp(s.tcp_addrs[0], &q).await;
    assert!(!reply.metadata.truncation);
    assert_eq!(answer_types(&reply), vec![RecordType::TXT]);
    // A client payload below 512 is treated as 512; one that fits is not truncated.
    let q = with_edns(query("big.example.test.", RecordType::TXT), 1232, None);
    assert!(!udp(server, &q).await.metadata.truncation);
}

#[tokio::test]
async fn ecs_is_echoed_with_scope_zero_for_static_records() {
    let s = start(GOOD).await;
    let q = with_edns(
        query("www.example.test.", RecordType::A),
        1232,
        Some("198.51.100.0/24"),
    );
    for reply in both(&s, &q).await {
        let edns = reply.edns.expect("OPT");
        let Some(EdnsOption::Subnet(ecs)) = edns.option(EdnsCode::Subnet) else {
            panic!("ECS echoed");
        };
        assert_eq!(ecs.source_prefix(), 24);
        assert_eq!(ecs.scope_prefix(), 0);
        assert_eq!(ecs.addr().to_string(), "198.51.100.0");
    }
}

/// A raw query for www.example.test/A with the given counts and additional section bytes.
fn raw_query(flags: u16, qdcount: u16, arcount: u16, additional: &[u8]) -> Vec<u8> {
    let mut p = vec![0x12, 0x34];
    for w in [flags, qdcount, 0, 0, arcount] {
        p.extend_from_slice(&w.to_be_bytes());
    }
    if qdcount > 0 {
        p.extend_from_slice(b"\x03www\x07example\x04test\x00\x00\x01\x00\x01");
    }
    p.extend_from_slice(additional);
    p
}

fn opt_with(option: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0];
    v.extend_from_slice(&(option.len() as u16).to_be_bytes());
    v.extend_from_slice(option);
    v
}

async fn rcode_of(s: &meridian::app::Running, packet: &[u8]) -> [ResponseCode; 2] {
    let udp = udp_raw(s.udp_addrs[0], packet).await.expect("udp reply");
    let mut stream = TcpStream::connect(s.tcp_addrs[0]).await.unwrap();
    tcp_send(&mut stream, packet).await;
    let tcp = tcp_recv(&mut stream).await.expect("tcp reply");
    [udp, tcp].map(|r| {
        assert_eq!(&r[..2], &[0x12, 0x34], "ID echoed");
        Message::from_vec(&r)
            .expect("reply parses")
            .metadata
            .response_code
    })
}

#[tokio::test]
async fn malformed_queries_get_formerr_or_notimp() {
    let s = start(GOOD).await;
    let ecs = |family: u16, source: u8, addr: &[u8]| {
        let mut o = vec![0, 8];
        o.extend_from_slice(&((4 + addr.len()) as u16).to_be_bytes());
        o.extend_from_slice(&family.to_be_bytes());
        o.extend([source, 0]);
        o.extend_from_slice(addr);
        opt_with(&o)
    };
    let formerr = [
        raw_query(0x0100, 0, 0, &[]),
        raw_query(0x0100, 2, 0, &[]),
        raw_query(0x0100, 1, 2, &[opt_with(&[]), opt_with(&[])].concat()),
        raw_query(0x0100, 1, 1, &ecs(3, 0, &[])),
        raw_query(0x0100, 1, 1, &ecs(1, 33, &[1, 2, 3, 4, 5])),
        raw_query(0x0100, 1, 1, &ecs(1, 16, &[192, 0, 2])),
        raw_query(0x0100, 1, 1, &ecs(1, 23, &[192, 0, 3])),
        raw_query(0x0100, 1, 1, &ecs(2, 129, &[0; 17])),
        raw_query(0x0100, 1, 1, &[0, 0, 41, 4, 0]),
    ];
    for (i, packet) in formerr.iter().enumerate() {
        assert_eq!(
            rcode_of(&s, packet).await,
            [ResponseCode::FormErr; 2],
            "case {i}"
        );
    }
    let notify = raw_query(
        0x0100 | (u16::from(u8::from(OpCode::Notify)) << 11),
        1,
        0,
        &[],
    );
    assert_eq!(rcode_of(&s, &notify).await, [ResponseCode::NotImp; 2]);
    let notify_edns = raw_query(0x2800, 1, 1, &opt_with(&[]));
    let reply = udp_raw(s.udp_addrs[0], &notify_edns).await.unwrap();
    let reply = Message::from_vec(&reply).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::NotImp);
    assert!(reply.edns.is_some(), "OPT answered with OPT");
    let ok = raw_query(0x0100, 1, 1, &ecs(1, 24, &[192, 0, 2]));
    assert_eq!(rcode_of(&s, &ok).await, [ResponseCode::NoError; 2]);
}

/// ISC genreport's `opcodeflg`: an unknown opcode is answered NOTIMP with RD, CD and AD
/// clear (as BIND does), the opcode, ID, question and OPT echoed.
#[tokio::test]
async fn unknown_opcode_notimp_clears_rd_cd_ad_and_echoes_question_and_opt() {
    let s = start(GOOD).await;
    // Opcode 15 with RD (0x0100), AD (0x0020) and CD (0x0010) set, EDNS.
    let packet = raw_query(0x7800 | 0x0130, 1, 1, &opt_with(&[]));
    let udp = udp_raw(s.udp_addrs[0], &packet).await.expect("udp reply");
    let mut stream = TcpStream::connect(s.tcp_addrs[0]).await.unwrap();
    tcp_send(&mut stream, &packet).await;
    let tcp = tcp_recv(&mut stream).await.expect("tcp reply");
    for reply in [udp, tcp] {
        assert_eq!(&reply[..2], &[0x12, 0x34], "ID echoed");
        let flags = u16::from_be_bytes([reply[2], reply[3]]);
        assert_eq!(flags & 0x8000, 0x8000, "QR set");
        assert_eq!((flags >> 11) & 0xf, 15, "opcode echoed");
        assert_eq!(flags & 0x0130, 0, "RD, AD and CD clear: {flags:#06x}");
        assert_eq!(flags & 0xf, 4, "NOTIMP");
        // Question echoed byte for byte, then the OPT record.
        assert_eq!(u16::from_be_bytes([reply[4], reply[5]]), 1, "qdcount");
        assert_eq!(&reply[12..12 + 22], &packet[12..12 + 22], "question echoed");
        let m = Message::from_vec(&reply).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::NotImp);
        assert!(m.edns.is_some(), "OPT answered with OPT");
    }
}

#[tokio::test]
async fn garbage_and_responses_get_silence_and_the_server_keeps_answering() {
    let s = start(GOOD).await;
    // Each bad packet is followed on the same socket by a good query: the first reply
    // that comes back must be the good one's (same 4-tuple, same server socket, in order).
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let good = query("www.example.test.", RecordType::A).to_vec().unwrap();
    for packet in [vec![], vec![0u8; 5], raw_query(0x8100, 1, 0, &[])] {
        socket.send_to(&packet, s.udp_addrs[0]).await.unwrap();
        socket.send_to(&good, s.udp_addrs[0]).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let (len, _) = tokio::time::timeout(TIMEOUT, socket.recv_from(&mut buf))
            .await
            .expect("reply")
            .unwrap();
        let reply = Message::from_vec(&buf[..len]).unwrap();
        assert_eq!(
            reply.metadata.id, 0x4d52,
            "only the good query was answered"
        );
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    }
}

#[tokio::test]
async fn any_is_minimal_and_transfers_refused() {
    let s = start(GOOD).await;
    for reply in both(&s, &query("example.test.", RecordType::ANY)).await {
        let types = answer_types(&reply);
        assert!(!types.is_empty() && types.iter().all(|t| *t == types[0]));
    }
    for t in [RecordType::AXFR, RecordType::IXFR] {
        let reply = tcp(s.tcp_addrs[0], &query("example.test.", t)).await;
        assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
    }
}

#[tokio::test]
async fn tcp_pipelines_queries_on_one_connection() {
    let s = start(GOOD).await;
    let mut stream = TcpStream::connect(s.tcp_addrs[0]).await.unwrap();
    let names = [
        "www.example.test.",
        "mail.example.test.",
        "sip.example.test.",
    ];
    let mut batch = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let mut q = query(name, RecordType::A);
        q.metadata.id = 100 + i as u16;
        let bytes = q.to_vec().unwrap();
        batch.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        batch.extend_from_slice(&bytes);
    }
    tokio::io::AsyncWriteExt::write_all(&mut stream, &batch)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in names {
        let reply = Message::from_vec(&tcp_recv(&mut stream).await.unwrap()).unwrap();
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        let asked = names[usize::from(reply.metadata.id - 100)];
        assert_eq!(reply.queries[0].name().to_ascii(), asked);
        ids.push(reply.metadata.id);
    }
    ids.sort_unstable();
    assert_eq!(ids, vec![100, 101, 102]);
}

#[tokio::test]
async fn tcp_idle_and_truncated_connections_are_closed() {
    let s = start_with(GOOD, |c| c.tcp_idle_timeout_secs = 1).await;
    let mut stream = TcpStream::connect(s.tcp_addrs[0]).await.unwrap();
    // Half a message, then nothing: the server must give up, not stall.
    tokio::io::AsyncWriteExt::write_all(&mut stream, &[0, 40, 1, 2])
        .await
        .unwrap();
    let closed = tokio::time::timeout(std::time::Duration::from_secs(3), async {
        let mut buf = [0u8; 16];
        tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await
    })
    .await;
    assert!(matches!(closed, Ok(Ok(0) | Err(_))), "connection closed");
    let reply = tcp(s.tcp_addrs[0], &query("www.example.test.", RecordType::A)).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
}

#[tokio::test]
async fn tcp_connection_cap_is_enforced() {
    let s = start_with(GOOD, |c| c.tcp_max_connections = 2).await;
    let first = TcpStream::connect(s.tcp_addrs[0]).await.unwrap();
    let _b = TcpStream::connect(s.tcp_addrs[0]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(s.tcp_addrs[0]).await.unwrap();
    tcp_send(
        &mut third,
        &query("www.example.test.", RecordType::A).to_vec().unwrap(),
    )
    .await;
    assert!(tcp_recv(&mut third).await.is_none(), "over the cap: closed");
    drop(first);
    let reply = {
        let mut r = None;
        for _ in 0..50 {
            let mut c = TcpStream::connect(s.tcp_addrs[0]).await.unwrap();
            tcp_send(
                &mut c,
                &query("www.example.test.", RecordType::A).to_vec().unwrap(),
            )
            .await;
            if let Some(bytes) = tcp_recv(&mut c).await {
                r = Some(bytes);
                break;
            }
        }
        r
    };
    assert!(reply.is_some(), "a slot frees when a connection closes");
}

#[tokio::test]
async fn ipv6_listener_answers() {
    let s = start_with(GOOD, |c| c.listen = vec!["[::1]:0".parse().unwrap()]).await;
    let reply = udp(
        s.udp_addrs[0],
        &query("ns2.example.test.", RecordType::AAAA),
    )
    .await;
    assert!(matches!(reply.answers[0].data, RData::AAAA(_)));
    let reply = tcp(
        s.tcp_addrs[0],
        &query("ns2.example.test.", RecordType::AAAA),
    )
    .await;
    assert_eq!(answer_types(&reply), vec![RecordType::AAAA]);
}

#[tokio::test]
async fn referral_is_not_authoritative_and_has_glue() {
    let s = start(GOOD).await;
    for reply in both(&s, &query("host.sub.example.test.", RecordType::A)).await {
        assert!(!reply.metadata.authoritative);
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        assert!(reply.answers.is_empty());
        assert_eq!(reply.authorities.len(), 2);
        assert_eq!(reply.additionals.len(), 1);
    }
}
