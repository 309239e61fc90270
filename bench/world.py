#!/usr/bin/env python3
"""Synthetic world for latency steering: client networks, ground-truth RTT, simulated RUM.

Client networks are real IPv4 /24s and IPv6 /48s drawn from the shipped databases
(geoip/geo-whois-asn-country.mmdb for the country, geoip/asn.mmdb for the origin AS):
anchor addresses are drawn uniformly until both databases know them, then a cluster of
networks of the same AS and country around each anchor (cluster sizes Pareto, at most
`cluster_max`), as eyeball networks cluster in a few ASes.

Ground truth, per network n and datacenter d (all parameters seeded and listed in `Params`):

    rtt(n, d) = access(n) + 2 × km(n, d) / 200 × stretch(AS) + detour(n, d) + noise(n, d)

- the network's true position is its country's centroid (src/geo/countries.rs, what the
  server sees) moved by a per-(AS, country) offset of up to `spread_km` (more in large
  countries) plus up to 100 km per network: the server only knows the centroid;
- access(n) uniform in 2..12 ms; stretch(AS) uniform in 1.3..2.0; noise normal, sd 2 ms;
- detours hit whole groups: with probability `as_detour` an AS gets +40..150 ms to one
  datacenter (its networks' nearest one, else a random one) in every country; with
  probability `country_detour` a country gets the same to its nearest datacenter.

RUM at coverage c: a random share c of the networks, for every datacenter, one row of
`samples` beacons whose mean is the true RTT plus normal noise (sd 1.5 ms).
"""

import ipaddress
import math
import os
import random
import re
from dataclasses import dataclass, field

import mmdb

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# The five datacenters: name, (lat, lon), continent.
DATACENTERS = [
    ("fra", (50.11, 8.68), "EU"),
    ("iad", (39.04, -77.49), "NA"),
    ("sjc", (37.36, -121.93), "NA"),
    ("sin", (1.35, 103.82), "AS"),
    ("gru", (-23.43, -46.47), "SA"),
]
LARGE = {"US", "CA", "RU", "BR", "AU", "CN", "IN", "AR", "KZ", "MX", "ID"}


@dataclass
class Params:
    seed: int = 1
    networks: int = 20000
    ipv6_share: float = 0.1
    cluster_mean: float = 8.0
    cluster_max: int = 64
    spread_km: float = 400.0
    as_detour: float = 0.3
    country_detour: float = 0.15
    detour_ms: tuple = (40.0, 150.0)
    samples: int = 20


@dataclass
class Network:
    cidr: str
    country: str
    asn: int
    pos: tuple
    rtt: list = field(default_factory=list)


def km(a, b):
    la1, lo1, la2, lo2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def centroids():
    """{country: ((lat, lon), continent)} from Meridian's own country table."""
    text = open(os.path.join(ROOT, "src", "geo", "countries.rs"), encoding="utf-8").read()
    out = {}
    for cc, cont, lat, lon in re.findall(r'c\(b"([A-Z]{2})", ([A-Z]{2}), (-?[\d.]+), (-?[\d.]+)\)', text):
        out[cc] = ((float(lat), float(lon)), cont)
    return out


def moved(pos, rng, radius_km):
    """`pos` moved in a random direction by up to `radius_km`."""
    d = radius_km * math.sqrt(rng.random()) / 111.0
    t = rng.random() * 2 * math.pi
    lat = max(-85.0, min(85.0, pos[0] + d * math.sin(t)))
    lon = pos[1] + d * math.cos(t) / max(0.2, math.cos(math.radians(lat)))
    return (lat, ((lon + 180.0) % 360.0) - 180.0)


def _random_anchor(rng, v6):
    if v6:
        # Where the RIRs allocate most: 2001::/16, 2400::/12, 2600::/12, 2800::/12, 2a00::/12.
        top = rng.choice([0x2001, 0x2400, 0x2600, 0x2800, 0x2A00])
        top |= 0 if top == 0x2001 else rng.getrandbits(4) << 4 | rng.getrandbits(4)
        return ipaddress.IPv6Address(top << 112 | rng.getrandbits(112))
    while True:
        a = rng.getrandbits(32)
        first = a >> 24
        if 1 <= first <= 223 and first not in (10, 127, 100, 169, 172, 192, 198):
            return ipaddress.IPv4Address(a)


