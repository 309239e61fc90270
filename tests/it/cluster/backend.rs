//! A health endpoint on a loopback address that refuses probes from chosen source addresses (a partition seen by some instances only).

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Answers 200 to every probe except those from a refused source, whose connection it closes
/// without a reply (the probe fails).
pub struct Backend {
    pub addr: SocketAddr,
    refused: Arc<Mutex<HashSet<IpAddr>>>,
}

impl Backend {
    pub async fn start(ip: &str) -> Backend {
        let listener = TcpListener::bind((ip.parse::<IpAddr>().unwrap(), 0))
            .await
            .expect("backend binds");
        let addr = listener.local_addr().unwrap();
        let refused: Arc<Mutex<HashSet<IpAddr>>> = Arc::default();
        let r = refused.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, peer)) = listener.accept().await else {
                    return;
                };
                if r.lock().unwrap().contains(&peer.ip()) {
                    drop(stream);
                    continue;
                }
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let _ = stream.read(&mut buf).await;
                    let reply =
                        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
                    let _ = stream.write_all(reply.as_bytes()).await;
                });
            }
        });
        Backend { addr, refused }
    }

    pub fn refuse(&self, source: &str) {
        self.refused.lock().unwrap().insert(source.parse().unwrap());
    }

    pub fn admit(&self, source: &str) {
        self.refused
            .lock()
            .unwrap()
            .remove(&source.parse::<IpAddr>().unwrap());
    }
}
