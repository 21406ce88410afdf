#!/usr/bin/env bash
# tests/oclgrind_igpu.sh - the whole network, every variant at its smallest
# input, on Oclgrind shaped like integrated graphics (test_small_device igpu);
# fails on any Oclgrind report. Meson runs it in the 'oclgrind' suite as
# 'oclgrind-igpu'.
#
#   tests/oclgrind_igpu.sh BUILD/tests/test_small_device ICD_DIR
#
# The simulated device: work-groups of at most 256, 32 KiB of local memory,
# 4 compute units, no hardware FMA (as Oclgrind reports: kernels get
# -Dfma=mad), a 128 MiB largest allocation (FC6's 151 MB of weights run in
# two parts). Oclgrind reports its global memory size as its largest
# allocation (128 MiB by default, too little for the weights): it gets 512
# MiB, and the runtime $ALEXNET_MAX_ALLOC=128M. With 4 compute units it is of
# the integrated device class and runs with that class's defaults.
#
# Passes (times on a loaded 2-core machine, per variant):
#   quick (always): OCLGRIND_QUICK=1, every kernel of every variant at its
#     real shape and limits, but only its first and last work-group run;
#     API errors and out-of-bounds accesses checked; logits not compared
#     (~3 s, 0.6 GB);
#   races (AN_IGPU_RACES=1): the same with data-race detection, whose shadow
#     state of the weights takes ~12 GB of memory (~70 s);
#   full (AN_IGPU_FULL=1): every work-group, API errors and out-of-bounds
#     accesses checked, logits compared with PoCL's (within 1e-4 of the
#     largest; ~8 min).
# AN_IGPU_VARIANTS=a,b limits the variants. Uninitialised reads are not
# checked: the plugin needs -cl-opt-disable (tests/oclgrind.sh) and in quick
# mode every layer reads what the previous one left unwritten.
# Exit 77 (skip) without Oclgrind.
set -uo pipefail
exe=${1:?usage: tests/oclgrind_igpu.sh PATH/TO/test_small_device ICD_DIR}
icd=${2:?usage: tests/oclgrind_igpu.sh PATH/TO/test_small_device ICD_DIR}
lib=${OCLGRIND_ICD_LIB:-/usr/lib/oclgrind/liboclgrind-rt-icd.so}
if [ ! -e "$lib" ] || [ ! -e "$icd/oclgrind.icd" ]; then
    echo "oclgrind-igpu: Oclgrind not installed ($lib, $icd/oclgrind.icd); skipping" >&2
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# PoCL and Oclgrind (the build's ICD folder), the program cache off
export OCL_ICD_VENDORS="$icd" ALEXNET_NO_CACHE=1
export OCLGRIND_MAX_WGSIZE=256 OCLGRIND_LOCAL_MEM_SIZE=32768 OCLGRIND_COMPUTE_UNITS=4
export OCLGRIND_GLOBAL_MEM_SIZE=$((512 * 1024 * 1024)) ALEXNET_MAX_ALLOC=128M
export OCLGRIND_CHECK_API=1
export CK_FORK=no CK_TAP_LOG_FILE_NAME=- CK_VERBOSITY=silent CK_DEFAULT_TIMEOUT=1200
unset OCLGRIND_DATA_RACES OCLGRIND_UNINITIALIZED OCLGRIND_BUILD_OPTIONS OCLGRIND_QUICK \
    ALEXNET_KERNEL_DIR ALEXNET_TUNING

reports='Invalid (read|write)|data race|[Uu]ninitiali[sz]ed|OCLGRIND|Oclgrind -|divergence'
pass() { # name, then extra environment
    local name=$1 log="$work/$1.log" out="$work/$1.out" rc
    shift
    local t0=$SECONDS
    env OCLGRIND_LOG="$log" "$@" "$exe" igpu >"$out" 2>&1
    rc=$?
    grep '^#' "$out"
    echo "oclgrind-igpu: $name: exit $rc, $(grep -c '^ok' "$out") ok, $(grep -c '^not ok' "$out") not ok, $((SECONDS - t0)) s"
    grep '^not ok' "$out" | head -20
    if [ -s "$log" ] || grep -E "$reports" "$out" | grep -v '^#' | grep -vq '^ok'; then
        echo "oclgrind-igpu: $name: Oclgrind reported:" >&2
        head -60 "$log" >&2
        grep -E "$reports" "$out" | grep -v '^ok' | head -20 >&2
        [ $rc -ne 0 ] || rc=1
    fi
    return $rc
}

status=0
t0=$SECONDS
pass quick OCLGRIND_QUICK=1 || status=1
if [ "${AN_IGPU_RACES:-0}" = 1 ]; then
    pass races OCLGRIND_QUICK=1 OCLGRIND_DATA_RACES=1 || status=1
fi
if [ "${AN_IGPU_FULL:-0}" = 1 ]; then
    pass full || status=1
fi
# Self-check: quick mode still sees an out-of-bounds write (in the last
# work-group, where the guards matter): maxpool2d without its bounds guard.
src=$(cd "$(dirname "$0")/.." && pwd)
cp -r "$src/cl_kernels" "$work/kernels"
python3 - "$work/kernels/pool.cl" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
guard = "    if (i >= NC * OH * tiles)\n        return;\n"
assert guard in s, "pool.cl changed: update the self-check in tests/oclgrind_igpu.sh"
open(p, "w").write(s.replace(guard, "", 1))
PY
if [ $? -ne 0 ]; then
    echo "oclgrind-igpu: self-check could not break pool.cl" >&2
    status=1
elif ALEXNET_KERNEL_DIR="$work/kernels" AN_IGPU_VARIANTS=caffe-227 \
    pass selfcheck OCLGRIND_QUICK=1 >/dev/null 2>&1; then
    echo "oclgrind-igpu: self-check: a kernel writing out of bounds was NOT reported" >&2
    status=1
elif ! grep -Eq "Invalid (read|write)" "$work/selfcheck.log"; then
    echo "oclgrind-igpu: self-check: no 'Invalid read' or 'Invalid write' in Oclgrind's log:" >&2
    head -20 "$work/selfcheck.log" >&2
    status=1
else
    echo "oclgrind-igpu: self-check: maxpool2d without its bounds guard is reported"
fi
echo "oclgrind-igpu: $((SECONDS - t0)) s in all"
exit $status
