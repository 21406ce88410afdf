#!/usr/bin/env bash
# tests/sanitize.sh - the test suites under the sanitizers, in build
# directories of their own.
#
#   tests/sanitize.sh [asan]   AddressSanitizer + UndefinedBehaviorSanitizer
#                              (gcc; build-asan/): the library, apps and tests,
#                              running suites unit, opencl, image, classify,
#                              robustness and fuzz, leak checking included
#   tests/sanitize.sh tsan     ThreadSanitizer (clang; build-tsan/): the threads
#                              test (two models, two threads, one device) and
#                              the classify tests (decoding threads), two at a
#                              time
#   SAN_SUITES="unit image" tests/sanitize.sh      other suites (asan)
#   SAN_BUILD=dir                                  another build directory
#
# Leaks inside the OpenCL implementation (PoCL and its LLVM), the ICD loader
# and CLBlast are suppressed by tests/lsan.supp, races inside them by
# tests/tsan.supp; none in our code is. Any report fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-asan}
root=$PWD

# seed_cache BUILD: the programs the plain build's tests compiled (ours and
# PoCL's kernel cache, both keyed by source, options and device) seed BUILD's
# test cache once: the sanitizers check host code, and compiling every kernel
# again in an instrumented process was most of these runs' time (unseeded,
# TSan's classify test had run 344 s on a 2-core EPYC when CI's 90 minutes
# ran out). The compile path itself still runs here: test_cache uses fresh
# caches.
seed_cache() {
    local seed=${SAN_SEED_CACHE:-build/tests/cache} cache=$1/tests/cache
    if [ -d "$seed/alexnet" ] && [ ! -e "$cache/.seeded" ]; then
        mkdir -p "$cache"
        cp -a "$seed/alexnet" "$cache/"
        [ -d "$seed/pocl" ] && cp -a "$seed/pocl" "$cache/"
        rm -f "$cache/alexnet/tuning.txt" # tuning stays each run's own
        touch "$cache/.seeded"
    fi
}

case "$mode" in
asan)
    build=${SAN_BUILD:-build-asan}
    suites=${SAN_SUITES:-unit opencl image classify robustness fuzz}
    if [ ! -f "$build/build.ninja" ]; then
        # b_lundef=false: the sanitizer runtimes resolve some symbols at load time.
        meson setup "$build" --buildtype=debugoptimized -Db_sanitize=address,undefined \
            -Db_lundef=false >/dev/null
    fi
    ninja -C "$build"
    seed_cache "$build"
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0:${ASAN_OPTIONS:-}"
    export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0:${LSAN_OPTIONS:-}"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
    args=()
    for s in $suites; do args+=(--suite "$s"); done
    meson test -C "$build" --print-errorlogs --num-processes 2 "${args[@]}"
    ;;
tsan)
    build=${SAN_BUILD:-build-tsan}
    command -v clang >/dev/null || { echo "sanitize: tsan needs clang" >&2; exit 77; }
    if [ ! -f "$build/build.ninja" ]; then
        CC=clang meson setup "$build" --buildtype=debugoptimized -Db_sanitize=thread \
            -Db_lundef=false >/dev/null
    fi
    ninja -C "$build" tests/test_threads tests/test_classify apps/alexnet
    seed_cache "$build"
    # exitcode=66 on any report, even when the test itself passes
    export TSAN_OPTIONS="suppressions=$root/tests/tsan.supp:halt_on_error=0:exitcode=66:${TSAN_OPTIONS:-}"
    meson test -C "$build" --print-errorlogs --num-processes 2 --no-rebuild threads \
        classify-library classify-cli
    ;;
*)
    echo "usage: tests/sanitize.sh [asan|tsan]" >&2
    exit 2
    ;;
esac
