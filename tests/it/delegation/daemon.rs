//! Foreground BIND 9 and Unbound processes: config from templates, readiness, stop by PID.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::skip::find_tool;

/// The Debian binaries the lab runs, and the package that ships each.
pub const TOOLS: [(&str, &str); 3] = [
    ("named", "bind9"),
    ("unbound", "unbound"),
    ("unbound-control", "unbound"),
];

/// Fill `@KEY@` placeholders of a fixture template.
pub fn render(template: &str, values: &[(&str, &str)]) -> String {
    values
        .iter()
        .fold(template.to_string(), |text, (key, value)| {
            text.replace(&format!("@{key}@"), value)
        })
}

/// A process this test started; stopped by its own PID when dropped.
pub struct Daemon {
    pub name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    /// Start `tool args...` in the foreground with stdout and stderr going to `dir/<name>.log`.
    pub fn spawn(name: &'static str, tool: &str, args: &[&str], dir: &Path) -> Daemon {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file handle");
        let binary = find_tool(tool).unwrap_or_else(|| PathBuf::from(tool));
        let child = Command::new(binary)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {tool}: {e}"));
        Daemon { name, child, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's output so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics with the log when the process has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited ({status}):\n{}", self.name, self.log());
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SIGKILL to the PID we started, then reap it: no strays, no shared names.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Poll `ready` every 20 ms until it holds, failing with the daemon's log after `limit`.
pub async fn wait_until<F, Fut>(daemon: &mut Daemon, limit: Duration, mut ready: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        daemon.assert_running();
        if ready().await {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "{} not ready within {limit:?}:\n{}",
            daemon.name,
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `unbound-control stats_noreset` as `key=value` pairs (the counters never reset).
pub fn unbound_stats(config: &Path) -> Vec<(String, u64)> {
    let Some(binary) = find_tool("unbound-control") else {
        return Vec::new();
    };
    let output = Command::new(binary)
        .arg("-c")
        .arg(config)
        .arg("stats_noreset")
        .output();
    let Ok(output) = output else {
        return Vec::new();
    };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (key, value) = line.split_once('=')?;
            Some((key.to_string(), value.trim().parse().ok()?))
        })
        .collect()
}
