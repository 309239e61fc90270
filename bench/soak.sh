#!/usr/bin/env bash
# Soak (issue 8): several minutes of mixed load on Meridian, sampling its RSS every 10 s.
# Needs the query files of bench/out/ (run `bench/run.sh --rounds 1 --duration 2 --no-large
# --no-tcp --servers meridian` once). Bounded: the whole script is killed after
# BENCH_TIMEOUT seconds (default: --seconds + 120). Options go to bench/soak.py:
#   --seconds S        load duration (default 240)     --warmup S       (default 30)
#   --rate Q           qps per UDP workload (5000)     --tcp-rate Q     reused TCP connection (2000)
#   --churn-rate N     new TCP connections/s (100)     --reload-every S SIGHUP period (30)
# Environment: CARGO_TARGET_DIR, SKIP_BUILD=1, MERIDIAN_BIN, BENCH_TIMEOUT.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in dnsperf taskset python3; do
  command -v "$tool" >/dev/null || { echo "soak.sh: $tool not found" >&2; exit 1; }
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
if [ "${SKIP_BUILD:-0}" != 1 ] && [ -z "${MERIDIAN_BIN:-}" ]; then
  cargo build --release --bin meridian
fi
seconds=240
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  [ "${args[$i]}" = --seconds ] && seconds="${args[$((i + 1))]}"
done
cd bench
exec timeout --signal=INT "${BENCH_TIMEOUT:-$((seconds + 120))}" python3 soak.py "$@"
