"""The two servers under test and the loopback HTTP backends their health checks probe."""

import os
import re
import shutil
import signal
import subprocess
import time

import dnswire

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
HTTP_PORT = 18080
BACKENDS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_split(pid):
    """(utime, stime) of a whole process (all threads) in seconds, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def cpu_seconds(pid):
    """utime + stime of a whole process (all threads)."""
    return sum(cpu_split(pid))


def status_kb(pid, key):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class Backends:
    """python3 -m http.server on 127.0.0.2-4, the targets of the `web` check."""

    def __init__(self):
        self.procs = []

    def start(self):
        for addr in BACKENDS:
            cmd = ["python3", "-m", "http.server", str(HTTP_PORT), "--bind", addr, "--directory", HERE]
            self.procs.append(
                subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs = []


class Server:
    """One DNS server process pinned to core 0; `variant` is "bench" or "large"."""

    name = "?"
    port = 0

    def __init__(self, variant="bench"):
        self.variant = variant
        self.proc = None
        self.pid = None
        self.log_path = os.path.join(OUT, f"{self.name}-{variant}.log")
        self.log = None

    def command(self):
        raise NotImplementedError

    def prepare(self):
        pass

    def start(self, probe_wire, deadline_s=120):
        """Starts the server; returns seconds until it answers `probe_wire` (None = never)."""
        self.prepare()
        self.log = open(self.log_path, "w", encoding="utf-8")
        self.proc = subprocess.Popen(
            ["taskset", "-c", "0"] + self.command(),
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.pid = self.proc.pid
        return dnswire.wait_answering(self.port, probe_wire, deadline_s, self.proc)

    def alive(self):
        try:
            os.kill(self.pid, 0)
            return True
        except OSError:
            return False

    def cpu(self):
        return cpu_seconds(self.pid)

    def cpu_split(self):
        return cpu_split(self.pid)

    def peak_rss_kb(self):
        return status_kb(self.pid, "VmHWM")

    def stop(self):
        if self.pid is not None and self.alive():
            os.kill(self.pid, signal.SIGTERM)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.wait_gone(self.pid)
        if self.log is not None:
            self.log.close()

    def wait_gone(self, pid, timeout=15):
        end = time.monotonic() + timeout
        while pid is not None and time.monotonic() < end:
            try:
                os.kill(pid, 0)
            except OSError:
                return
            time.sleep(0.02)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)

    def log_text(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()


class Meridian(Server):
    name = "meridian"
    port = 15353

    def config_path(self):
        if self.variant == "large":
            return os.path.join(OUT, "large", "meridian.toml")
        return os.path.join(HERE, "meridian.toml")

    def command(self):
        target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
        binary = os.environ.get("MERIDIAN_BIN") or os.path.join(target, "release", "meridian")
        return [binary, "serve", "--config", self.config_path()]

    def reload(self, deadline_s=300):
        """SIGHUP, then wait for the next "reload ok" in the log; returns seconds (None = failed)."""
        before = self.log_text().count("reload ok")
        start = time.monotonic()
        os.kill(self.pid, signal.SIGHUP)
        while time.monotonic() - start < deadline_s:
            text = self.log_text()
            if text.count("reload ok") > before:
                return time.monotonic() - start
            if "reload failed" in text[-4000:]:
                return None
            time.sleep(0.005)
        return None


class Gdnsd(Server):
    name = "gdnsd"
    port = 15354

    def config_dir(self):
        return os.path.join(OUT, "gdnsd" if self.variant == "bench" else "gdnsd-large")

    def prepare(self):
        """Copies the config template to bench/out with absolute paths and our ports."""
        if self.variant == "large":
            return  # written complete by gen_large.py
        target = self.config_dir()
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(os.path.join(HERE, "gdnsd"), target)
        path = os.path.join(target, "config")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        text = text.replace("@OUT@", OUT).replace("@PORT@", str(self.port))
        text = text.replace("@HTTP_PORT@", str(HTTP_PORT))
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

    def command(self):
        return ["gdnsd", "-c", self.config_dir(), "start"]

    def ctl(self, *args, timeout=320):
        return subprocess.run(
            ["gdnsdctl", "-c", self.config_dir(), "-t", "300"] + list(args),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def reload(self, deadline_s=300):
        """`gdnsdctl replace` (gdnsd's full config reload: a new daemon takes over the sockets).

        Returns seconds until gdnsdctl reports success (None = failed). The new daemon's PID
        becomes this server's PID.
        """
        start = time.monotonic()
        done = self.ctl("replace", timeout=deadline_s)
        took = time.monotonic() - start
        if done.returncode != 0:
            return None
        old = self.proc
        status = self.ctl("status").stdout + self.ctl("status").stderr
        found = re.search(r"PID (\d+)", status)
        if found:
            self.pid = int(found.group(1))
        old.wait(timeout=30)
        return took

    def stop(self):
        super().stop()
