//! Test backends on 127.0.0.x: an HTTP server whose behaviour can be switched, and a TLS one.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How the backend answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Mode {
    /// 200 with a healthy body.
    Ok,
    Status500,
    /// 200 with a body lacking the expected text.
    WrongBody,
    /// Accepts, reads the request, never answers.
    Hang,
    /// Reads the request, then resets the connection.
    Reset,
    /// Sends a status line, then one byte per 100 ms forever.
    Trickle,
    /// Ok and Status500 on alternate connections.
    Alternate,
}

pub(crate) const HEALTHY_BODY: &str = "status: healthy";

#[derive(Debug, Default)]
struct Shared {
    mode: AtomicU8,
    hits: AtomicUsize,
    heads: Mutex<Vec<String>>,
}

/// A switchable HTTP backend; stops when dropped.
#[derive(Debug)]
pub(crate) struct Backend {
    pub(crate) addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

pub(crate) fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// An address on `127.0.0.last` where nothing listens.
pub(crate) async fn closed_port(last: u8) -> SocketAddr {
    let listener = TcpListener::bind((loopback(last), 0)).await.unwrap();
    listener.local_addr().unwrap()
}

impl Backend {
    pub(crate) async fn start(last: u8, mode: Mode) -> Backend {
        let listener = TcpListener::bind((loopback(last), 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        shared.mode.store(mode as u8, Ordering::SeqCst);
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Backend { addr, shared, task }
    }

    pub(crate) fn set(&self, mode: Mode) {
        self.shared.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Connections accepted so far.
    pub(crate) fn hits(&self) -> usize {
        self.shared.hits.load(Ordering::SeqCst)
    }

    /// Request heads received so far.
    pub(crate) fn heads(&self) -> Vec<String> {
        self.shared.heads.lock().unwrap().clone()
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while let Ok((stream, _)) = listener.accept().await {
        let n = shared.hits.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(answer(stream, shared.clone(), n));
    }
}

fn mode_of(shared: &Shared) -> Mode {
    const MODES: [Mode; 7] = [
        Mode::Ok,
        Mode::Status500,
        Mode::WrongBody,
        Mode::Hang,
        Mode::Reset,
        Mode::Trickle,
        Mode::Alternate,
    ];
    MODES[usize::from(shared.mode.load(Ordering::SeqCst))]
}

async fn answer(mut stream: TcpStream, shared: Arc<Shared>, n: usize) {
    let mode = mode_of(&shared);
    let head = read_head(&mut stream).await;
    shared.heads.lock().unwrap().push(head);
    match mode {
        Mode::Reset => {
            let _ = stream.set_zero_linger();
            drop(stream);
        }
        _ => respond(&mut stream, mode, n).await,
    }
}

async fn respond<S: AsyncWrite + Unpin>(stream: &mut S, mode: Mode, n: usize) {
    let (status, body) = match mode {
        Mode::Ok => ("200 OK", HEALTHY_BODY),
        Mode::Alternate if n.is_multiple_of(2) => ("200 OK", HEALTHY_BODY),
        Mode::Status500 | Mode::Alternate => ("500 Internal Server Error", "oops"),
        Mode::WrongBody => ("200 OK", "status: sick"),
        Mode::Hang => {
            tokio::time::sleep(Duration::from_mins(1)).await;
            return;
        }
        Mode::Trickle => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n").await;
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if stream.write_all(b"X").await.is_err() {
                    return;
                }
            }
        }
        Mode::Reset => unreachable!("handled by the caller"),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Reads up to the end of the request head (bounded).
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> String {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// An HTTPS backend with a self-signed certificate for `name`; records the SNI names it saw.
#[derive(Debug)]
pub(crate) struct TlsBackend {
    pub(crate) addr: SocketAddr,
    sni: Arc<Mutex<Vec<Option<String>>>>,
    heads: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl TlsBackend {
    pub(crate) async fn start(last: u8, name: &str) -> TlsBackend {
        use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
        let certified = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind((loopback(last), 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (sni, heads) = (Arc::default(), Arc::default());
        let task = tokio::spawn(tls_loop(
            listener,
            acceptor,
            Arc::clone(&sni),
            Arc::clone(&heads),
        ));
        TlsBackend {
            addr,
            sni,
            heads,
            task,
        }
    }

    pub(crate) fn sni(&self) -> Vec<Option<String>> {
        self.sni.lock().unwrap().clone()
    }

    pub(crate) fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

impl Drop for TlsBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Seen<T> = Arc<Mutex<Vec<T>>>;

async fn tls_loop(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    sni: Seen<Option<String>>,
    heads: Seen<String>,
) {
    while let Ok((stream, _)) = listener.accept().await {
        let (acceptor, sni, heads) = (acceptor.clone(), sni.clone(), heads.clone());
        tokio::spawn(async move {
            let Ok(mut tls) = acceptor.accept(stream).await else {
                return;
            };
            let name = tls.get_ref().1.server_name().map(str::to_owned);
            sni.lock().unwrap().push(name);
            let head = read_head(&mut tls).await;
            heads.lock().unwrap().push(head);
            respond(&mut tls, Mode::Ok, 0).await;
        });
    }
}
