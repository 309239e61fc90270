#!/usr/bin/env python3
"""CPU per query of two Meridian binaries, A and B, on the same machine, paired and alternating.

Each round starts Meridian (bench/meridian.toml, core 0) once per binary, rotating the order
from round to round: `A`, `B` and, unless --no-control, `A2`, a second run of binary A whose
ratio to `A` shows the noise of the machine. In each run it waits for the health warm start,
then runs the workloads at full speed with dnsperf on core 1 and measures the server's
utime + stime per completed query, as bench.py does. Needs bench/out/ prepared
(bench/prepare.sh --no-large). Example, with a timeout as every benchmark here has:

    timeout --signal=INT 900 python3 bench/compare_bins.py \
        --bin-a /path/to/old/meridian --label-a 687e77e \
        --bin-b target/release/meridian --label-b 079f4de
"""

import argparse
import datetime
import hashlib
import json
import os
import socket
import statistics
import sys
import threading
import time
import urllib.request

import bench
import dnswire
from cluster_cost import cpu_table, ratio_table, wait_until
from servers import OUT, Backends, Meridian


class BinMeridian(Meridian):
    """Meridian with the bench config, run from the given binary."""

    def __init__(self, mode, binary):
        super().__init__(f"compare-{mode}")
        self.binary = binary

    def command(self):
        return [self.binary, "serve", "--config", self.config_path()]


LOAD_TOKEN = "compare-bins-load-token-0123456789"


