#!/usr/bin/env python3
"""Evaluates latency steering on a synthetic world (bench/world.py) through the real server.

For each coverage: starts the release server (loopback only) with a zone of five
datacenters and three services on the same pools (`www`: policy latency, `near`: nearest,
`geo`: continent map), imports the world's simulated RUM with `POST /v1/latency/import`
(the server's real import path), waits until the neighbour aggregates are published,
then queries every network with its ECS subnet over UDP and compares the chosen
datacenter's true RTT with the oracle's (the lowest true RTT).

Reports per policy and coverage: mean excess over the oracle (Σ chosen / Σ oracle − 1),
the share of optimal choices, and the p99 excess in ms. The "great-circle fallback" rows
are what latency steering did before neighbour estimates, rebuilt from the server's own
answers: a measured network gets its fully measured answer (the 100 % run), any other
network the `nearest` answer (the great-circle estimate ranks like `nearest`).

Usage: latency_eval.py [--seed S] [--networks N] [--coverage 1,0.5,0.2,0.05]
                       [--as-detour P] [--country-detour P] [--spread-km KM]
                       [--max-seconds T]
Build first: cargo build --release. Writes bench/out/world/ (config, zone, log).
"""

import argparse
import json
import os
import sys
import time
import urllib.request

import dnswire
import gen_queries
import servers
import world

PORT = 15363
ADMIN = "127.0.0.1:19163"
TOKEN = "world-eval-token"
OUT = os.path.join(servers.OUT, "world")
POLICIES = [("latency", "www"), ("nearest", "near"), ("geo", "geo")]
GEO_MAP = {"EU": "fra", "AF": "fra", "NA": "iad", "SA": "gru", "AS": "sin", "OC": "sin", "AN": "gru"}


def write_config():
    os.makedirs(os.path.join(OUT, "zones"), exist_ok=True)
    zone = [
        'origin = "world.test."', "ttl = 300", 'ns = ["ns1"]', "",
        "[soa]", 'mname = "ns1"', 'rname = "hostmaster"', "serial = 1", "minimum = 60", "",
        "[records.ns1]", 'A = "127.0.0.53"', "",
    ]
    for i, (name, (lat, lon), _) in enumerate(world.DATACENTERS):
        zone += [f"[datacenters.{name}]", f"coordinates = [{lat}, {lon}]", ""]
        zone += [f"[pools.{name}]", f'members = [{{ address = "192.0.2.{i + 1}", datacenter = "{name}" }}]', ""]
    pools = ", ".join(f'"{d[0]}"' for d in world.DATACENTERS)
    for policy, svc in POLICIES:
        zone += [f"[services.{svc}]", f'policy = "{policy}"', f"pools = [{pools}]", "ttl = 30", ""]
    cont = ", ".join(f'{c} = ["{d}"]' for c, d in GEO_MAP.items())
    zone += ["[services.geo.geo]", f'default = [{pools}]', f"continent = {{ {cont} }}", ""]
    with open(os.path.join(OUT, "zones", "world.test.toml"), "w", encoding="utf-8") as f:
        f.write("\n".join(zone))
    with open(os.path.join(OUT, "meridian.toml"), "w", encoding="utf-8") as f:
        f.write(
            f'listen = ["127.0.0.1:{PORT}"]\nudp_sockets_per_address = 1\n'
            f'zones_dir = "{os.path.join(OUT, "zones")}"\n'
            'geoip = "geoip/geo-whois-asn-country.mmdb"\n'
            f'admin_listen = "{ADMIN}"\nadmin_token = "{TOKEN}"\nlog_level = "warn"\n'
        )


class WorldServer(servers.Meridian):
    port = PORT

    def config_path(self):
        return os.path.join(OUT, "meridian.toml")


def http(path, body=None):
    req = urllib.request.Request(f"http://{ADMIN}{path}", data=body)
    req.add_header("Authorization", f"Bearer {TOKEN}")
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.read().decode()


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def wait_aggregates(deadline_s=40):
    """Seconds until the server publishes neighbour aggregates (None: never)."""
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        if (metric(http("/metrics"), "meridian_latency_neighbour_bytes") or 0) > 0:
            return time.monotonic() - start
        time.sleep(0.5)
    return None


