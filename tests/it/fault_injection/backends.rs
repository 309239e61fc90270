//! HTTP health endpoints that misbehave on demand: hang, trickle bytes, send garbage, or send huge bodies or headers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How a backend answers its next probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// 200 with a body containing "healthy".
    Good = 0,
    /// Reads the request and never answers.
    Hang = 1,
    /// A status line, then one header byte every 20 ms, forever.
    Trickle = 2,
    /// Binary noise instead of HTTP, then close.
    Garbage = 3,
    /// 200 with a 100 MB body that never contains the expected text.
    HugeBody = 4,
    /// 200 with a 1 MB header.
    HugeHeaders = 5,
}

impl Mode {
    fn from_u8(v: u8) -> Mode {
        match v {
            1 => Mode::Hang,
            2 => Mode::Trickle,
            3 => Mode::Garbage,
            4 => Mode::HugeBody,
            5 => Mode::HugeHeaders,
            _ => Mode::Good,
        }
    }
}

/// A backend on `ip` with a switchable mode.
pub struct Backend {
    pub addr: SocketAddr,
    mode: Arc<AtomicU8>,
}

impl Backend {
    pub async fn start(ip: &str, mode: Mode) -> Backend {
        let listener = TcpListener::bind((ip, 0)).await.expect("backend binds");
        let addr = listener.local_addr().expect("backend address");
        let mode = Arc::new(AtomicU8::new(mode as u8));
        let shared = mode.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let mode = Mode::from_u8(shared.load(Ordering::SeqCst));
                tokio::spawn(answer(conn, mode));
            }
        });
        Backend { addr, mode }
    }

    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }
}

async fn answer(mut conn: TcpStream, mode: Mode) {
    let mut request = [0u8; 2048];
    let _ = conn.read(&mut request).await;
    match mode {
        Mode::Good => {
            let body = "status: healthy";
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(format!("{head}{body}").as_bytes()).await;
        }
        Mode::Hang => {
            // Hold the connection until the prober gives up and closes it.
            let _ = conn.read(&mut request).await;
        }
        Mode::Trickle => {
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nx-slow: ").await;
            while conn.write_all(b"a").await.is_ok() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Mode::Garbage => {
            let noise: Vec<u8> = (0..512u32).map(|i| (i * 151 % 251) as u8).collect();
            let _ = conn.write_all(&noise).await;
        }
        Mode::HugeBody => {
            let head = "HTTP/1.1 200 OK\r\ncontent-length: 104857600\r\n\r\n";
            let _ = conn.write_all(head.as_bytes()).await;
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..1600 {
                if conn.write_all(&chunk).await.is_err() {
                    break;
                }
            }
        }
        Mode::HugeHeaders => {
            let mut head = b"HTTP/1.1 200 OK\r\nx-big: ".to_vec();
            head.extend(std::iter::repeat_n(b'a', 1 << 20));
            head.extend(b"\r\ncontent-length: 7\r\n\r\nhealthy");
            let _ = conn.write_all(&head).await;
        }
    }
}