def post_load(rows):
    """POST /v1/load to the bench server's admin API (bench/meridian.toml: 127.0.0.1:19153)."""
    body = json.dumps([{"selector": s, "value": v} for s, v in rows]).encode()
    req = urllib.request.Request("http://127.0.0.1:19153/v1/load", data=body, method="POST",
                                 headers={"Authorization": f"Bearer {LOAD_TOKEN}",
                                          "content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        r.read()


def keep_posting(rows, stop):
    """Re-posts the load rows every 10 s (well inside the 60 s TTL) until `stop` is set."""
    while not stop.wait(10):
        try:
            post_load(rows)
        except OSError as e:
            print(f"  load post failed: {e}", flush=True)


def one_run(mode, binary, args, probe):
    """Start `binary`, wait for the warm start, run the workloads; returns a record."""
    server = BinMeridian(mode, binary)
    record = {"mode": mode, "workloads": {}}
    stop = threading.Event()
    try:
        if server.start(probe, deadline_s=60) is None:
            sys.exit(f"meridian ({mode}) did not answer within 60 s; see {server.log_path}")
        if not wait_until(lambda: "warm start complete" in server.log_text(), args.warm_timeout):
            print(f"  {mode}: no warm start within {args.warm_timeout} s", flush=True)
        if mode == "B" and args.load_b:
            post_load(args.load_b)
            threading.Thread(target=keep_posting, args=(args.load_b, stop), daemon=True).start()
            time.sleep(0.3)
        time.sleep(args.settle)
        for workload in args.workloads:
            if not bench.supported(server, workload):
                sys.exit(f"meridian ({mode}) does not answer {workload} as expected")
            w = bench.measure_workload(server, workload, args)
            record["workloads"][workload] = w
            print(f"  {mode:3} {workload:8} {bench.fmt(w['cpu_us_per_query'], 2):>6} us/q "
                  f"(user {bench.fmt(w['user_us_per_query'], 2)} "
                  f"sys {bench.fmt(w['sys_us_per_query'], 2)})  {w['qps']:9.0f} qps  "
                  f"lost {w['lost']}", flush=True)
        record["peak_rss_kb"] = server.peak_rss_kb()
    finally:
        stop.set()
        server.stop()
    return record


def render(meta, rounds, modes, workloads):
    runs = [r for rs in rounds for r in rs]
    names = {"A": f"A ({meta['label_a']})", "A2": f"A2 ({meta['label_a']} again)",
             "B": f"B ({meta['label_b']})"}
    lines = [f"{meta['date']} {meta['time']} UTC, {meta['machine']}, {meta['rounds']} rounds × "
             f"{meta['duration']} s per workload, load average {meta['loadavg'][0]} before, "
             f"{meta['loadavg'][1]} after, {meta['wall_s']:.0f} s.",
             ""]
    lines += cpu_table(runs, modes, workloads, name=names.get, what="binary")
    lines += [""] + ratio_table(rounds, runs, modes, workloads, "A")
    rss = {m: [r.get("peak_rss_kb", 0) / 1024 for r in runs if r["mode"] == m] for m in modes}
    lines += ["", "Peak RSS (VmHWM), median MB: " + ", ".join(
        f"{m} {statistics.median(v):.1f}" for m, v in rss.items() if v)]
    return "\n".join(lines)


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def main():
    parser = argparse.ArgumentParser(description="CPU per query of two Meridian binaries")
    parser.add_argument("--bin-a", default=os.environ.get("MERIDIAN_BIN_A"), help="binary A (base)")
    parser.add_argument("--bin-b", default=os.environ.get("MERIDIAN_BIN_B"), help="binary B")
    parser.add_argument("--label-a", default="A")
    parser.add_argument("--label-b", default="B")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5, help="seconds per full-speed run")
    parser.add_argument("--workloads", default="static,geo,weighted,nxdomain")
    parser.add_argument("--no-control", dest="control", action="store_false",
                        help="skip the second run of binary A per round (the noise estimate)")
    parser.add_argument("--settle", type=float, default=0.5)
    parser.add_argument("--load-b", default="",
                        help="load-aware steering: SELECTOR=VALUE,... posted to /v1/load for "
                             "binary B only (and again every 10 s), e.g. datacenter:eu=87.5")
    parser.add_argument("--warm-timeout", type=float, default=15.0)
    args = parser.parse_args()
    args.workloads = [w for w in args.workloads.split(",") if w]
    args.load_b = [(r.rsplit("=", 1)[0], float(r.rsplit("=", 1)[1]))
                   for r in args.load_b.split(",") if r]
    os.environ["MERIDIAN_ADMIN_TOKEN"] = LOAD_TOKEN
    for key in ("bin_a", "bin_b"):
        path = getattr(args, key)
        if not path or not os.access(path, os.X_OK):
            sys.exit(f"--{key.replace('_', '-')}: no executable given or found ({path})")
        setattr(args, key, os.path.abspath(path))
    binaries = {"A": args.bin_a, "A2": args.bin_a, "B": args.bin_b}
    modes = ["A", "B"] + (["A2"] if args.control else [])

    for port in (15353, 19153):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                sys.exit(f"127.0.0.1:{port} is in use (another benchmark running?)")
    started, load_before = time.monotonic(), bench.loadavg()
    probe = dnswire.read_messages(bench.query_file("static"), 1)[0]
    backends, rounds = Backends(), []
    try:
        backends.start()
        time.sleep(0.5)
        for r in range(args.rounds):
            order = modes[r % len(modes):] + modes[:r % len(modes)]
            print(f"round {r + 1}/{args.rounds}: {', '.join(order)}", flush=True)
            rounds.append([one_run(mode, binaries[mode], args, probe) for mode in order])
    except KeyboardInterrupt:
        print(f"interrupted after {len(rounds)} complete rounds", flush=True)
    finally:
        backends.stop()
    if not rounds:
        sys.exit("no complete round")

    now = datetime.datetime.now(datetime.timezone.utc)
    meta = {"date": now.date().isoformat(), "time": now.strftime("%H:%M"), "machine": bench.machine(),
            "label_a": args.label_a, "label_b": args.label_b, "bin_a": args.bin_a,
            "bin_b": args.bin_b, "sha256_a": digest(args.bin_a), "sha256_b": digest(args.bin_b),
            "rounds": len(rounds), "duration": args.duration,
            "wall_s": time.monotonic() - started, "loadavg": [load_before, bench.loadavg()]}
    text = render(meta, rounds, modes, args.workloads)
    print()
    print(text)
    with open(os.path.join(OUT, "compare_bins.json"), "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "rounds": rounds}, f, indent=1, default=str)
    with open(os.path.join(OUT, "compare_bins.md"), "w", encoding="utf-8") as f:
        f.write(text + "\n")
    print(f"(saved in {OUT}/compare_bins.md and compare_bins.json)")


if __name__ == "__main__":
    main()
