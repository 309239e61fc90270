#!/usr/bin/env bash
# Writes what the benchmarks read into bench/out/ (GeoIP in MaxMind layout, dnsperf query
# files, and unless --no-large is given the large configuration), skipping what is up to date.
# Needs the release example bench_country_mmdb under $CARGO_TARGET_DIR (default ./target).
# Called by bench/run.sh and bench/cluster_cost.sh; the arguments are theirs.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

mkdir -p bench/out
geoip=geoip/geo-whois-asn-country.mmdb
if [ ! -s bench/out/country.mmdb ] || [ "$geoip" -nt bench/out/country.mmdb ]; then
  "$CARGO_TARGET_DIR/release/examples/bench_country_mmdb" "$geoip" bench/out/country.mmdb bench/out/networks.txt
fi
if [ ! -s bench/out/geo.bin ] || [ bench/gen_queries.py -nt bench/out/geo.bin ] \
   || [ bench/out/networks.txt -nt bench/out/geo.bin ]; then
  python3 bench/gen_queries.py
fi
case " $* " in
  *" --no-large "*) ;;
  *)
    if [ ! -s bench/out/large/zones/cidr.txt ] || [ bench/gen_large.py -nt bench/out/large/zones/cidr.txt ] \
       || [ bench/zones/bench.test.toml -nt bench/out/large/zones/cidr.txt ] \
       || [ bench/gdnsd/config -nt bench/out/large/zones/cidr.txt ]; then
      python3 bench/gen_large.py
    fi
    ;;
esac
