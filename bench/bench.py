#!/usr/bin/env python3
"""Benchmark Meridian against gdnsd on loopback (run through bench/run.sh).

Servers run one after the other, pinned to core 0; dnsperf runs pinned to core 1. Each round
starts every server once (alternating the order), runs every workload at full speed (CPU per
answered query, QPS), at a fixed moderate rate (latency percentiles), over TCP, then records
the peak RSS and stops it. A final phase starts each server with a large configuration and
reloads it under steady load, counting lost queries.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import threading
import time

import dnswire
import report
from servers import OUT, Backends, Gdnsd, Meridian

WORKLOADS = ["static", "geo", "weighted", "nxdomain"]
SERVERS = {"meridian": Meridian, "gdnsd": Gdnsd}
EXPECT_RCODE = {"static": 0, "geo": 0, "weighted": 0, "nxdomain": 3}


def query_file(workload):
    return os.path.join(OUT, f"{workload}.bin")


MAX_QPS = 1_000_000  # with -l, bounds the count too: at most seconds x this many queries
_file_sizes = {}


def passes(workload, seconds):
    """dnsperf -n: passes through the file allowing at most MAX_QPS x seconds queries."""
    if workload not in _file_sizes:
        _file_sizes[workload] = max(1, len(dnswire.read_messages(query_file(workload))))
    return max(1, seconds * MAX_QPS // _file_sizes[workload])


def dnsperf(port, workload, seconds, extra=(), tcp=False):
    """Runs dnsperf on core 1, bounded in time (-l) and count (-n); returns (statistics, stdout)."""
    cmd = ["taskset", "-c", "1", "dnsperf", "-B", "-d", query_file(workload), "-s", "127.0.0.1",
           "-p", str(port), "-l", str(seconds), "-n", str(passes(workload, seconds)),
           "-c", "1", "-q", "100", "-t", "2"]
    if tcp:
        cmd += ["-m", "tcp"]
    cmd += list(extra)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, check=False)
    return parse_dnsperf(done.stdout), done.stdout


def parse_dnsperf(text):
    stats = {"sent": 0, "completed": 0, "lost": 0, "qps": 0.0, "latencies": []}
    for line in text.splitlines():
        words = line.split()
        if line.startswith("> ") and len(words) >= 2:
            try:
                stats["latencies"].append(float(words[-1]))
            except ValueError:
                pass
        elif "Queries sent:" in line:
            stats["sent"] = int(words[2])
        elif "Queries completed:" in line:
            stats["completed"] = int(words[2])
        elif "Queries lost:" in line:
            stats["lost"] = int(words[2])
        elif "Queries per second:" in line:
            stats["qps"] = float(words[3])
        elif "Response codes:" in line:
            stats["rcodes"] = line.split(":", 1)[1].strip()
    return stats


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def supported(server, workload):
    """Whether the server answers the workload's first query as the scenario expects."""
    wire = dnswire.read_messages(query_file(workload), 1)[0]
    try:
        rcode, answers = dnswire.parse_reply(dnswire.ask(server.port, dnswire.with_id(wire, 7)))
    except (OSError, ValueError):
        return False
    if rcode != EXPECT_RCODE[workload]:
        return False
    return rcode != 0 or bool(answers)


def sample_answers(port, workload, count):
    """The A answers to the first `count` queries of a workload, one tuple per query."""
    out = []
    messages = dnswire.read_messages(query_file(workload), count)
    for i in range(count):
        wire = messages[i % len(messages)]
        try:
            _, answers = dnswire.parse_reply(dnswire.ask(port, dnswire.with_id(wire, i + 100)))
        except (OSError, ValueError):
            answers = ["(no reply)"]
        out.append(tuple(sorted(answers)))
    return out


def measure_workload(server, workload, args, tcp=False):
    user0, sys0 = server.cpu_split()
    stats, _ = dnsperf(server.port, workload, args.duration, tcp=tcp)
    user1, sys1 = server.cpu_split()
    user, system = user1 - user0, sys1 - sys0
    cpu = user + system
    done = stats["completed"]
    return {
        "cpu_us_per_query": cpu / done * 1e6 if done else None,
        "user_us_per_query": user / done * 1e6 if done else None,
        "sys_us_per_query": system / done * 1e6 if done else None,
        "qps": stats["qps"],
        "sent": stats["sent"],
        "completed": done,
        "lost": stats["lost"],
        "server_cpu_s": cpu,
    }


