#!/usr/bin/env bash
# PowerDNS live signing as the peer of bench/dnssec.sh (issue 18): its CPU per query with DO=1
# against DO=0, static and new nonexistent names. Manual, loopback only, about a minute with the
# defaults; options go to bench/pdns_signing.py (--rounds N, --duration S, --names N).
# Needs: apt-get install pdns-server pdns-backend-sqlite3 dnsperf.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in pdns_server pdnsutil dnsperf taskset python3; do
  command -v "$tool" >/dev/null || { echo "pdns_signing.sh: $tool not found (apt-get install pdns-server pdns-backend-sqlite3 dnsperf)" >&2; exit 1; }
done
[ -f /usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql ] || { echo "pdns_signing.sh: apt-get install pdns-backend-sqlite3" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "pdns_signing.sh: needs 2 cores (server on core 0, dnsperf on core 1)" >&2; exit 1; }
mkdir -p bench/out
exec timeout --signal=INT "${BENCH_TIMEOUT:-300}" python3 bench/pdns_signing.py "$@"
