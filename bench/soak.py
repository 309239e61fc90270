#!/usr/bin/env python3
"""Soak: Meridian under several minutes of mixed load, sampling its RSS (run via bench/soak.sh).

Meridian runs with the bench config (bench/meridian.toml) pinned to core 0, with the three HTTP
backends of the geo service. On core 1, for --seconds: dnsperf at a fixed rate on each of the
static, geo (one ECS subnet per query), weighted and nxdomain query files of bench/out/, dnsperf
over one reused TCP connection, a client opening a new TCP connection per query, a SIGHUP
reload every --reload-every seconds and an admin API scrape (/v1/health, /metrics) every
sample. VmRSS is sampled every --sample-every seconds. Verdict: the mean RSS of the last minute
against the mean of the first minute after --warmup seconds.
Prints a summary and writes bench/out/soak/results.json.
"""

import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request

import dnswire
from servers import OUT, Backends, Meridian, cpu_seconds, status_kb

SOAK = os.path.join(OUT, "soak")
ADMIN = "127.0.0.1:19153"
WORKLOADS = ["static", "geo", "weighted", "nxdomain"]


def dnsperf(workload, seconds, rate, tcp=False):
    path = os.path.join(OUT, f"{workload}.bin")
    size = max(1, len(dnswire.read_messages(path)))
    passes = max(1, seconds * rate // size + 1)
    cmd = ["taskset", "-c", "1", "dnsperf", "-B", "-d", path, "-s", "127.0.0.1",
           "-p", str(Meridian.port), "-l", str(seconds), "-Q", str(rate), "-n", str(passes),
           "-c", "1", "-q", "200", "-t", "2"]
    if tcp:
        cmd += ["-m", "tcp"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def parse(text):
    out = {}
    for line in text.splitlines():
        words = line.split()
        for key, label in (("sent", "Queries sent:"), ("completed", "Queries completed:"),
                           ("lost", "Queries lost:")):
            if label in line:
                out[key] = int(words[2])
        if "Queries per second:" in line:
            out["qps"] = float(words[3])
    return out


def tcp_churn(stop, rate, counts):
    """A new TCP connection per query (static A), `rate` per second, until `stop` is set."""
    wire = dnswire.read_messages(os.path.join(OUT, "static.bin"), limit=1)[0]
    framed = struct.pack("!H", len(wire)) + wire
    gap = 1.0 / rate
    next_at = time.monotonic()
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", Meridian.port), timeout=1) as s:
                s.sendall(framed)
                head = s.recv(2)
                if len(head) == 2:
                    counts["ok"] += 1
                else:
                    counts["failed"] += 1
        except OSError:
            counts["failed"] += 1
        next_at += gap
        time.sleep(max(0.0, next_at - time.monotonic()))


def scrape():
    for path in ("/v1/health", "/metrics", "/v1/status"):
        with urllib.request.urlopen(f"http://{ADMIN}{path}", timeout=5) as resp:
            resp.read()


def mean(values):
    return sum(values) / len(values) if values else 0.0


def run(args, server):
    procs = [dnsperf(w, args.seconds, args.rate) for w in WORKLOADS]
    procs.append(dnsperf("static", args.seconds, args.tcp_rate, tcp=True))
    stop, churn = threading.Event(), {"ok": 0, "failed": 0}
    thread = threading.Thread(target=tcp_churn, args=(stop, args.churn_rate, churn), daemon=True)
    thread.start()
    t0, cpu0 = time.monotonic(), server.cpu()
    samples, reloads, next_reload = [], [], t0 + args.reload_every
    next_sample = t0
    while time.monotonic() - t0 < args.seconds:
        now = time.monotonic()
        if now >= next_sample:
            scrape()
            samples.append({"t": round(now - t0, 1), "rss_kb": status_kb(server.pid, "VmRSS"),
                            "cpu_s": round(server.cpu() - cpu0, 2)})
            print(f"  t={samples[-1]['t']:6.1f}s RSS {samples[-1]['rss_kb'] / 1024:.2f} MB "
                  f"cpu {samples[-1]['cpu_s']} s", flush=True)
            next_sample += args.sample_every
        if now >= next_reload:
            reloads.append(server.reload(deadline_s=30))
            next_reload += args.reload_every
        time.sleep(0.1)
    stop.set()
    thread.join(timeout=5)
    samples.append({"t": round(time.monotonic() - t0, 1), "rss_kb": status_kb(server.pid, "VmRSS"),
                    "cpu_s": round(server.cpu() - cpu0, 2)})
    load = {}
    for name, proc in zip(WORKLOADS + ["tcp"], procs):
        out, _ = proc.communicate(timeout=60)
        with open(os.path.join(SOAK, f"dnsperf-{name}.txt"), "w", encoding="utf-8") as f:
            f.write(out)
        load[name] = parse(out)
    load["tcp_new_connection"] = churn
    return samples, reloads, load


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=240)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--sample-every", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=5000, help="qps per UDP workload")
    parser.add_argument("--tcp-rate", type=int, default=2000, help="qps on the reused TCP connection")
    parser.add_argument("--churn-rate", type=int, default=100, help="new TCP connections per second")
    parser.add_argument("--reload-every", type=float, default=30.0)
    args = parser.parse_args()
    os.makedirs(SOAK, exist_ok=True)
    for w in WORKLOADS:
        if not os.path.exists(os.path.join(OUT, f"{w}.bin")):
            sys.exit(f"bench/out/{w}.bin missing: run bench/run.sh --rounds 1 --duration 2 "
                     "--no-large --no-tcp --servers meridian once")
    backends, server = Backends(), Meridian("soak")
    backends.start()
    try:
        probe = dnswire.read_messages(os.path.join(OUT, "static.bin"), limit=1)[0]
        started = server.start(probe, deadline_s=60)
        if started is None:
            sys.exit("meridian did not answer")
        samples, reloads, load = run(args, server)
        hwm = status_kb(server.pid, "VmHWM")
        cpu_total = server.cpu()
    finally:
        server.stop()
        backends.stop()
    after = [s for s in samples if s["t"] >= args.warmup]
    first = [s["rss_kb"] for s in after if s["t"] < args.warmup + 60]
    last = [s["rss_kb"] for s in samples if s["t"] >= samples[-1]["t"] - 60]
    result = {
        "seconds": args.seconds, "warmup_s": args.warmup,
        "rss_start_mb": round(samples[0]["rss_kb"] / 1024, 2),
        "rss_end_mb": round(samples[-1]["rss_kb"] / 1024, 2),
        "rss_max_mb": round(max(s["rss_kb"] for s in samples) / 1024, 2),
        "vmhwm_mb": round(hwm / 1024, 2),
        "rss_first_minute_after_warmup_mb": round(mean(first) / 1024, 2),
        "rss_last_minute_mb": round(mean(last) / 1024, 2),
        "growth_mb": round((mean(last) - mean(first)) / 1024, 2),
        "cpu_percent": round(100 * samples[-1]["cpu_s"] / samples[-1]["t"], 1),
        "cpu_total_s": round(cpu_total, 1),
        "reloads": len(reloads), "reloads_ok": sum(1 for r in reloads if r is not None),
        "load": load, "samples": samples,
    }
    with open(os.path.join(SOAK, "results.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=1))


if __name__ == "__main__":
    main()