def measure_latency(server, workload, args):
    stats, _ = dnsperf(server.port, workload, args.latency_duration,
                       extra=["-Q", str(args.latency_rate), "-v"])
    lat = sorted(stats["latencies"])
    return {f"p{p}": percentile(lat, p) for p in (50, 90, 99, 99.9)} | {
        "samples": len(lat), "lost": stats["lost"]}


def paired_round(classes, args, results, sanity, round_no):
    """Start every server, then run each workload on each in turn (alternating who goes
    first), so that drift on a shared machine lands on both sides of a ratio alike."""
    servers = [cls("bench") for cls in classes]
    try:
        live = [s for s in servers if start_server(s, args, results)]
        time.sleep(args.settle)  # first health-check round (gdnsd does it before answering)
        for i, workload in enumerate(args.workloads):
            order = live if (round_no + i) % 2 == 0 else list(reversed(live))
            for server in order:
                run_workload(server, workload, args, results, sanity)
        for server in live:
            entry = results[server.name]
            if args.tcp:
                tcp = measure_workload(server, "static", args, tcp=True)
                entry["tcp"].append(tcp)
                print(f"  {server.name:8} {'tcp':9} {fmt(tcp['cpu_us_per_query'], 2):>6} us/q  "
                      f"{tcp['qps']:9.0f} qps")
            entry["rss_kb"].append(server.peak_rss_kb())
    finally:
        for server in servers:
            server.stop()


def start_server(server, args, results):
    """Start `server`; record its start-up time; False if it never answered."""
    probe = dnswire.read_messages(query_file("static"), 1)[0]
    startup = server.start(probe, deadline_s=60)
    entry = results.setdefault(server.name, {"workloads": {}, "tcp": [], "startup_s": [], "rss_kb": []})
    if startup is None:
        print(f"  {server.name}: did not answer within 60 s; see {server.log_path}", file=sys.stderr)
        return False
    entry["startup_s"].append(startup)
    return True


def run_workload(server, workload, args, results, sanity):
    """One full-speed run and one fixed-rate latency run of `workload` on `server`."""
    runs = results[server.name]["workloads"].setdefault(
        workload, {"udp": [], "latency": [], "skipped": None})
    if not supported(server, workload):
        runs["skipped"] = "not answered as expected (not supported yet?)"
        print(f"  {server.name:8} {workload:9} skipped: {runs['skipped']}")
        return
    if workload not in sanity.setdefault(server.name, {}):
        sanity[server.name][workload] = sample_answers(server.port, workload, args.sanity_queries)
    udp = measure_workload(server, workload, args)
    runs["udp"].append(udp)
    latency = measure_latency(server, workload, args)
    runs["latency"].append(latency)
    print(f"  {server.name:8} {workload:9} {fmt(udp['cpu_us_per_query'], 2):>6} us/q "
          f"(user {fmt(udp['user_us_per_query'], 2)} sys {fmt(udp['sys_us_per_query'], 2)})  "
          f"{udp['qps']:9.0f} qps  lost {udp['lost']}  p50/p99 at {args.latency_rate} qps: "
          f"{fmt_us(latency['p50'])}/{fmt_us(latency['p99'])} us")


def large_phase(cls, args, results):
    """Start with the large config, then reload it under a steady load; count lost queries."""
    server = cls("large")
    try:
        server_large(server, args, results)
    finally:
        server.stop()


