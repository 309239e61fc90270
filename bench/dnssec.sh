#!/usr/bin/env bash
# Meridian's CPU per query with DNSSEC (issue 18): DO=1 against DO=0 on a signed copy of the
# bench zone (static and geo answers, their signatures cached), and the cost of a new
# nonexistent name (each one signs its NSEC). Builds the release binary, prepares bench/out/,
# then runs bench/dnssec.py under a timeout. Manual, loopback only, about 1.5 minutes with
# the defaults; every option is passed to dnssec.py:
#   --rounds N        rounds, each starting Meridian once (default 3)
#   --duration S      seconds per full-speed dnsperf run (default 3)
#   --workloads LIST  static,geo,nx (default)
# Environment: CARGO_TARGET_DIR, SKIP_BUILD=1 (use the binary already built), BENCH_TIMEOUT
# (seconds, default 300: the run is stopped after that).
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in dnsperf curl taskset python3 cargo; do
  command -v "$tool" >/dev/null || { echo "dnssec.sh: $tool not found (apt-get install dnsperf curl)" >&2; exit 1; }
done
[ "$(nproc)" -ge 2 ] || { echo "dnssec.sh: needs 2 cores (server on core 0, dnsperf on core 1)" >&2; exit 1; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release --bin meridian --example bench_country_mmdb
fi
bench/prepare.sh --no-large

exec timeout --signal=INT "${BENCH_TIMEOUT:-300}" python3 bench/dnssec.py "$@"
