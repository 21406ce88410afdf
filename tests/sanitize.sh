#!/usr/bin/env bash
# tests/sanitize.sh - builds the library, apps and tests with AddressSanitizer
# and UndefinedBehaviorSanitizer in a second build directory and runs the test
# suites there, leak checking included. Leaks inside the OpenCL implementation
# (PoCL, its LLVM), the ICD loader and CLBlast are suppressed by
# tests/lsan.supp; none in our code is.
#
#   tests/sanitize.sh              suites unit, opencl, image, classify, robustness
#   SAN_SUITES="unit image" tests/sanitize.sh
#   SAN_BUILD=build-asan           the build directory (default)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SAN_BUILD:-build-asan}
suites=${SAN_SUITES:-unit opencl image classify robustness}

if [ ! -f "$build/build.ninja" ]; then
    # b_lundef=false: the sanitizer runtimes resolve some symbols at load time.
    meson setup "$build" --buildtype=debugoptimized -Db_sanitize=address,undefined \
        -Db_lundef=false >/dev/null
fi
ninja -C "$build"

supp=$PWD/tests/lsan.supp
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0:${ASAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$supp:print_suppressions=0:${LSAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"

args=()
for s in $suites; do args+=(--suite "$s"); done
meson test -C "$build" --print-errorlogs --num-processes 1 "${args[@]}"
