#!/usr/bin/env bash
# Meridian vs gdnsd on loopback: build, prepare bench/out/, run bench/bench.py, print the table.
# Manual and bounded in time (not part of .ci/run). Every option is passed to bench/bench.py:
#   --rounds N          interleaved rounds, each server started once per round (default 3)
#   --duration S        seconds per full-speed dnsperf run (default 8)
#   --workloads LIST    static,geo,weighted,nxdomain (default: all)
#   --servers LIST      meridian,gdnsd (default: both)
#   --latency-rate Q    fixed rate for the latency percentiles (default 20000 qps)
#   --no-tcp            skip the TCP run
#   --no-large          skip the large-config start-up and reload test
# Environment: CARGO_TARGET_DIR (where the release build goes), SKIP_BUILD=1 (use the existing
# binary), BENCH_TIMEOUT (seconds, default 1500: the whole run is killed after that).
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in dnsperf gdnsd gdnsdctl taskset python3 cargo; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not found (apt-get install dnsperf gdnsd)" >&2; exit 1; }
done
[ "$(nproc)" -ge 2 ] || { echo "run.sh: needs 2 cores (server on core 0, dnsperf on core 1)" >&2; exit 1; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release --bin meridian --example bench_country_mmdb
fi

bench/prepare.sh "$@"

exec timeout --signal=INT "${BENCH_TIMEOUT:-1500}" python3 bench/bench.py "$@"
