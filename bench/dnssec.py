#!/usr/bin/env python3
"""CPU per query of Meridian with DNSSEC, DO=1 against DO=0 (run through bench/dnssec.sh).

A signed copy of bench/zones (a CSK made by `meridian dnssec keygen`, ECDSA P-256) goes to
bench/out/dnssec/. Each round starts Meridian once (core 0) with no signing budget and, per
workload, runs dnsperf (core 1) at full speed with the DO=0 queries and with the same queries
with DO set, alternating which goes first. Workloads: `static` and `geo` (bench/out/*.bin;
their signatures are cached after the first query, so this is the steady-state cost of
signed answers) and `nx`: names never asked before, each round its own (every DO=1 reply
signs a new NSEC; the DO=0 run is the unsigned NXDOMAIN). CPU is the server's utime + stime
per completed query, as bench.py measures it. A last run floods new names with the default
budget and reads `meridian_dnssec_budget_exceeded_total` to show the budget at work.
"""

import argparse
import datetime
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time

import bench
import dnswire
from cluster_cost import cpu_table, ratio_table, wait_until
from gen_queries import ZONE, message
from servers import BACKENDS, HERE, OUT, ROOT, Backends, Meridian

DIR = os.path.join(OUT, "dnssec")
MODES = ["do0", "do1"]


def with_do(wire):
    """The query with the DO bit set in its OPT record (the last record of bench queries)."""
    qend = 12
    while wire[qend] != 0:
        qend += 1 + wire[qend]
    opt = qend + 1 + 4
    assert wire[opt] == 0 and wire[opt + 1:opt + 3] == b"\x00\x29", "OPT expected after the question"
    ttl_hi = opt + 1 + 2 + 2 + 2
    return wire[:ttl_hi] + bytes([wire[ttl_hi] | 0x80]) + wire[ttl_hi + 1:]


def write_queries(name, messages):
    with open(os.path.join(OUT, f"{name}.bin"), "wb") as out:
        for wire in messages:
            out.write(len(wire).to_bytes(2, "big") + wire)


def prepare(args, budget):
    """The signed zone, the server config, and the DO=1 and new-name query files."""
    shutil.rmtree(DIR, ignore_errors=True)
    zones = os.path.join(DIR, "zones")
    os.makedirs(zones)
    binary = Meridian().command()[0]
    keygen = subprocess.run([binary, "dnssec", "keygen", "--zone", "bench.test", "--dir",
                             os.path.join(zones, "keys")], capture_output=True, text=True, check=True)
    with open(os.path.join(ROOT, "bench", "zones", "bench.test.toml"), encoding="utf-8") as f:
        text = f.read().replace("port = 18080", f"port = {args.http_port}")
    table = keygen.stdout.replace(os.path.join(zones, ""), "")
    with open(os.path.join(zones, "bench.test.toml"), "w", encoding="utf-8") as f:
        f.write(text + "\n" + table)
    for name, value in (("meridian.toml", 0), ("meridian-budget.toml", budget)):
        with open(os.path.join(DIR, name), "w", encoding="utf-8") as f:
            f.write(f'listen = ["127.0.0.1:{args.port}"]\nudp_sockets_per_address = 1\n'
                    f'zones_dir = "{zones}"\ngeoip = "bench/out/country.mmdb"\n'
                    f'admin_listen = "127.0.0.1:{args.admin_port}"\nlog_level = "info"\n'
                    f"dnssec_signing_budget = {value}\n")
    for workload in ("static", "geo"):
        plain = dnswire.read_messages(bench.query_file(workload))
        write_queries(f"{workload}-do0", plain)
        write_queries(f"{workload}-do1", [with_do(m) for m in plain])
    rng = random.Random(18)
    for r in range(args.rounds + 1):
        names = [f"nx{r}-{rng.getrandbits(48):012x}.{ZONE}" for _ in range(args.nx_count)]
        for mode in MODES:
            wires = [message(n)[2:] for n in names]
            write_queries(f"nx{r}-{mode}", [with_do(w) for w in wires] if mode == "do1" else wires)


class SignedMeridian(Meridian):
    """Meridian with a config of bench/out/dnssec/ on its own ports (other benchmarks may
    hold bench.py's)."""

    def __init__(self, config, port):
        super().__init__("dnssec")
        self.config = config
        self.port = port

    def config_path(self):
        return os.path.join(DIR, self.config)


def start(config, args):
    server = SignedMeridian(config, args.port)
    probe = with_do(dnswire.read_messages(bench.query_file("static"), 1)[0])
    if server.start(probe, deadline_s=60) is None:
        sys.exit(f"meridian did not answer within 60 s; see {server.log_path}")
    wait_until(lambda: "warm start complete" in server.log_text(), args.warm_timeout)
    time.sleep(args.settle)
    return server


def file_of(workload, mode, round_no):
    return f"nx{round_no}-{mode}" if workload == "nx" else f"{workload}-{mode}"


