#!/usr/bin/env bash
# gpu-check.sh - the conformance test and the benchmark on a GPU's OpenCL
# platform, on a machine with only the GPU driver: run bench/gpu-pack.sh where
# the project builds, carry .device/ over, then run this from the repository
# root. Reference data comes from the python3 there (needs torch, torchvision,
# numpy); PyTorch with CUDA there is also the peer timed on the same GPU
# (peers.txt). Results go to $OUT (default ./gpu-out).
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

# The peer on the same GPU: PyTorch with cuDNN, FP32 (TF32 off), the same
# seeded weights (logits checked against PyTorch on the CPU first), batch 64
# and 256, against `alexnet bench` on the same safetensors file.
peer_batches=${PEER_BATCHES:-64,256}
pd=/tmp/an-peers
mkdir -p "$pd"
if "$python" bench/peers.py prepare torchvision-224 "$pd" 2>&1 | tee "$out/peers-prepare.txt" &&
    "$python" bench/peers.py run torch-cuda torchvision-224 "$pd" "$peer_batches" 10 1 \
        >"$out/peers-torch-cuda.txt" 2>"$out/peers-torch-cuda.err"; then
    cat "$out/peers-torch-cuda.err"
    "$alexnet" bench --variant torchvision-224 --weights "$pd/torchvision-224.safetensors" \
        --batch "$peer_batches" --runs 10 --csv >"$out/peers-alexnet.csv" 2>&1 || status=1
    echo "torchvision-224, images/s: alexnet-cl against PyTorch+cuDNN FP32 (TF32 off)"
    printf '%6s %14s %14s %7s\n' batch alexnet-cl torch-cuda ratio | tee "$out/peers.txt"
    awk -F, '$3 == "images_per_second" {print $2, $4}' "$out/peers-alexnet.csv" |
        while read -r b a; do
            p=$(awk -v b="$b" '$1 == b {print $2}' "$out/peers-torch-cuda.txt")
            [ -n "$p" ] && awk -v b="$b" -v a="$a" -v p="$p" \
                'BEGIN {printf "%6d %14.1f %14.1f %6.2fx\n", b, a, p, a / p}'
        done | tee -a "$out/peers.txt"
else
    cat "$out/peers-torch-cuda.err" 2>/dev/null
    echo "gpu-check: PyTorch with CUDA did not run: no peer ratios" | tee "$out/peers.txt"
fi
echo "gpu-check: exit status $status"
exit $status
