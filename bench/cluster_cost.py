#!/usr/bin/env python3
"""CPU per query of Meridian with cluster mode off and on (run through bench/cluster_cost.sh).

One etcd member on loopback (ephemeral ports, a temporary data dir, pinned to core 1). Each
round starts Meridian (bench/meridian.toml, core 0) once per mode, alternating the order
from round to round: `off` (no cluster settings), `on` (MERIDIAN_CLUSTER_ENDPOINTS pointing
at the etcd member, MERIDIAN_CLUSTER_INSTANCE=bench) and, unless --no-control, `off2`, a
second cluster-off run whose ratio to `off` shows the noise of the machine. In each run it
waits for the health warm start (and, for `on`, for `/v1/cluster` to say connected), then
runs the static and geo workloads at full speed with dnsperf on core 1 and measures the
server's utime + stime per completed query, as bench.py does.
"""

import argparse
import datetime
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import bench
import dnswire
from servers import OUT, Backends, Meridian

ADMIN = "http://127.0.0.1:19153"
INSTANCE = "bench"


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Etcd:
    """One etcd member on 127.0.0.1, data in a temporary directory; stopped by its PID."""

    def __init__(self):
        self.client_port, self.peer_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.client_port}"
        self.data_dir = tempfile.mkdtemp(prefix="meridian-bench-etcd-")
        self.log_path = os.path.join(OUT, "cluster-etcd.log")
        self.proc = None

    def start(self, deadline_s=20):
        peer = f"http://127.0.0.1:{self.peer_port}"
        cmd = ["taskset", "-c", "1", "etcd", "--name", "bench", "--data-dir", self.data_dir,
               "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
               "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
               "--initial-cluster", f"bench={peer}", "--initial-cluster-state", "new"]
        with open(self.log_path, "w", encoding="utf-8") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        end = time.monotonic() + deadline_s
        while time.monotonic() < end and self.proc.poll() is None:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as r:
                    if json.load(r).get("health") == "true":
                        return True
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        return False

    def keys(self, prefix="/meridian/"):
        done = subprocess.run(["etcdctl", "--endpoints", self.url, "get", "--prefix", "--keys-only",
                               prefix], capture_output=True, text=True, timeout=10, check=False,
                              env=dict(os.environ, ETCDCTL_API="3"))
        return [k for k in done.stdout.split() if k]

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.data_dir, ignore_errors=True)


class ModeMeridian(Meridian):
    """Meridian with the bench config; `endpoints` set means cluster mode through the
    environment (`env` execs the binary, so the PID is Meridian's)."""

    def __init__(self, mode, endpoints=None):
        super().__init__(f"cluster-{mode}")
        self.endpoints = endpoints

    def command(self):
        if not self.endpoints:
            return super().command()
        return ["env", f"MERIDIAN_CLUSTER_ENDPOINTS={self.endpoints}",
                f"MERIDIAN_CLUSTER_INSTANCE={INSTANCE}"] + super().command()


def curl(path):
    """(HTTP status, parsed JSON or None) of `curl ADMIN+path`."""
    done = subprocess.run(["curl", "-s", "--max-time", "2", "-w", "\n%{http_code}", ADMIN + path],
                          capture_output=True, text=True, timeout=10, check=False)
    body, _, code = done.stdout.rpartition("\n")
    try:
        return int(code), json.loads(body) if body.strip() else None
    except ValueError:
        return int(code) if code.isdigit() else 0, None


def wait_until(predicate, deadline_s, step=0.1):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return False


def cluster_summary(status):
    """The parts of GET /v1/cluster this report keeps."""
    if not isinstance(status, dict):
        return status
    return {k: status.get(k) for k in ("instance", "connected", "stale", "revision", "quorum")} | {
        "members": [{"instance": m.get("instance"), "alive": m.get("alive"),
                     "votes": m.get("votes")}
                    for m in status.get("members", [])]}


