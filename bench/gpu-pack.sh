#!/usr/bin/env bash
# gpu-pack.sh - gathers what bench/gpu-check.sh needs on a machine that has a
# GPU driver but none of our Debian packages: the alexnet program, the kernel
# and conformance tests, and the shared libraries they load (the ICD loader,
# CLBlast, libpng, json-c, Check), into .device/ (git-ignored).
#   usage: bench/gpu-pack.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=.device
ninja -C "$build" apps/alexnet tests/test_kernels tests/test_lrn tests/reference/test_conformance >/dev/null
rm -rf "$out"
mkdir -p "$out/apps" "$out/tests" "$out/lib"
cp "$build/apps/alexnet" "$out/apps/"
cp "$build/tests/test_kernels" "$build/tests/test_lrn" "$build/tests/reference/test_conformance" \
    "$out/tests/"
# every library they load except glibc's own and the C++ runtime (newer there)
for bin in "$out"/apps/* "$out"/tests/*; do
    ldd "$bin" | awk '/=> \//{print $3}'
done | sort -u | grep -Ev '/(libc|libm|libdl|librt|libpthread|ld-linux[^/]*|libstdc\+\+|libgcc_s)\.so' |
    while read -r lib; do cp -L "$lib" "$out/lib/"; done
du -sh "$out"
