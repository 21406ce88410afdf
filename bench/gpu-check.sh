#!/usr/bin/env bash
# gpu-check.sh - the conformance test and the benchmark on a GPU's OpenCL
# platform, on a machine with only the GPU driver: run bench/gpu-pack.sh where
# the project builds, carry .device/ over, then run this from the repository
# root. Reference data comes from the python3 there (needs torch, torchvision,
# numpy). Results go to $OUT (default ./gpu-out).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD/.device
out=${OUT:-$PWD/gpu-out}
mkdir -p "$out"
export LD_LIBRARY_PATH=$root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

# The ICDs the machine lists, plus the NVIDIA driver's OpenCL library, which
# a driver-only install may not register in /etc/OpenCL/vendors.
if [ -z "${OCL_ICD_VENDORS:-}" ]; then
    mkdir -p /tmp/an-icd
    cp /etc/OpenCL/vendors/*.icd /tmp/an-icd/ 2>/dev/null
    if ! grep -qs nvidia /tmp/an-icd/*.icd; then
        lib=$(find / -xdev -name 'libnvidia-opencl.so.1' 2>/dev/null | head -n 1)
        [ -n "$lib" ] && echo "$lib" >/tmp/an-icd/nvidia.icd
    fi
    export OCL_ICD_VENDORS=/tmp/an-icd
fi
alexnet=$root/apps/alexnet
"$alexnet" devices | tee "$out/devices.txt"
export ALEXNET_DEVICE=${ALEXNET_DEVICE:-gpu} XDG_CACHE_HOME=/tmp/an-cache
export CK_FORK=no CK_VERBOSITY=normal CK_DEFAULT_TIMEOUT=600

status=0
ref=/tmp/an-ref
python=${AN_PYTHON:-python3}
"$python" tests/reference/make_reference.py "$ref" 2>&1 | tee "$out/reference.txt"
AN_SOURCE_ROOT=$PWD "$root/tests/test_kernels" 2>&1 | tee "$out/kernels.txt" || status=1
AN_SOURCE_ROOT=$PWD "$root/tests/test_lrn" 2>&1 | tee "$out/lrn.txt" || status=1
AN_REF_DIR=$ref AN_BUILD_ROOT=$root AN_PYTHON=$python "$root/tests/test_conformance" 2>&1 |
    tee "$out/conformance.txt" || status=1
for v in torchvision-224 caffe-227 caffe-bvlc-227; do
    "$alexnet" bench --variant "$v" --batch 1,16,64 --runs 10 | tee "$out/bench-$v.txt" || status=1
done
echo "gpu-check: exit status $status"
exit $status
