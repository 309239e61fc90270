#!/usr/bin/env bash
# Profiles Meridian on one workload (default: static) and writes the reports to bench/out/profile/WORKLOAD/:
#   callgrind.txt  instructions per function (inclusive), measured under valgrind at 3,000 qps
#                  for 15 s with start-up excluded (--instr-atstart=no, switched on once it answers)
#   perf.txt       where the CPU time goes at full speed (perf record -e cpu-clock), by DSO and
#                  by symbol: kernel vs Meridian vs libc
#   strace.txt     system calls per query at full speed
# Run bench/run.sh once first (it builds the binary and the query files). Takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
workload="${1:-static}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
bin="$CARGO_TARGET_DIR/release/meridian"
out=bench/out/profile/$workload
mkdir -p "$out"
port=15353
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

wait_up() {
  for _ in $(seq 1 200); do
    dig +short +time=1 +tries=1 @127.0.0.1 -p $port static.bench.test >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}
load() {  # seconds, extra dnsperf options
  taskset -c 1 dnsperf -B -d "bench/out/$workload.bin" -s 127.0.0.1 -p $port -l "$1" -c 1 -q 100 "${@:2}" \
    | grep -E "Queries (completed|per second)"
}

echo "== callgrind ($workload, 3000 qps, 15 s)"
taskset -c 0 valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/callgrind.out" \
  "$bin" serve --config bench/meridian.toml >"$out/valgrind.log" 2>&1 &
pid=$!
pids+=($pid)
wait_up
sleep 2
callgrind_control -i on $pid >/dev/null
load 15 -Q 3000
callgrind_control -i off $pid >/dev/null
kill $pid; wait $pid || true
callgrind_annotate --inclusive=yes "$out/callgrind.out" >"$out/callgrind.txt" 2>/dev/null
callgrind_annotate "$out/callgrind.out" >"$out/callgrind-self.txt" 2>/dev/null

echo "== perf ($workload, full speed, 8 s)"
taskset -c 0 "$bin" serve --config bench/meridian.toml >"$out/meridian.log" 2>&1 &
pid=$!
pids+=($pid)
wait_up
timeout 20 perf record -q -e cpu-clock -F 4999 -p $pid -o "$out/perf.data" >/dev/null 2>&1 &
perf_pid=$!
sleep 0.5
load 8
kill -INT $perf_pid; wait $perf_pid || true
set +o pipefail
{ perf report -i "$out/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -v '^#' | grep -v '^$'
  perf report -i "$out/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -60
} >"$out/perf.txt"
set -o pipefail

echo "== strace ($workload, full speed, 2 s)"
timeout 4 strace -f -c -p $pid -o "$out/strace.txt" &
st=$!
sleep 0.5
load 2
wait $st || true
kill $pid; wait $pid || true
head -8 "$out/strace.txt"
echo "reports in $out/: callgrind.txt callgrind-self.txt perf.txt strace.txt"