def draw(p: Params):
    """The world's networks (ground truth filled in), deterministic for `p`."""
    rng = random.Random(p.seed)
    country_db = mmdb.Reader(os.path.join(ROOT, "geoip", "geo-whois-asn-country.mmdb"))
    asn_db = mmdb.Reader(os.path.join(ROOT, "geoip", "asn.mmdb"))
    cents = centroids()
    seen = set()
    nets = []
    homes = {}

    def place(addr):
        _, c = country_db.lookup(addr)
        plen, a = asn_db.lookup(addr)
        cc = (c or {}).get("country_code")
        asn = (a or {}).get("autonomous_system_number")
        if not cc or not asn or cc not in cents:
            return None
        return cc, asn, plen

    while len(nets) < p.networks:
        v6 = rng.random() < p.ipv6_share
        anchor = _random_anchor(rng, v6)
        found = place(anchor)
        if found is None:
            continue
        cc, asn, plen = found
        # Huge blocks (a /8 of one AS) would dominate a uniform draw; eyeballs do not.
        if not v6 and plen < 16 and rng.random() > 2.0 ** (plen - 16):
            continue
        home = homes.get((asn, cc))
        if home is None:
            radius = p.spread_km * (3.0 if cc in LARGE else 1.0)
            home = homes[(asn, cc)] = moved(cents[cc][0], rng, radius)
        k = min(p.cluster_max, max(1, int(rng.paretovariate(1.2) * p.cluster_mean / 6)))
        width, size = (128, 48) if v6 else (32, 24)
        plen = min(plen, size)
        base = int(anchor) >> (width - plen) << (width - plen)
        for _ in range(k * 2):
            if len(nets) >= p.networks or k <= 0:
                break
            inside = rng.getrandbits(width - plen) if plen < width else 0
            addr = base | inside
            net = ipaddress.ip_network((addr >> (width - size) << (width - size), size))
            got = place(net.network_address)
            if net in seen or got is None or got[:2] != (cc, asn):
                continue
            seen.add(net)
            nets.append(Network(str(net), cc, asn, moved(home, rng, 100.0)))
            k -= 1
    truth(nets, p, rng)
    return nets


def truth(nets, p: Params, rng):
    """Fills in every network's true RTT to each datacenter."""
    stretch, as_detour, country_detour = {}, {}, {}
    for n in sorted({n.asn for n in nets}):
        stretch[n] = rng.uniform(1.3, 2.0)
        if rng.random() < p.as_detour:
            as_detour[n] = (rng.randrange(len(DATACENTERS)), rng.uniform(*p.detour_ms), rng.random() < 0.5)
    for c in sorted({n.country for n in nets}):
        if rng.random() < p.country_detour:
            country_detour[c] = rng.uniform(*p.detour_ms)
    for n in nets:
        dist = [km(n.pos, dc[1]) for dc in DATACENTERS]
        nearest = min(range(len(dist)), key=dist.__getitem__)
        access = rng.uniform(2.0, 12.0)
        rtt = [access + 2 * d / 200 * stretch[n.asn] + max(-4.0, rng.gauss(0, 2.0)) for d in dist]
        if n.asn in as_detour:
            dc, ms, to_nearest = as_detour[n.asn]
            rtt[nearest if to_nearest else dc] += ms
        if n.country in country_detour:
            rtt[nearest] += country_detour[n.country]
        n.rtt = [max(1.0, r) for r in rtt]


def rum(nets, coverage, p: Params, seed):
    """CSV rows (network,datacenter,rtt_ms,samples) for a random share `coverage` of nets."""
    rng = random.Random(seed)
    chosen = [n for n in nets if rng.random() < coverage]
    lines = []
    for n in chosen:
        for (name, _, _), r in zip(DATACENTERS, n.rtt):
            lines.append(f"{n.cidr},{name},{max(0.5, r + rng.gauss(0, 1.5)):.2f},{p.samples}")
    return "\n".join(lines) + "\n", {id(n) for n in chosen}
