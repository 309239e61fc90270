#!/usr/bin/env bash
# Fails when src/ has an import cycle: between two files (modules), or between top-level
# modules, or when a top-level module imports from one later in the allowed order.
# The order and how imports are read are documented in scripts/layering.py (LAYERS) and
# README.md ("Layout"). Prints every cycle found with the import lines that make it.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/layering.py . "$@"