def query_all(nets, svc, deadline):
    """Index of the chosen datacenter per network (None: no answer or out of time)."""
    by_addr = {f"192.0.2.{i + 1}": i for i in range(len(world.DATACENTERS))}
    import ipaddress

    out = []
    for qid, n in enumerate(nets):
        if time.monotonic() > deadline:
            out.append(None)
            continue
        wire = gen_queries.message(f"{svc}.world.test.", ipaddress.ip_network(n.cidr))[2:]
        try:
            _, answers = dnswire.parse_reply(dnswire.ask(PORT, dnswire.with_id(wire, qid), timeout=1.0))
        except (OSError, ValueError):
            out.append(None)
            continue
        out.append(by_addr.get(answers[0]) if answers else None)
    return out


def score(nets, chosen):
    pairs = [(n, c) for n, c in zip(nets, chosen) if c is not None]
    if not pairs:
        return None
    best = sum(min(n.rtt) for n, _ in pairs)
    got = sum(n.rtt[c] for n, c in pairs)
    excess = sorted(n.rtt[c] - min(n.rtt) for n, c in pairs)
    optimal = sum(1 for n, c in pairs if n.rtt[c] == min(n.rtt))
    return {
        "answered": len(pairs),
        "mean_excess_pct": 100.0 * (got / best - 1.0),
        "optimal_pct": 100.0 * optimal / len(pairs),
        "p99_excess_ms": excess[min(len(excess) - 1, int(0.99 * len(excess)))],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--networks", type=int, default=20000)
    ap.add_argument("--coverage", default="1,0.5,0.2,0.05")
    ap.add_argument("--as-detour", type=float, default=0.3)
    ap.add_argument("--country-detour", type=float, default=0.15)
    ap.add_argument("--spread-km", type=float, default=400.0)
    ap.add_argument("--max-seconds", type=float, default=600.0, help="budget for all queries")
    ap.add_argument("--json", action="store_true", help="print the results as JSON too")
    a = ap.parse_args()
    params = world.Params(
        seed=a.seed, networks=a.networks, as_detour=a.as_detour,
        country_detour=a.country_detour, spread_km=a.spread_km,
    )
    t0 = time.monotonic()
    nets = world.draw(params)
    print(f"world: seed {a.seed}, {len(nets)} networks, {len({n.asn for n in nets})} ASes, "
          f"{len({n.country for n in nets})} countries ({time.monotonic() - t0:.1f} s)", file=sys.stderr)
    write_config()
    deadline = time.monotonic() + a.max_seconds
    probe = gen_queries.message("www.world.test.")[2:]
    results = {}
    answers = {}
    for i, coverage in enumerate(float(c) for c in a.coverage.split(",")):
        server = WorldServer("world")
        if server.start(probe, deadline_s=60) is None:
            server.stop()
            sys.exit(f"server did not answer; see {server.log_path}")
        try:
            rows, measured_ids = world.rum(nets, coverage, params, seed=a.seed * 1000 + i)
            measured = len(measured_ids)
            applied = json.loads(http("/v1/latency/import", rows.encode()))
            waited = wait_aggregates() if measured else 0.0
            print(f"coverage {coverage:.0%}: {measured} networks measured, "
                  f"{applied.get('accepted')} rows accepted, aggregates after {waited} s", file=sys.stderr)
            for policy, svc in POLICIES:
                if policy != "latency" and i > 0:
                    continue
                chosen = query_all(nets, svc, deadline)
                answers[policy if i == 0 else coverage] = chosen
                key = policy if policy != "latency" else f"latency {coverage:.0%}"
                results[key] = score(nets, chosen)
            levels = {line.split('"')[1]: int(float(line.rsplit(" ", 1)[1]))
                      for line in http("/metrics").splitlines()
                      if line.startswith("meridian_latency_decisions_total{")}
            print(f"  latency decisions by level: "
                  f"{ {k: v for k, v in levels.items() if v} }", file=sys.stderr)
            if i > 0:
                before = [full if id(n) in measured_ids else near
                          for n, full, near in zip(nets, answers["latency"], answers["nearest"])]
                results[f"great-circle fallback {coverage:.0%}"] = score(nets, before)
        finally:
            server.stop()
    print(f"\n| policy | mean excess over oracle | optimal choices | p99 excess | networks |")
    print("|---|---|---|---|---|")
    for key, r in results.items():
        if r:
            print(f"| {key} | {r['mean_excess_pct']:.1f} % | {r['optimal_pct']:.1f} % | "
                  f"{r['p99_excess_ms']:.1f} ms | {r['answered']} |")
    if a.json:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
