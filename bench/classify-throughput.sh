#!/usr/bin/env bash
# classify-throughput.sh - end-to-end images/s of `alexnet classify` on 256
# photographs (the three sample photos, copied round-robin) at batch 1, 16 and
# 64, with the share of the run the device was busy (from profiling events).
#   usage: bench/classify-throughput.sh [BUILD_DIR] [extra alexnet options...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
samples=(data/samples/*.png)
for i in $(seq 0 255); do
    cp "${samples[i % ${#samples[@]}]}" "$dir/$(printf 'img%03d.png' "$i")"
done
for b in 1 16 64; do
    "$build/apps/alexnet" classify --batch "$b" --top 1 "$@" "$dir" 2>&1 >/dev/null | grep 'images/s'
done
