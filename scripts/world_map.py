#!/usr/bin/env python3
"""Converts Natural Earth 110m country borders into the console's map file (run once, committed).

Input: countries-110m.json from the npm package `world-atlas` 2.0.2 (ISC licence, Mike
Bostock; the shapes are Natural Earth's, public domain), fetched with
`npm pack world-atlas@2.0.2`, and ISO 3166-1 from Debian's `iso-codes`
(/usr/share/iso-codes/json/iso_3166-1.json) to turn numeric country ids into alpha-2 codes.
Output: src/admin/ui/world.json, {"width", "height", "countries": {"DE": "M…Z", ...}}: one
SVG path per country in an equirectangular projection (x = (lon + 180) × 2,
y = (90 − lat) × 2), rounded to a tenth. The console only draws these paths (admin/ui/app.js).

Usage: scripts/world_map.py PATH/TO/countries-110m.json [iso_3166-1.json]
"""

import json
import os
import sys

SCALE = 2.0


def decode_arcs(topo):
    sx, sy = topo["transform"]["scale"]
    tx, ty = topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x += dx
            y += dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring(arcs, indexes):
    points = []
    for i in indexes:
        arc = arcs[i] if i >= 0 else list(reversed(arcs[~i]))
        points.extend(arc if not points else arc[1:])
    return points


def project(lon, lat):
    return round((lon + 180) * SCALE, 1), round((90 - lat) * SCALE, 1)


def unwrap(r):
    """Keeps a ring continuous across the antimeridian (longitudes may leave -180..180)."""
    out = []
    for lon, lat in r:
        if out:
            prev = out[-1][0]
            while lon - prev > 180:
                lon -= 360
            while prev - lon > 180:
                lon += 360
        out.append((lon, lat))
    return out


def path(rings):
    out = []
    for r in rings:
        r = unwrap(r)
        if len(r) < 3:
            continue
        lons = [lon for lon, _ in r]
        # A ring that crosses the antimeridian is drawn twice, once on each side.
        shifts = [0] + ([-360] if max(lons) > 180 else []) + ([360] if min(lons) < -180 else [])
        for shift in shifts:
            pts = [project(lon + shift, lat) for lon, lat in r]
            first = "M%g %g" % pts[0]
            rest = "".join("L%g %g" % p for p in pts[1:])
            out.append(first + rest + "Z")
    return "".join(out)


def main():
    src = sys.argv[1]
    iso = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/iso-codes/json/iso_3166-1.json"
    topo = json.load(open(src, encoding="utf-8"))
    codes = {c["numeric"]: c["alpha_2"] for c in json.load(open(iso, encoding="utf-8"))["3166-1"]}
    arcs = decode_arcs(topo)
    countries = {}
    for geom in topo["objects"]["countries"]["geometries"]:
        code = codes.get(str(geom.get("id", "")).zfill(3))
        if not code:
            continue
        if geom["type"] == "Polygon":
            polygons = [geom["arcs"]]
        elif geom["type"] == "MultiPolygon":
            polygons = geom["arcs"]
        else:
            continue
        rings = [ring(arcs, r) for poly in polygons for r in poly]
        countries[code] = countries.get(code, "") + path(rings)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "admin", "ui", "world.json")
    with open(out, "w", encoding="ascii") as f:
        json.dump({"width": int(360 * SCALE), "height": int(180 * SCALE),
                   "source": "Natural Earth 110m via world-atlas 2.0.2 (ISC); public domain shapes",
                   "countries": countries}, f, separators=(",", ":"), sort_keys=True)
    print(f"{len(countries)} countries -> {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
