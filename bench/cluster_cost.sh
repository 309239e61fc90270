#!/usr/bin/env bash
# Meridian's CPU per query with cluster mode off and on (issue 17): build with the `cluster`
# feature, prepare bench/out/, then run bench/cluster_cost.py under a timeout. Manual, loopback
# only, about 4 minutes with the defaults; every option is passed to cluster_cost.py:
#   --rounds N        rounds, each starting Meridian once per mode (default 5)
#   --duration S      seconds per full-speed dnsperf run (default 5)
#   --workloads LIST  static,geo (default)
#   --no-control      skip the second cluster-off run per round (the noise estimate)
# Environment: CARGO_TARGET_DIR, SKIP_BUILD=1 (use the binary already built), BENCH_TIMEOUT
# (seconds, default 540: the run is stopped after that).
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in dnsperf etcd etcdctl curl taskset python3 cargo; do
  command -v "$tool" >/dev/null || { echo "cluster_cost.sh: $tool not found (apt-get install dnsperf etcd-server etcd-client curl)" >&2; exit 1; }
done
[ "$(nproc)" -ge 2 ] || { echo "cluster_cost.sh: needs 2 cores (server on core 0, dnsperf on core 1)" >&2; exit 1; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release --features cluster --bin meridian --example bench_country_mmdb
fi
bench/prepare.sh --no-large

exec timeout --signal=INT "${BENCH_TIMEOUT:-540}" python3 bench/cluster_cost.py "$@"
