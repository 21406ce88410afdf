#!/usr/bin/env bash
# tests/robustness.sh - the robustness checks CI runs after the main test
# suite (docs/ROBUSTNESS.md says what each proves and how to rerun it alone):
#
#   1. fuzz      libFuzzer targets, FUZZ_SECONDS (here 30) each       tests/fuzz/run.sh
#   2. asan      ASan+UBSan build, suites unit opencl image classify
#                robustness (fault injection under LeakSanitizer)     tests/sanitize.sh asan
#   3. tsan      ThreadSanitizer build: threads and classify tests    tests/sanitize.sh tsan
#   4. soak      5000 images in one process, resident memory flat     bench/soak.sh
#
# The Oclgrind suite and the plain robustness suite (faults, limits,
# threads) are Meson tests, so `meson test` / `./build.sh test` run them.
#
#   tests/robustness.sh                 all four steps
#   tests/robustness.sh fuzz soak       some of them
#   BUILD_DIR=build                     the main build directory (for the soak)
# Every step runs even when one fails; the exit status is 1 if any failed.
# A step whose tools are missing (clang for fuzz and tsan) fails too, unless
# ROBUSTNESS_ALLOW_SKIP=1.
set -uo pipefail
cd "$(dirname "$0")/.."
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(fuzz asan tsan soak)

failed=()
summary=()
for step in "${steps[@]}"; do
    case "$step" in
    fuzz) cmd=(env FUZZ_SECONDS="${FUZZ_SECONDS:-30}" tests/fuzz/run.sh) ;; # 30 s a target here: ten targets
    asan) cmd=(tests/sanitize.sh asan) ;;
    tsan) cmd=(tests/sanitize.sh tsan) ;;
    soak) cmd=(bench/soak.sh) ;;
    *) echo "robustness: unknown step '$step' (fuzz, asan, tsan, soak)" >&2; exit 2 ;;
    esac
    echo "=== robustness: $step: ${cmd[*]}"
    t0=$SECONDS
    "${cmd[@]}"
    rc=$?
    took=$((SECONDS - t0))
    if [ $rc -eq 0 ]; then
        summary+=("$step: ok (${took} s)")
    elif [ $rc -eq 77 ] && [ "${ROBUSTNESS_ALLOW_SKIP:-0}" = 1 ]; then
        summary+=("$step: skipped, tools missing (${took} s)")
    else
        summary+=("$step: FAILED, exit $rc (${took} s)")
        failed+=("$step")
    fi
done
echo "=== robustness summary"
printf '  %s\n' "${summary[@]}"
[ ${#failed[@]} -eq 0 ] || { echo "robustness: failed: ${failed[*]}" >&2; exit 1; }
