#!/usr/bin/env bash
# tests/oclgrind.sh - runs the per-kernel tests (test_kernels: every kernel
# alone at small, odd sizes) on the Oclgrind simulator with its checks, and
# fails on any report. Meson runs it as the 'oclgrind' suite.
#
#   tests/oclgrind.sh BUILD/tests/test_kernels
#
# Two passes, because Oclgrind 21.10's uninitialised-value plugin stops with
# "Unsupported instruction: freeze" on optimised code (LLVM 13+ emits freeze):
#   1. optimised kernels: API checks, data races, out-of-bounds accesses
#      (memcheck is always on);
#   2. kernels built with -cl-opt-disable: the same plus uninitialised reads.
# Then a self-check proves that a report does fail the run: a copy of the
# kernels whose maxpool2d lost its bounds guard must give "Invalid write"
# (test_kernels' pool case alone: the other kernels are not broken).
# Every pass sees only Oclgrind (OCL_ICD_VENDORS is a directory holding just
# oclgrind.icd) and has the program cache off. Exit 77 (skip) without Oclgrind.
#
#   tests/oclgrind.sh PATH/TO/test_kernels [PASS...]
#     PASS: optimised, unoptimised, selfcheck (default: all three, in order)
#   CK_RUN_CASE=winograd tests/oclgrind.sh ... optimised   one case, one pass
# Meson runs the self-check, and the optimised and unoptimised passes per
# case, as tests of their own, two at a time (tests/meson.build).
set -uo pipefail
exe=${1:?usage: tests/oclgrind.sh PATH/TO/test_kernels [optimised|unoptimised|selfcheck...]}
shift
passes=("$@")
[ ${#passes[@]} -gt 0 ] || passes=(optimised unoptimised selfcheck)
for p in "${passes[@]}"; do
    case "$p" in
    optimised | unoptimised | selfcheck) ;;
    *) echo "oclgrind: unknown pass '$p' (optimised, unoptimised, selfcheck)" >&2; exit 2 ;;
    esac
done
src=$(cd "$(dirname "$0")/.." && pwd)
lib=${OCLGRIND_ICD_LIB:-/usr/lib/oclgrind/liboclgrind-rt-icd.so}
if [ ! -e "$lib" ]; then
    echo "oclgrind: $lib not found (apt-get install oclgrind); skipping" >&2
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/icd"
echo "$lib" >"$work/icd/oclgrind.icd"

export OCL_ICD_VENDORS="$work/icd" ALEXNET_DEVICE=oclgrind ALEXNET_NO_CACHE=1
export OCLGRIND_CHECK_API=1 OCLGRIND_DATA_RACES=1
export CK_FORK=no CK_TAP_LOG_FILE_NAME=- CK_VERBOSITY=silent CK_DEFAULT_TIMEOUT=1200
unset OCLGRIND_UNINITIALIZED OCLGRIND_BUILD_OPTIONS ALEXNET_KERNEL_DIR

# Oclgrind's reports go to OCLGRIND_LOG; a clean run leaves it empty.
# Their texts, in case one reaches stdout or stderr instead:
reports='Invalid (read|write)|data race|[Uu]ninitiali[sz]ed|OCLGRIND|Oclgrind -|divergence'
pass() { # name, then extra environment
    local name=$1 log="$work/$1.log" out="$work/$1.out" rc
    shift
    local t0=$SECONDS
    env OCLGRIND_LOG="$log" "$@" "$exe" >"$out" 2>&1
    rc=$?
    echo "oclgrind: $name: exit $rc, $(grep -c '^ok' "$out") ok, $(grep -c '^not ok' "$out") not ok, $((SECONDS - t0)) s"
    grep '^not ok' "$out" | head -20
    if [ -s "$log" ] || grep -E "$reports" "$out" | grep -vq '^ok'; then
        echo "oclgrind: $name: Oclgrind reported:" >&2
        head -60 "$log" >&2
        grep -E "$reports" "$out" | grep -v '^ok' | head -20 >&2
        [ $rc -ne 0 ] || rc=1
    fi
    return $rc
}

# selfcheck: the same run on a kernel with an out-of-bounds write must fail.
selfcheck() {
    cp -r "$src/cl_kernels" "$work/kernels"
    python3 - "$work/kernels/pool.cl" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
guard = "    if (i >= NC * OH * tiles)\n        return;\n"
assert guard in s, "pool.cl changed: update the self-check in tests/oclgrind.sh"
open(p, "w").write(s.replace(guard, "", 1))
PY
    if [ $? -ne 0 ]; then
        echo "oclgrind: self-check could not break pool.cl" >&2
        return 1
    elif ALEXNET_KERNEL_DIR="$work/kernels" pass selfcheck CK_RUN_CASE=pool >/dev/null 2>&1; then
        echo "oclgrind: self-check: a kernel writing out of bounds was NOT reported" >&2
        return 1
    elif ! grep -q "Invalid write" "$work/selfcheck.log"; then
        echo "oclgrind: self-check: no 'Invalid write' in Oclgrind's log:" >&2
        head -20 "$work/selfcheck.log" >&2
        return 1
    fi
    echo "oclgrind: self-check: an out-of-bounds write in maxpool2d is reported and fails the run"
}
status=0
for p in "${passes[@]}"; do
    case "$p" in
    optimised) pass optimised || status=1 ;;
    unoptimised) pass unoptimised OCLGRIND_UNINITIALIZED=1 OCLGRIND_BUILD_OPTIONS=-cl-opt-disable || status=1 ;;
    selfcheck) selfcheck || status=1 ;;
    esac
done
exit $status
