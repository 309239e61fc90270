#!/usr/bin/env python3
"""PowerDNS live signing as a peer for Meridian's DNSSEC cost (issue 18): CPU per query with
DO=1 against DO=0 on the same static name, and per new nonexistent name.

PowerDNS Authoritative (Debian pdns-server + pdns-backend-sqlite3) serves bench.test from a
gsqlite3 database secured with `pdnsutil secure-zone` (ECDSA P-256, its defaults: packet and
signature caches on), pinned to core 0; dnsperf runs on core 1. Loopback only, bounded by
--duration per run. Run through bench/pdns_signing.sh, which checks the tools first.

Usage: pdns_signing.py [--rounds N] [--duration S] [--names N]
"""

import argparse
import os
import random
import shutil
import sqlite3
import struct
import subprocess
import sys

import dnswire
from servers import OUT, Server, cpu_seconds

ZONE = "bench.test."
SCHEMA = "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql"
WORKLOADS = ["static", "nxdomain"]


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii")
        out += bytes([len(raw)]) + raw
    return out + b"\x00"


def message(name, dnssec_ok):
    """A length-prefixed query with EDNS0 (1232 bytes), DO as asked; ID 0 (dnsperf sets it)."""
    header = struct.pack("!HHHHHH", 0, 0, 1, 0, 0, 1)
    question = encode_name(name) + struct.pack("!HH", 1, 1)
    flags = 0x8000 if dnssec_ok else 0
    opt = b"\x00" + struct.pack("!HHHHH", 41, 1232, 0, flags, 0)
    wire = header + question + opt
    return struct.pack("!H", len(wire)) + wire


def query_files(names, seed=20261205):
    """static-do{0,1}.bin and nxdomain-do{0,1}.bin under bench/out/pdns (same names each)."""
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    nx = [f"nx-{''.join(rng.choice(alphabet) for _ in range(12))}.{ZONE}" for _ in range(names)]
    paths = {}
    for do in (0, 1):
        for workload, qnames in (("static", ["static." + ZONE]), ("nxdomain", nx)):
            path = os.path.join(OUT, "pdns", f"{workload}-do{do}.bin")
            with open(path, "wb") as out:
                for qname in qnames:
                    out.write(message(qname, do == 1))
            paths[(workload, do)] = path
    return paths


class PowerDns(Server):
    name = "pdns"
    port = 15355

    def dir(self):
        return os.path.join(OUT, "pdns")

    def prepare(self):
        """A fresh database with bench.test secured by pdnsutil (a new key every round)."""
        db = os.path.join(self.dir(), "pdns.sqlite3")
        if os.path.exists(db):
            os.remove(db)
        with sqlite3.connect(db) as conn, open(SCHEMA, encoding="utf-8") as schema:
            conn.executescript(schema.read())
        conf = os.path.join(self.dir(), "pdns.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(f"launch=gsqlite3\ngsqlite3-database={db}\ngsqlite3-dnssec=yes\n")
            f.write(f"local-address=127.0.0.1\nlocal-port={self.port}\n")
            f.write(f"socket-dir={self.dir()}\nguardian=no\ndaemon=no\nwrite-pid=no\n")
            f.write("webserver=no\napi=no\nprimary=no\nsecondary=no\nloglevel=4\n")
            # No security poll: it would send a query to the internet through the resolver.
            f.write("security-poll-suffix=\n")
            f.write("distributor-threads=1\nreceiver-threads=1\n")
        for args in (
            ["create-zone", "bench.test", "ns1.bench.test"],
            ["add-record", "bench.test", "ns1", "A", "300", "127.0.0.53"],
            ["add-record", "bench.test", "static", "A", "300", "192.0.2.1"],
            ["secure-zone", "bench.test"],
            ["rectify-zone", "bench.test"],
        ):
            done = subprocess.run(["pdnsutil", "--config-dir", self.dir()] + args,
                                  capture_output=True, text=True, check=False)
            if done.returncode != 0:
                sys.exit(f"pdnsutil {' '.join(args)}: {done.stdout}{done.stderr}")

    def command(self):
        return ["pdns_server", f"--config-dir={self.dir()}"]


def dnsperf(path, port, seconds):
    cmd = ["taskset", "-c", "1", "dnsperf", "-B", "-d", path, "-s", "127.0.0.1", "-p", str(port),
           "-l", str(seconds), "-n", str(max(1, seconds * 1_000_000 // count(path))),
           "-c", "1", "-q", "100", "-t", "2"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, check=False)
    stats = {"completed": 0, "qps": 0.0, "rcodes": ""}
    for line in done.stdout.splitlines():
        words = line.split()
        if "Queries completed:" in line:
            stats["completed"] = int(words[2])
        elif "Queries per second:" in line:
            stats["qps"] = float(words[3])
        elif "Response codes:" in line:
            stats["rcodes"] = line.split(":", 1)[1].strip()
    return stats


_counts = {}


def count(path):
    if path not in _counts:
        _counts[path] = max(1, len(dnswire.read_messages(path)))
    return _counts[path]


def one_round(paths, args):
    """{(workload, do): µs of server CPU per answered query} for one server start."""
    server = PowerDns()
    os.makedirs(server.dir(), exist_ok=True)
    probe = message("static." + ZONE, False)[2:]
    if server.start(probe) is None:
        server.stop()
        sys.exit(f"pdns_server did not answer:\n{server.log_text()[-2000:]}")
    out = {}
    try:
        for workload in WORKLOADS:
            for do in (0, 1):
                before = cpu_seconds(server.pid)
                stats = dnsperf(paths[(workload, do)], server.port, args.duration)
                used = cpu_seconds(server.pid) - before
                done = max(1, stats["completed"])
                out[(workload, do)] = (used / done * 1e6, stats["qps"], stats["rcodes"])
    finally:
        server.stop()
    return out


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--names", type=int, default=200_000, help="distinct nonexistent names")
    args = parser.parse_args()
    shutil.rmtree(os.path.join(OUT, "pdns"), ignore_errors=True)
    os.makedirs(os.path.join(OUT, "pdns"))
    paths = query_files(args.names)
    rounds = [one_round(paths, args) for _ in range(args.rounds)]
    print(f"PowerDNS {version()}, {args.rounds} rounds x {args.duration} s per run, "
          "server on core 0, dnsperf on core 1 (median of rounds)\n")
    print("| workload | DO=0 µs/query | DO=1 µs/query | DO=1 / DO=0 | DO=1 qps | rcodes (DO=1) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for workload in WORKLOADS:
        off = median([r[(workload, 0)][0] for r in rounds])
        on = median([r[(workload, 1)][0] for r in rounds])
        qps = median([r[(workload, 1)][1] for r in rounds])
        rcodes = rounds[-1][(workload, 1)][2]
        print(f"| {workload} | {off:.1f} | {on:.1f} | {on / off:.2f} | {qps:,.0f} | {rcodes} |")


def version():
    done = subprocess.run(["pdns_server", "--version"], capture_output=True, text=True, check=False)
    for line in (done.stdout + done.stderr).splitlines():
        if "PowerDNS Authoritative Server" in line:
            return line.split("Server", 1)[1].split("(")[0].strip()
    return "?"


if __name__ == "__main__":
    main()
