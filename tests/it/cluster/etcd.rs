//! Real etcd on loopback for the cluster tests: one member or several, killed and restarted at will, and `etcdctl` against them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{eventually, need_tool};

/// Where `etcd` and `etcdctl` are installed.
#[derive(Clone)]
pub struct Tools {
    etcd: PathBuf,
    etcdctl: PathBuf,
}

impl Tools {
    /// Both tools, or `None` after a skip naming the missing one (a failure under `CI=true`).
    pub fn find() -> Option<Tools> {
        Some(Tools {
            etcd: need_tool("etcd", "etcd-server")?,
            etcdctl: need_tool("etcdctl", "etcd-client")?,
        })
    }
}

/// One etcd member process.
struct Member {
    name: String,
    dir: PathBuf,
    client: u16,
    peer: u16,
    initial: String,
    child: Option<Child>,
}

/// An etcd cluster of one or more members, each with its data under `dir`.
pub struct Etcd {
    tools: Tools,
    members: Vec<Member>,
}

impl Etcd {
    pub async fn start(tools: Tools, dir: &Path, size: usize) -> Etcd {
        let ports: Vec<(u16, u16)> = (0..size).map(|_| (free_port(), free_port())).collect();
        let initial = ports
            .iter()
            .enumerate()
            .map(|(i, (_, p))| format!("e{i}=http://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let members = ports
            .iter()
            .enumerate()
            .map(|(i, (c, p))| Member {
                name: format!("e{i}"),
                dir: dir.join(format!("e{i}")),
                client: *c,
                peer: *p,
                initial: initial.clone(),
                child: None,
            })
            .collect();
        let mut etcd = Etcd { tools, members };
        for i in 0..size {
            etcd.restart(i);
        }
        etcd.wait_healthy().await;
        etcd
    }

    pub fn endpoints(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|m| format!("http://127.0.0.1:{}", m.client))
            .collect()
    }

    /// Waits (up to 20 s) until a write through the live members succeeds.
    pub async fn wait_healthy(&self) {
        eventually("etcd answers", Duration::from_secs(20), || async {
            self.put("/health-probe", "1").is_ok()
        })
        .await;
    }

    /// SIGKILL member `i`.
    pub fn kill(&mut self, i: usize) {
        self.members[i].kill();
    }

    /// Starts member `i` (again) on its data directory.
    pub fn restart(&mut self, i: usize) {
        let etcd = self.tools.etcd.clone();
        self.members[i].spawn(&etcd);
    }

    /// `etcdctl put` against the live members.
    pub fn put(&self, key: &str, value: &str) -> Result<String, String> {
        self.ctl(&["put", key, value])
    }

    /// Compacts the store's history up to its current revision; returns that revision.
    pub fn compact_to_now(&self) -> Result<i64, String> {
        let out = self.ctl(&["put", "/compaction-marker", "1", "-w", "json"])?;
        let json: serde_json::Value = serde_json::from_str(&out).map_err(|e| e.to_string())?;
        let revision = json["header"]["revision"]
            .as_i64()
            .ok_or_else(|| format!("no revision in {out}"))?;
        self.ctl(&["compact", &revision.to_string()])?;
        Ok(revision)
    }

    /// One client endpoint, of member `i`.
    pub fn endpoint(&self, i: usize) -> String {
        self.endpoints()[i].clone()
    }

    /// `etcdctl ARGS` against the members that are running.
    fn ctl(&self, args: &[&str]) -> Result<String, String> {
        let running: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.child.is_some())
            .map(|m| format!("http://127.0.0.1:{}", m.client))
            .collect();
        let out = Command::new(&self.tools.etcdctl)
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &running.join(",")])
            .args(["--command-timeout", "2s"])
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

impl Member {
    fn spawn(&mut self, etcd: &Path) {
        let url = |p: u16| format!("http://127.0.0.1:{p}");
        let child = Command::new(etcd)
            .args(["--name", &self.name])
            .arg("--data-dir")
            .arg(&self.dir)
            .args(["--listen-client-urls", &url(self.client)])
            .args(["--advertise-client-urls", &url(self.client)])
            .args(["--listen-peer-urls", &url(self.peer)])
            .args(["--initial-advertise-peer-urls", &url(self.peer)])
            .args(["--initial-cluster", &self.initial])
            .args(["--initial-cluster-state", "new"])
            .args(["--initial-cluster-token", "meridian-test"])
            .args(["--heartbeat-interval", "50", "--election-timeout", "500"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcd starts");
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free TCP port on 127.0.0.1 (released at once; good enough on loopback).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