def one_run(mode, etcd, args, probe):
    """Start Meridian in `mode`, wait until it is ready, run the workloads; returns a record."""
    server = ModeMeridian(mode, etcd.url if mode == "on" else None)
    record = {"mode": mode, "workloads": {}}
    try:
        if server.start(probe, deadline_s=60) is None:
            sys.exit(f"meridian ({mode}) did not answer within 60 s; see {server.log_path}")
        wait_until(lambda: "warm start complete" in server.log_text(), args.warm_timeout)
        if mode == "on":
            ok = wait_until(lambda: (curl("/v1/cluster")[1] or {}).get("connected") is True,
                            args.warm_timeout)
            if not ok:
                sys.exit(f"cluster mode never connected to {etcd.url}; see {server.log_path}")
        time.sleep(args.settle)
        record["cluster_before"] = cluster_summary(curl("/v1/cluster")[1])
        for workload in args.workloads:
            if not bench.supported(server, workload):
                sys.exit(f"meridian ({mode}) does not answer {workload} as expected")
            record["workloads"][workload] = bench.measure_workload(server, workload, args)
            w = record["workloads"][workload]
            print(f"  {mode:4} {workload:7} {bench.fmt(w['cpu_us_per_query'], 2):>6} us/q "
                  f"(user {bench.fmt(w['user_us_per_query'], 2)} "
                  f"sys {bench.fmt(w['sys_us_per_query'], 2)})  {w['qps']:9.0f} qps  "
                  f"lost {w['lost']}", flush=True)
        code, status = curl("/v1/cluster")
        record["cluster_after"] = {"http": code, "status": cluster_summary(status)}
        if mode == "on":
            record["vote_keys"] = [k for k in etcd.keys() if f"/votes/{INSTANCE}/" in k]
            record["warm_log"] = [line for line in server.log_text().splitlines()
                                  if "cluster" in line.lower()][:5]
            print(f"  on   /v1/cluster: HTTP {code}, connected {(status or {}).get('connected')}, "
                  f"revision {(status or {}).get('revision')}, "
                  f"{len(record['vote_keys'])} vote keys in etcd", flush=True)
        elif code != 404:
            print(f"  {mode}: /v1/cluster answered HTTP {code}, expected 404", flush=True)
    finally:
        server.stop()
    return record


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def column(runs, mode, workload, key):
    return [r["workloads"][workload][key] for r in runs if r["mode"] == mode]


def paired_ratios(rounds, mode, base, workload):
    """Per round: CPU/query of `mode` divided by that of `base`."""
    out = []
    for runs in rounds:
        by_mode = {r["mode"]: r["workloads"][workload]["cpu_us_per_query"] for r in runs}
        if by_mode.get(mode) and by_mode.get(base):
            out.append(by_mode[mode] / by_mode[base])
    return out


def pooled_ratio(runs, mode, base, workload):
    """Sum of CPU seconds over sum of completed queries, `mode` over `base`."""
    def per_query(m):
        sel = [r["workloads"][workload] for r in runs if r["mode"] == m]
        done = sum(w["completed"] for w in sel)
        return sum(w["server_cpu_s"] for w in sel) / done if done else None
    a, b = per_query(mode), per_query(base)
    return a / b if a and b else None


