"""Turns the benchmark's raw results into the Markdown tables printed and kept in the README."""

import collections
import statistics

NAMES = {"meridian": "Meridian", "gdnsd": "gdnsd"}


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def spread(values):
    values = [v for v in values if v is not None]
    if len(values) < 2:
        return ""
    return f" ({min(values):.2f}–{max(values):.2f})"


def num(value, digits=2, scale=1.0):
    return "n/a" if value is None else f"{value * scale:.{digits}f}"


def workload_stats(results, server, workload):
    """Medians over rounds for one server and workload, or None when it was skipped."""
    runs = results.get(server, {}).get("workloads", {}).get(workload)
    if not runs or not runs["udp"]:
        return None
    cpu = [r["cpu_us_per_query"] for r in runs["udp"]]
    lat = runs["latency"]
    return {
        "cpu": median(cpu),
        "cpu_range": spread(cpu),
        "qps": median([r["qps"] for r in runs["udp"]]),
        "p50": median([x["p50"] for x in lat]),
        "p99": median([x["p99"] for x in lat]),
        "p999": median([x["p99.9"] for x in lat]),
        "lost": sum(r["lost"] for r in runs["udp"]),
    }


def tcp_stats(results, server):
    runs = results.get(server, {}).get("tcp") or []
    if not runs:
        return None
    cpu = [r["cpu_us_per_query"] for r in runs]
    return {"cpu": median(cpu), "cpu_range": spread(cpu), "qps": median([r["qps"] for r in runs]),
            "p50": None, "p99": None, "p999": None, "lost": sum(r["lost"] for r in runs)}


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "n/a"
    return f"**{a / b:.2f}**"


def main_table(meta, results):
    rate = meta["args"]["latency_rate"]
    lines = [
        f"| workload | Meridian CPU µs/query | gdnsd CPU µs/query | ratio M/G | Meridian kqps | gdnsd kqps "
        f"| Meridian p50 / p99 / p99.9 µs at {rate // 1000}k qps | gdnsd p50 / p99 / p99.9 µs |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows = [(w, workload_stats(results, "meridian", w), workload_stats(results, "gdnsd", w))
            for w in meta["args"]["workloads"]]
    if meta["args"]["tcp"]:
        rows.append(("TCP (static, 1 reused connection)", tcp_stats(results, "meridian"),
                     tcp_stats(results, "gdnsd")))
    for label, m, g in rows:
        cells = [label]
        for s in (m, g):
            cells.append("skipped" if s is None else num(s["cpu"]) + s["cpu_range"])
        cells.append(ratio(m and m["cpu"], g and g["cpu"]))
        for s in (m, g):
            cells.append("—" if s is None else num(s["qps"], 1, 1e-3))
        for s in (m, g):
            if s is None or s["p50"] is None:
                cells.append("—")
            else:
                cells.append(f"{num(s['p50'], 0, 1e6)} / {num(s['p99'], 0, 1e6)} / {num(s['p999'], 0, 1e6)}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def other_table(results):
    def row(label, fn):
        cells = [label]
        for server in ("meridian", "gdnsd"):
            try:
                cells.append(fn(results.get(server, {})))
            except (KeyError, TypeError, ValueError):
                cells.append("n/a")
        return "| " + " | ".join(cells) + " |"

    def mb(kb):
        return "n/a" if not kb else f"{kb / 1024:.1f} MB"

    def lost(large):
        if large.get("sent") is None:
            return "n/a"
        return f"{large['sent'] - large['completed']} of {large['sent']} (dnsperf lost: {large['lost']})"

    def reload_latency(lat):
        ms = [f"{lat[k] * 1e3:.2f}" for k in ("p99", "p99.9", "max")]
        return f"{' / '.join(ms)} ms ({lat['over_10ms']} of {lat['samples']})"

    return [
        "| | Meridian | gdnsd |",
        "| --- | ---: | ---: |",
        row("peak RSS, bench config (VmHWM)", lambda e: mb(max(e["rss_kb"]))),
        row("start-up until the port answers, bench config", lambda e: f"{median(e['startup_s']) * 1e3:.0f} ms"),
        row("large config: start-up until the port answers", lambda e: f"{e['large']['startup_s']:.2f} s"),
        row("large config: reload (Meridian SIGHUP → \"reload ok\"; gdnsd `gdnsdctl replace`)",
            lambda e: f"{e['large']['reload_s']:.2f} s" + (f" ({e['large']['note']})" if e["large"].get("note") else "")),
        row("large config: queries unanswered during the reload run", lambda e: lost(e["large"])),
        row("large config: reply latency during the reload run, p99 / p99.9 / max "
            "(replies over 10 ms)", lambda e: reload_latency(e["large"]["latency"])),
        row("large config: peak RSS (VmHWM after reload)", lambda e: mb(e["large"]["rss_kb_peak"])),
    ]


def agreement(sanity):
    """How often both servers gave the same answer set, and the weighted answer shares."""
    out = []
    m, g = sanity.get("meridian", {}), sanity.get("gdnsd", {})
    for workload in sorted(set(m) & set(g)):
        if workload == "weighted":
            continue
        pairs = list(zip(m[workload], g[workload]))
        same = sum(1 for a, b in pairs if a == b)
        out.append(f"{workload}: {same}/{len(pairs)} identical answers")
    for server, answers in sorted(sanity.items()):
        if "weighted" in answers:
            counts = collections.Counter(a for ans in answers["weighted"] for a in ans)
            total = sum(counts.values()) or 1
            shares = ", ".join(f"{addr} {n * 100 / total:.0f}%" for addr, n in sorted(counts.items()))
            out.append(f"weighted on {NAMES[server]}: {shares}")
    return out


def render(meta, results, checks):
    a = meta["args"]
    lines = [
        f"Run {meta['date']} on {meta['machine']}; {a['rounds']} rounds × {a['duration']} s per workload, "
        f"medians (min–max over rounds); versions: {meta['versions']}; 1-minute load average "
        f"{meta['loadavg'][0]} before, {meta['loadavg'][1]} after (other jobs share the machine).",
        "",
        *main_table(meta, results),
        "",
        *other_table(results),
        "",
    ]
    if checks:
        lines.append("Answer check on the first queries of each file: " + "; ".join(checks) + ".")
        lines.append("")
    return "\n".join(lines)
