#!/usr/bin/env bash
# zoo_data.sh - the data of tests/test_onnx_zoo.c: a virtual environment with
# onnx, onnxruntime and numpy from PyPI (pip's own PIP_* settings apply:
# PIP_INDEX_URL, PIP_FIND_LINKS, PIP_CERT, ...), made once and kept, then
# make_zoo_onnx.py writing the zoo's graphs and ONNX Runtime's outputs.
#
#   usage: zoo_data.sh VENV OUTDIR STAMP
set -euo pipefail
venv=$1 out=$2 stamp=$3
here=$(cd "$(dirname "$0")" && pwd)
if ! "$venv/bin/python" -c 'import onnx, onnxruntime, numpy' 2>/dev/null; then
    rm -rf "$venv"
    if ! /usr/bin/python3 -m venv "$venv"; then
        echo "zoo_data.sh: /usr/bin/python3 -m venv failed (Debian: apt-get install python3-venv)" >&2
        exit 1
    fi
    if ! "$venv/bin/pip" install -q 'onnx>=1.14' 'onnxruntime>=1.16' numpy; then
        echo "zoo_data.sh: pip could not install onnx, onnxruntime and numpy from PyPI into" \
            "$venv (its PIP_* environment settings apply)" >&2
        exit 1
    fi
fi
rm -f "$stamp"
"$venv/bin/python" "$here/make_zoo_onnx.py" "$out"
cat "$out/zoo_ort.txt"
touch "$stamp"