def server_large(server, args, results):
    probe = dnswire.read_messages(query_file("static"), 1)[0]
    startup = server.start(probe, deadline_s=args.large_timeout)
    entry = results.setdefault(server.name, {}).setdefault("large", {})
    if startup is None:
        entry["error"] = f"did not answer within {args.large_timeout} s"
        print(f"  {server.name}: large config {entry['error']}; see {server.log_path}", file=sys.stderr)
        return
    entry["startup_s"] = startup
    entry["rss_kb_after_start"] = server.peak_rss_kb()
    # Long enough to cover a reload up to twice as slow as the start-up, plus margins.
    seconds = int(min(args.large_timeout, 2 + 2 * startup + 8))
    holder = {}

    def steady():
        holder["stats"], _ = dnsperf(server.port, "static", seconds,
                                     extra=["-Q", str(args.reload_rate), "-v"])

    runner = threading.Thread(target=steady)
    runner.start()
    time.sleep(2)
    reload_s = server.reload(deadline_s=args.large_timeout)
    runner.join()
    stats = holder.get("stats", {})
    entry.update({
        "reload_s": reload_s,
        "steady_seconds": seconds,
        "sent": stats.get("sent"),
        "completed": stats.get("completed"),
        "lost": stats.get("lost"),
        "latency": reload_latency(stats.get("latencies", [])),
        "rss_kb_peak": server.peak_rss_kb() if server.alive() else None,
    })
    print(f"  {server.name:8} large: start {fmt(startup, 2)} s, reload {fmt(reload_s, 2)} s, "
          f"sent {entry['sent']} completed {entry['completed']} lost {entry['lost']}, "
          f"latency p99/p99.9/max {fmt_us(entry['latency']['p99'])}/"
          f"{fmt_us(entry['latency']['p99.9'])}/{fmt_us(entry['latency']['max'])} us, "
          f"peak RSS {entry['rss_kb_peak']} kB")
    if reload_s is not None and reload_s + 2 > seconds:
        entry["note"] = "the reload outlasted the steady dnsperf run"
        print(f"  {server.name:8} note: {entry['note']}")


def reload_latency(latencies):
    """Reply latency over the steady run around a reload (seconds): percentiles, the
    slowest reply, and how many took longer than 10 ms."""
    lat = sorted(latencies)
    return {f"p{p}": percentile(lat, p) for p in (50, 99, 99.9)} | {
        "max": lat[-1] if lat else None,
        "over_10ms": sum(1 for v in lat if v > 0.010),
        "samples": len(lat)}


def fmt(value, digits):
    return "n/a" if value is None else f"{value:.{digits}f}"


def fmt_us(seconds):
    return "n/a" if seconds is None else f"{seconds * 1e6:.0f}"


def machine():
    model = "unknown CPU"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in lscpu.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def loadavg():
    with open("/proc/loadavg", encoding="ascii") as f:
        return f.read().split()[0]


def versions():
    done = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}, ", "dnsperf", "gdnsd"],
                          capture_output=True, text=True, check=False)
    return (done.stdout.strip(" ,") or "dnsperf/gdnsd versions unknown") + ", Meridian " + meridian_rev()


def meridian_rev():
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          check=False)
    return done.stdout.strip() or "?"


def main():
    parser = argparse.ArgumentParser(description="Meridian vs gdnsd on loopback")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=8, help="seconds per full-speed run")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--servers", default="meridian,gdnsd")
    parser.add_argument("--latency-rate", type=int, default=20000)
    parser.add_argument("--latency-duration", type=int, default=3)
    parser.add_argument("--no-tcp", dest="tcp", action="store_false")
    parser.add_argument("--no-large", dest="large", action="store_false")
    parser.add_argument("--large-timeout", type=int, default=120)
    parser.add_argument("--reload-rate", type=int, default=10000)
    parser.add_argument("--settle", type=float, default=1.0)
    parser.add_argument("--sanity-queries", type=int, default=400)
    args = parser.parse_args()
    args.workloads = [w for w in args.workloads.split(",") if w]
    names = [s for s in args.servers.split(",") if s]
    for w in args.workloads:
        if w not in WORKLOADS:
            sys.exit(f"unknown workload {w} (known: {', '.join(WORKLOADS)})")
    for s in names:
        if s not in SERVERS:
            sys.exit(f"unknown server {s} (known: {', '.join(SERVERS)})")

    started = time.monotonic()
    load_before = loadavg()
    results, sanity = {}, {}
    backends = Backends()
    backends.start()
    try:
        time.sleep(0.5)
        for r in range(args.rounds):
            print(f"round {r + 1}/{args.rounds}")
            paired_round([SERVERS[name] for name in names], args, results, sanity, r)
        if args.large:
            print("large configuration: start-up and reload under load")
            for name in names:
                large_phase(SERVERS[name], args, results)
    finally:
        backends.stop()

    meta = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "args": vars(args),
        "wall_s": time.monotonic() - started,
        "loadavg": [load_before, loadavg()],
        "versions": versions(),
    }
    text = report.render(meta, results, report.agreement(sanity))
    print()
    print(text)
    with open(os.path.join(OUT, "results.json"), "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1, default=str)
    with open(os.path.join(OUT, "results.md"), "w", encoding="utf-8") as f:
        f.write(text)
    print(f"(saved in {OUT}/results.md and results.json; {meta['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
