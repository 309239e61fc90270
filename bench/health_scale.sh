#!/usr/bin/env bash
# Health checks at scale (issue 4): 10,000 http targets at a 5 s interval, Meridian on one core.
# Manual and bounded in time (about 2 minutes per run; the whole script is killed after
# BENCH_TIMEOUT seconds, default 600). Options go to bench/health_scale.py:
#   --count N         targets, each its own loopback port from 20000 (default 10000)
#   --jitter D        the check's jitter, e.g. 5s (spread over the interval, default) or 1s
#   --seconds S       measuring window after warm start (default 60)
#   --flap-every K    every K-th backend port alternates 200/503 every 20 s (default 10)
#   --dns-rate Q      dnsperf rate for the DNS check halfway through (default 10000)
# Environment: CARGO_TARGET_DIR, SKIP_BUILD=1, MERIDIAN_BIN, BENCH_TIMEOUT.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in dnsperf taskset python3; do
  command -v "$tool" >/dev/null || { echo "health_scale.sh: $tool not found" >&2; exit 1; }
done
[ "$(nproc)" -ge 2 ] || { echo "health_scale.sh: needs 2 cores" >&2; exit 1; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
if [ "${SKIP_BUILD:-0}" != 1 ] && [ -z "${MERIDIAN_BIN:-}" ]; then
  cargo build --release --bin meridian
fi
# 10,000 listening sockets in the backend, as many probe sockets at worst in Meridian.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 14000 ] || { echo "health_scale.sh: open-file limit $(ulimit -n) < 14000" >&2; exit 1; }
mkdir -p bench/out/health
cd bench
exec timeout --signal=INT "${BENCH_TIMEOUT:-600}" python3 health_scale.py "$@"
