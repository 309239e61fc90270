#!/usr/bin/env bash
# Run Meridian's cargo-fuzz targets for a bounded time each.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]      (default: 60 s, every target)
#
# Targets (fuzz/fuzz_targets/): handle_packet (raw packets into Handler::handle; a reply or
# silence, never a panic, and every reply obeys fuzz/src/oracle.rs) and compile_zone (any
# text into compile_zone; errors or a zone, never a panic). Needs a nightly toolchain and
# cargo-fuzz (`cargo install cargo-fuzz`). The stable test suite runs the same properties
# as bounded loops (tests/it/wire/fuzz_loops.rs, tests/it/wire/properties.rs).
#
# A crash is saved under fuzz/artifacts/TARGET/; reproduce it with
#   cd fuzz && cargo +nightly fuzz run TARGET artifacts/TARGET/crash-...
# and turn it into a regression test in tests/it/fault_injection/regressions.rs.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-60}"
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(handle_packet compile_zone)

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "fuzz.sh: no nightly toolchain (rustup toolchain install nightly)" >&2
  exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: cargo-fuzz is not installed (cargo install cargo-fuzz)" >&2
  exit 2
fi

target_dir="${CARGO_TARGET_DIR:-target}/fuzz"
# compile_zone starts from every zone file in the repository.
zone_seeds="$(mktemp -d)"
trap 'rm -rf "$zone_seeds"' EXIT
cp ../tests/fixtures/good/*.toml ../tests/fixtures/bad/*.toml ../tests/fixtures/steer.toml \
   ../zones/*.toml "$zone_seeds"/
mkdir -p seeds/compile_zone

status=0
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target"
  extra=("seeds/$target")
  [ "$target" = compile_zone ] && extra+=("$zone_seeds")
  echo "== $target for ${seconds}s"
  if ! cargo +nightly fuzz run --target-dir "$target_dir" "$target" \
      "corpus/$target" "${extra[@]}" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1; then
    echo "== $target FAILED: see fuzz/artifacts/$target/" >&2
    status=1
  fi
done
exit $status
