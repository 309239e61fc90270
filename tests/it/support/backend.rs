//! A health-check target on loopback: an HTTP endpoint answering 200 while its flag is up, 503 otherwise.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A health endpoint on `ip`: 200 while the flag is up, 503 otherwise.
pub async fn backend(ip: &str) -> (SocketAddr, Arc<AtomicBool>) {
    let listener = TcpListener::bind((ip, 0)).await.expect("backend binds");
    let addr = listener.local_addr().expect("backend address");
    let up = Arc::new(AtomicBool::new(true));
    let flag = up.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let flag = flag.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf).await;
                let status = if flag.load(Ordering::SeqCst) {
                    "200 OK"
                } else {
                    "503 Unavailable"
                };
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
                let _ = conn.write_all(reply.as_bytes()).await;
            });
        }
    });
    (addr, up)
}