def one_round(round_no, args):
    server = start("meridian.toml", args)
    records = {m: {"mode": m, "workloads": {}} for m in MODES}
    try:
        for workload in args.workloads:
            order = MODES if round_no % 2 == 0 else MODES[::-1]
            for mode in order:
                name = file_of(workload, mode, round_no)
                w = bench.measure_workload(server, name, args)
                records[mode]["workloads"][workload] = w
                print(f"  {mode} {workload:6} {bench.fmt(w['cpu_us_per_query'], 2):>6} us/q "
                      f"(user {bench.fmt(w['user_us_per_query'], 2)} "
                      f"sys {bench.fmt(w['sys_us_per_query'], 2)})  {w['qps']:9.0f} qps  "
                      f"lost {w['lost']}", flush=True)
    finally:
        server.stop()
    return [records[m] for m in MODES]


class PortBackends(Backends):
    """The `web` check's HTTP backends on 127.0.0.2-4 at a port of this benchmark's own."""

    def __init__(self, port):
        super().__init__()
        self.port = port

    def start(self):
        for addr in BACKENDS:
            cmd = ["python3", "-m", "http.server", str(self.port), "--bind", addr, "--directory", HERE]
            self.procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL))


def metric(args, name):
    done = subprocess.run(["curl", "-s", "--max-time", "2",
                           f"http://127.0.0.1:{args.admin_port}/metrics"],
                          capture_output=True, text=True, timeout=10, check=False)
    for line in done.stdout.splitlines():
        if line.startswith(name):
            return float(line.rsplit(" ", 1)[1])
    return None


def budget_run(args, budget):
    """New names with DO=1 at full speed under the default budget."""
    server = start("meridian-budget.toml", args)
    try:
        w = bench.measure_workload(server, f"nx{args.rounds}-do1", args)
        w["budget_exceeded"] = metric(args, "meridian_dnssec_budget_exceeded_total")
        w["signed_on_query_path"] = metric(args, 'meridian_dnssec_signatures_total{path="query"}')
        w["budget"] = budget
    finally:
        server.stop()
    return w


def main():
    parser = argparse.ArgumentParser(description="Meridian CPU per query, DNSSEC DO=1 vs DO=0")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=3, help="seconds per full-speed run")
    parser.add_argument("--workloads", default="static,geo,nx")
    parser.add_argument("--nx-count", type=int, default=200_000, help="new names per round")
    parser.add_argument("--budget", type=int, default=10_000, help="budget of the last run")
    parser.add_argument("--port", type=int, default=15363, help="DNS port (UDP and TCP)")
    parser.add_argument("--admin-port", type=int, default=19163)
    parser.add_argument("--http-port", type=int, default=18090, help="the backends' port")
    parser.add_argument("--settle", type=float, default=0.5)
    parser.add_argument("--warm-timeout", type=float, default=15.0)
    args = parser.parse_args()
    args.workloads = [w for w in args.workloads.split(",") if w]

    for port in (args.port, args.admin_port, args.http_port):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                sys.exit(f"127.0.0.1:{port} is in use (another benchmark running?)")
    started, load_before = time.monotonic(), bench.loadavg()
    prepare(args, args.budget)
    backends, rounds = PortBackends(args.http_port), []
    try:
        backends.start()
        time.sleep(0.5)
        for r in range(args.rounds):
            print(f"round {r + 1}/{args.rounds}", flush=True)
            rounds.append(one_round(r, args))
        flood = budget_run(args, args.budget)
    finally:
        backends.stop()

    runs = [r for rs in rounds for r in rs]
    now = datetime.datetime.now(datetime.timezone.utc)
    meta = {"date": now.date().isoformat(), "time": now.strftime("%H:%M"), "machine": bench.machine(),
            "rev": bench.meridian_rev(), "rounds": args.rounds, "duration": args.duration,
            "wall_s": time.monotonic() - started, "loadavg": [load_before, bench.loadavg()]}
    lines = [f"{meta['date']} {meta['time']} UTC, {meta['machine']}, Meridian {meta['rev']}, "
             f"ECDSA P-256 CSK, {meta['rounds']} rounds × {meta['duration']} s, load average "
             f"{meta['loadavg'][0]} before, {meta['loadavg'][1]} after, {meta['wall_s']:.0f} s.", ""]
    lines += cpu_table(runs, MODES, args.workloads)
    lines += [""] + ratio_table(rounds, runs, MODES, args.workloads, "do0")
    if "nx" in args.workloads:
        extra = [a - b for a, b in zip([r["workloads"]["nx"]["cpu_us_per_query"] for r in runs if r["mode"] == "do1"],
                                       [r["workloads"]["nx"]["cpu_us_per_query"] for r in runs if r["mode"] == "do0"])]
        lines += ["", "New nonexistent name with DO=1, over the unsigned NXDOMAIN: "
                  + ", ".join(f"{x:.1f}" for x in extra) + " µs/query per round."]
    lines += ["", f"Flood of new names with DO=1 under dnssec_signing_budget = {flood['budget']}: "
              f"{flood['qps']:.0f} qps answered, {bench.fmt(flood['cpu_us_per_query'], 2)} CPU µs/query, "
              f"{flood['signed_on_query_path']} signatures made, {flood['budget_exceeded']} replies "
              f"truncated past the budget."]
    text = "\n".join(lines)
    print()
    print(text)
    with open(os.path.join(OUT, "dnssec.json"), "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "rounds": rounds, "flood": flood}, f, indent=1, default=str)
    with open(os.path.join(OUT, "dnssec.md"), "w", encoding="utf-8") as f:
        f.write(text + "\n")
    print(f"(saved in {OUT}/dnssec.md and dnssec.json)")


if __name__ == "__main__":
    main()