def cpu_table(runs, modes, workloads, name=str, what="mode"):
    """Markdown rows: CPU, user and sys µs/query (median and range) and kqps per mode."""
    lines = [f"| workload | {what} | CPU µs/query | user µs/query | sys µs/query | kqps |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for w in workloads:
        for m in modes:
            qps = [q / 1000 for q in column(runs, m, w, "qps")]
            lines.append(f"| {w} | {name(m)} | {spread(column(runs, m, w, 'cpu_us_per_query'))} | "
                         f"{spread(column(runs, m, w, 'user_us_per_query'))} | "
                         f"{spread(column(runs, m, w, 'sys_us_per_query'))} | "
                         f"{statistics.median(qps):.1f} |")
    return lines


def ratio_table(rounds, runs, modes, workloads, base):
    """Markdown rows: each mode over `base`, per-round median (range) and pooled; then the
    per-round ratios."""
    others = [m for m in modes if m != base]
    lines = ["| workload | ratio | median of per-round ratios (min–max) | pooled (Σ CPU / Σ queries) |",
             "| --- | --- | ---: | ---: |"]
    for w in workloads:
        for m in others:
            lines.append(f"| {w} | {m} / {base} | {spread(paired_ratios(rounds, m, base, w))} | "
                         f"{bench.fmt(pooled_ratio(runs, m, base, w), 3)} |")
    lines += ["", "Per-round ratios: " + "; ".join(
        f"{w} {m}/{base} " + ", ".join(f"{x:.2f}" for x in paired_ratios(rounds, m, base, w))
        for w in workloads for m in others)]
    return lines


def render(meta, rounds, modes, workloads):
    runs = [r for rs in rounds for r in rs]
    lines = [f"{meta['date']} {meta['time']} UTC, {meta['machine']}, Meridian {meta['rev']} "
             f"(--features cluster), {meta['rounds']} rounds × {meta['duration']} s, load average "
             f"{meta['loadavg'][0]} before, {meta['loadavg'][1]} after, {meta['wall_s']:.0f} s.",
             ""]
    lines += cpu_table(runs, modes, workloads)
    lines += [""] + ratio_table(rounds, runs, modes, workloads, "off")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description="Meridian CPU per query, cluster mode off vs on")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5, help="seconds per full-speed run")
    parser.add_argument("--workloads", default="static,geo")
    parser.add_argument("--no-control", dest="control", action="store_false",
                        help="skip the second cluster-off run per round (the noise estimate)")
    parser.add_argument("--settle", type=float, default=0.5)
    parser.add_argument("--warm-timeout", type=float, default=15.0)
    args = parser.parse_args()
    args.workloads = [w for w in args.workloads.split(",") if w]
    modes = ["off", "on"] + (["off2"] if args.control else [])

    for port in (15353, 19153):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                sys.exit(f"127.0.0.1:{port} is in use (another benchmark running?)")
    started, load_before = time.monotonic(), bench.loadavg()
    probe = dnswire.read_messages(bench.query_file("static"), 1)[0]
    etcd, backends, rounds = Etcd(), Backends(), []
    try:
        if not etcd.start():
            sys.exit(f"etcd did not become healthy; see {etcd.log_path}")
        print(f"etcd {etcd.url} (PID {etcd.proc.pid})", flush=True)
        backends.start()
        time.sleep(0.5)
        for r in range(args.rounds):
            order = modes[r % len(modes):] + modes[:r % len(modes)]
            print(f"round {r + 1}/{args.rounds}: {', '.join(order)}", flush=True)
            rounds.append([one_run(mode, etcd, args, probe) for mode in order])
    finally:
        backends.stop()
        etcd.stop()

    now = datetime.datetime.now(datetime.timezone.utc)
    meta = {"date": now.date().isoformat(), "time": now.strftime("%H:%M"), "machine": bench.machine(),
            "rev": bench.meridian_rev(), "rounds": args.rounds, "duration": args.duration,
            "wall_s": time.monotonic() - started, "loadavg": [load_before, bench.loadavg()],
            "etcd": etcd.url}
    text = render(meta, rounds, modes, args.workloads)
    print()
    print(text)
    with open(os.path.join(OUT, "cluster_cost.json"), "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "rounds": rounds}, f, indent=1, default=str)
    with open(os.path.join(OUT, "cluster_cost.md"), "w", encoding="utf-8") as f:
        f.write(text + "\n")
    print(f"(saved in {OUT}/cluster_cost.md and cluster_cost.json)")


if __name__ == "__main__":
    main()
