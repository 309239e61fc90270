#!/usr/bin/env python3
"""Writes the benchmark's dnsperf query files (binary format, `dnsperf -B`) into bench/out/.

Each query is a full DNS message preceded by its 2-byte length (RFC 1035 4.2.2), so every
geo query carries its own EDNS Client Subnet option. Subnets are drawn from the networks of
the GeoIP database (bench/out/networks.txt, written by examples/bench_country_mmdb.rs):
a country picked uniformly, then one of its networks, then a random /24 (IPv4) or /56 (IPv6)
inside it; 10% are IPv6. The seed is fixed, so the files are the same on every run.

Usage: gen_queries.py [--out DIR] [--count N] [--seed S]
"""

import argparse
import ipaddress
import os
import random
import struct
import sys

ZONE = "bench.test."
TYPE_A = 1
CLASS_IN = 1
OPT = 41
ECS = 8
UDP_PAYLOAD = 1232


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii")
        out += bytes([len(raw)]) + raw
    return out + b"\x00"


def ecs_option(net):
    """The RFC 7871 option for a network: family, source prefix, scope 0, truncated address."""
    family = 1 if net.version == 4 else 2
    prefix = net.prefixlen
    addr = net.network_address.packed[: (prefix + 7) // 8]
    body = struct.pack("!HBB", family, prefix, 0) + addr
    return struct.pack("!HH", ECS, len(body)) + body


def message(name, subnet=None):
    """A query with RD clear, EDNS0 (1232 bytes) and optionally ECS; ID 0 (dnsperf sets it)."""
    header = struct.pack("!HHHHHH", 0, 0, 1, 0, 0, 1)
    question = encode_name(name) + struct.pack("!HH", TYPE_A, CLASS_IN)
    options = ecs_option(subnet) if subnet is not None else b""
    opt = b"\x00" + struct.pack("!HHIH", OPT, UDP_PAYLOAD, 0, len(options)) + options
    wire = header + question + opt
    return struct.pack("!H", len(wire)) + wire


def load_networks(path):
    """{(family, country): [network, ...]} from `CIDR COUNTRY` lines."""
    by_key = {}
    with open(path, encoding="ascii") as lines:
        for line in lines:
            parts = line.split()
            if len(parts) != 2:
                continue
            net = ipaddress.ip_network(parts[0])
            by_key.setdefault((net.version, parts[1]), []).append(net)
    return by_key


def client_subnet(rng, by_key, countries):
    """A random /24 or /56 (or the network itself when narrower) in a random country."""
    version = 6 if rng.random() < 0.10 else 4
    country = rng.choice(countries[version])
    net = rng.choice(by_key[(version, country)])
    source = 24 if version == 4 else 56
    if net.prefixlen >= source:
        return net
    bits = source - net.prefixlen
    offset = rng.randrange(1 << bits) << (net.max_prefixlen - source)
    base = int(net.network_address) + offset
    return ipaddress.ip_network((base, source))


def write(path, messages):
    with open(path, "wb") as out:
        for wire in messages:
            out.write(wire)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "out"))
    parser.add_argument("--count", type=int, default=200_000, help="distinct geo and NXDOMAIN queries")
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    by_key = load_networks(os.path.join(args.out, "networks.txt"))
    countries = {v: sorted(c for (fam, c) in by_key if fam == v) for v in (4, 6)}
    if not countries[4] or not countries[6]:
        sys.exit("networks.txt has no IPv4 or no IPv6 networks")

    write(os.path.join(args.out, "static.bin"), [message("static." + ZONE)])
    write(os.path.join(args.out, "weighted.bin"), [message("weighted." + ZONE)])
    geo = [message("geo." + ZONE, client_subnet(rng, by_key, countries)) for _ in range(args.count)]
    write(os.path.join(args.out, "geo.bin"), geo)
    nx = []
    for _ in range(args.count):
        label = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
        nx.append(message(f"nx-{label}.{ZONE}"))
    write(os.path.join(args.out, "nxdomain.bin"), nx)
    print(f"query files in {args.out}: static, weighted, geo ({args.count} subnets from "
          f"{len(countries[4])} v4 / {len(countries[6])} v6 countries), nxdomain ({args.count} names)")


if __name__ == "__main__":
    main()
