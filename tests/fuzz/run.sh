#!/usr/bin/env bash
# tests/fuzz/run.sh - builds the libFuzzer targets with clang (ASan + UBSan,
# outside Meson) and runs each for a bounded time on its committed corpus;
# fails on any crash, leak, sanitizer report or broken invariant.
#
#   tests/fuzz/run.sh                 build, replay regressions, fuzz each target 60 s
#   FUZZ_SECONDS=600 tests/fuzz/run.sh
#   FUZZ_TARGETS="png list" tests/fuzz/run.sh
#   FUZZ_JOBS=1 tests/fuzz/run.sh    one target at a time (default: one per core)
#   tests/fuzz/run.sh --build-only    build only (and replay the regressions)
#
# Needs clang (14 on Debian 12) and libclang-rt-14-dev, plus the runtime's
# build dependencies (OpenCL, CLBlast, libpng, libjpeg, json-c headers). Builds into
# $FUZZ_BUILD (default build-fuzz/). New inputs found while fuzzing go to
# $FUZZ_BUILD/corpus/<target>/ (the committed seeds stay as they are); a
# crashing input is left in $FUZZ_BUILD/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=${FUZZ_BUILD:-$root/build-fuzz}
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-safetensors png jpeg list selector tuning labels pth caffe onnx}
CC=${CC_FUZZ:-clang}

if ! command -v "$CC" >/dev/null; then
    echo "fuzz: $CC not found (apt-get install clang libclang-rt-14-dev)" >&2
    exit 77
fi

mkdir -p "$out/obj"
san=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
cflags=(-std=c11 -g -O1 -Wall -Wextra -Werror -D_GNU_SOURCE -DCL_TARGET_OPENCL_VERSION=120
        -DCL_USE_DEPRECATED_OPENCL_1_2_APIS -Iinclude -Iruntime
        $(pkg-config --cflags OpenCL clblast libpng zlib libjpeg json-c libzip))
libs=($(pkg-config --libs OpenCL clblast libpng zlib libjpeg json-c libzip) -lm -lpthread)

# The parts of the runtime the targets reach, instrumented for coverage and the
# sanitizers (fuzz_list.c and fuzz_labels.c stub the few pipeline functions classify.c names).
objs=()
# model.c (classify.c frees models) and tuning.c (the tuning parser and file) need
# program.c, and that the embedded kernels.
python3 tools/embed.py "$out/obj/embedded_kernels.c" an__embedded_kernels cl_kernels/*.cl
for src in runtime/status.c runtime/variant.c runtime/weights.c runtime/image.c runtime/jpeg.c \
    runtime/device.c \
    runtime/model.c runtime/tuning.c runtime/program.c runtime/pickle.c runtime/convert.c \
    runtime/caffe.c runtime/onnx.c runtime/protobuf.c "$out/obj/embedded_kernels.c"; do
    o="$out/obj/$(basename "${src%.c}").o"
    if [ ! -f "$o" ] || [ "$src" -nt "$o" ] || [ "$0" -nt "$o" ]; then
        "$CC" "${cflags[@]}" "${san[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$o"
    fi
    objs+=("$o")
done

for t in $targets; do
    "$CC" "${cflags[@]}" "${san[@]}" -fsanitize=fuzzer "tests/fuzz/fuzz_$t.c" "${objs[@]}" \
        "${libs[@]}" -o "$out/fuzz_$t"
done
echo "fuzz: built $targets in $out"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Every committed regression input must now pass (one run each, no fuzzing).
for t in $targets; do
    reg="tests/fuzz/regressions/$t"
    if [ -d "$reg" ] && [ -n "$(ls -A "$reg")" ]; then
        "$out/fuzz_$t" -runs=0 "$reg"/* 2>"$out/regressions_$t.log" ||
            { cat "$out/regressions_$t.log" >&2; echo "fuzz: $t: regression input fails" >&2; exit 1; }
        echo "fuzz: $t: $(ls "$reg" | wc -l) regression inputs pass"
    fi
done
[ "${1:-}" = "--build-only" ] && exit 0

# fuzz_one TARGET: fuzzes it for $seconds; prints one line, fails on a finding.
fuzz_one() {
    local t=$1 log="$out/fuzz_$1.log" runs cov
    local dict=()
    mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
    [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
    # -max_len: big enough for the seeds and for headers with many tensors.
    if "$out/fuzz_$t" "$out/corpus/$t" "tests/fuzz/corpus/$t" "${dict[@]}" \
        -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 -timeout=30 \
        -print_final_stats=1 -artifact_prefix="$out/artifacts/$t/" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*exec\/s: \([0-9]*\).*/cov \1, ft \2, \3 exec\/s/p')
        echo "fuzz: $t: ok, $runs executions in ${seconds}s, $cov"
    else
        tail -60 "$log" >&2
        echo "fuzz: $t: FAILED (log $log, input in $out/artifacts/$t/)" >&2
        return 1
    fi
}

# The targets run $FUZZ_JOBS at a time (default: one per core; each libFuzzer
# process is single-threaded), so each still gets its $seconds of fuzzing.
jobs=${FUZZ_JOBS:-$(nproc)}
status=0
running=0
for t in $targets; do
    if [ "$running" -ge "$jobs" ]; then
        wait -n || status=1
        running=$((running - 1))
    fi
    fuzz_one "$t" &
    running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
    wait -n || status=1
    running=$((running - 1))
done
exit $status
