//! The real binary: `check` exit codes, `serve` with SIGHUP reloads and SIGTERM shutdown.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

const BIN: &str = env!("CARGO_BIN_EXE_meridian");

#[test]
fn check_exits_0_when_valid_and_2_with_every_error() {
    let ok = Command::new(BIN)
        .args(["check", "--zones", "tests/fixtures/good"])
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0));
    let bad = Command::new(BIN)
        .args(["check", "--zones", "tests/fixtures/bad"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    for entry in std::fs::read_dir("tests/fixtures/bad").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "expected") {
            let expected = std::fs::read_to_string(&path).unwrap();
            assert!(stderr.contains(expected.trim_end()), "{}", path.display());
        }
    }
    let version = Command::new(BIN).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("meridian "));
}

#[test]
fn bad_server_config_exits_2() {
    let dir = tempdir("badconf");
    let conf = dir.join("meridian.toml");
    std::fs::write(&conf, "listen = [\"not an address\"]\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config", conf.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("meridian.toml:1:"));
}

#[test]
fn a_misspelled_or_bad_environment_variable_exits_2_naming_it() {
    for (command, var, value, says) in [
        (
            "check",
            "MERIDIAN_ZONE_DIR",
            "zones",
            "is not a server setting",
        ),
        (
            "serve",
            "MERIDIAN_LISTN",
            "127.0.0.1:0",
            "is not a server setting",
        ),
        ("serve", "MERIDIAN_MAX_UDP_PAYLOAD", "lots", "invalid value"),
    ] {
        let mut child = Command::new(BIN)
            .args([command, "--config", "meridian.toml"])
            .env(var, value)
            .env("MERIDIAN_ADMIN_LISTEN", "127.0.0.1:0")
            .env("MERIDIAN_LISTEN", "127.0.0.1:0")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A server that accepted the variable would run on: stop it rather than hang.
        let start = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command} {var}: {stderr}");
        assert!(
            stderr.starts_with(&format!("{var}: ")) && stderr.contains(says),
            "{command} {var}: {stderr}"
        );
    }
    // Variables that are not settings are not errors.
    let ok = Command::new(BIN)
        .args(["check", "--zones", "tests/fixtures/good"])
        .env("MERIDIAN_BIN", "/usr/bin/true")
        .env("MERIDIAN_AGENT_TOKEN", "x")
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0));
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("meridian-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A child server whose log lines arrive on a channel.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Server {
    fn start(zones: &Path) -> (Self, SocketAddr) {
        let mut child = Command::new(BIN)
            .arg("serve")
            .env("MERIDIAN_LISTEN", "127.0.0.1:0")
            .env("MERIDIAN_ADMIN_LISTEN", "127.0.0.1:0")
            .env("MERIDIAN_ZONES_DIR", zones)
            .env("MERIDIAN_LOG_FORMAT", "text")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut server = Self { child, lines };
        let line = server.wait_for("dns listening");
        let addr = line
            .split("udp=")
            .nth(1)
            .and_then(|s| s.split([' ', ',']).next())
            .and_then(|s| s.parse().ok())
            .expect("udp address in the log");
        (server, addr)
    }

    fn wait_for(&mut self, needle: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("no log line containing {needle:?}"));
            if line.contains(needle) {
                return line;
            }
        }
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args([sig, &pid])
                .status()
                .unwrap()
                .success()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn ask(addr: SocketAddr, name: &str) -> hickory_proto::op::Message {
    crate::support::udp(addr, &crate::support::query(name, RecordType::A)).await
}

#[tokio::test]
async fn serve_reloads_on_sighup_keeps_old_config_on_error_and_stops_on_sigterm() {
    let dir = tempdir("reload");
    let zone = dir.join("example.test.toml");
    let base = std::fs::read_to_string("tests/fixtures/good/example.test.toml").unwrap();
    std::fs::write(&zone, &base).unwrap();
    let (mut server, addr) = Server::start(&dir);
    assert_eq!(
        ask(addr, "new.example.test.").await.metadata.response_code,
        ResponseCode::NXDomain
    );

    std::fs::write(
        &zone,
        format!("{base}\n[records.new]\nA = \"192.0.2.300\"\n"),
    )
    .unwrap();
    server.signal("-HUP");
    server.wait_for("reload failed");
    let line = server.wait_for("example.test.toml:");
    assert!(line.contains("invalid IPv4 address"), "{line}");
    let reply = ask(addr, "www.example.test.").await;
    assert_eq!(reply.answers.len(), 2, "old generation still serving");

    std::fs::write(
        &zone,
        format!("{base}\n[records.new]\nA = \"192.0.2.30\"\n"),
    )
    .unwrap();
    server.signal("-HUP");
    server.wait_for("reload ok");
    assert_eq!(ask(addr, "new.example.test.").await.answers.len(), 1);

    // SIGTERM under load: in-flight queries finish and the process exits 0 promptly.
    let load = tokio::spawn(async move {
        for _ in 0..200 {
            let _ = crate::support::udp_raw(
                addr,
                &crate::support::query("www.example.test.", RecordType::A)
                    .to_vec()
                    .unwrap(),
            )
            .await;
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let asked = std::time::Instant::now();
    server.signal("-TERM");
    let status = tokio::task::spawn_blocking(move || server.child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(
        asked.elapsed() < Duration::from_secs(6),
        "exit within the grace period"
    );
    load.abort();
}

#[test]
fn shipped_server_config_matches_the_embedded_defaults() {
    let text = std::fs::read_to_string("meridian.toml").unwrap();
    let parsed = meridian::config::ServerConfig::parse(Path::new("meridian.toml"), &text).unwrap();
    assert_eq!(parsed, meridian::config::ServerConfig::default());
}
