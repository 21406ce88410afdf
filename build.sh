#!/usr/bin/env bash
# build.sh - install what is missing (Debian 12, as root), build, and run.
#
#   ./build.sh run    runtime packages, build, then the main job on the default device
#   ./build.sh test   the same plus test-only packages, then the whole test suite
#
# Run as root on Debian 12: missing packages are installed with apt-get.
# Both are idempotent and work in either order on one clone: packages already
# installed are not fetched again, and the build directory is reused. `run`
# configures without the tests (-Dtests=false) and builds only the program;
# `test` turns the tests on in the same directory. Nothing about installed
# tools is frozen at configure time (the test ICD folder is remade when the
# tests run), so installing packages later never leaves a stale build.
set -Eeuo pipefail
cd "$(dirname "$0")"

mode=${1:-run}
build=${BUILD_DIR:-build}
trap 'echo "build.sh $mode: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

runtime_pkgs=(gcc g++ pkg-config meson ninja-build python3 ocl-icd-libopencl1 ocl-icd-opencl-dev
              opencl-headers pocl-opencl-icd libclblast-dev libpng-dev zlib1g-dev libjpeg62-turbo-dev
              libjson-c-dev libzip-dev)
test_pkgs=(check python3-pytest python3-torch python3-torchvision python3-numpy python3-pil python3-skimage
           python3-matplotlib libjpeg-turbo-progs oclgrind clinfo clang clang-format libclang-rt-14-dev
           munge slurmctld slurmd slurm-client python3-venv)

install_missing() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "build.sh: installing ${missing[*]}" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "build.sh: run as root to install packages (or install them yourself)" >&2
        exit 2
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The value of the build directory's `tests` option: true or false.
tests_option() {
    meson introspect --buildoptions "$build" |
        python3 -c 'import json,sys; print(str(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "tests")).lower())'
}

# configure true|false: set up the build directory, or reuse it. `test` needs
# tests=true; `run` leaves an existing directory's tests option as it is.
configure() {
    local tests=$1
    if [ ! -f "$build/build.ninja" ]; then
        meson setup "$build" --buildtype=release -Dtests="$tests"
    elif [ "$tests" = true ] && [ "$(tests_option)" != true ]; then
        meson configure "$build" -Dtests=true
    fi
}

case "$mode" in
run)
    install_missing "${runtime_pkgs[@]}"
    configure false
    ninja -C "$build" apps/alexnet
    "$build/apps/alexnet" devices
    "$build/apps/alexnet" summary --variant torchvision-224
    "$build/apps/alexnet" summary --variant caffe-227
    "$build/apps/alexnet" classify data/samples
    ;;
test)
    install_missing "${runtime_pkgs[@]}" "${test_pkgs[@]}"
    configure true
    ninja -C "$build"
    # two at a time: only the tests marked is_parallel (mostly kernel
    # compiling or simulation on one core each); the rest run alone
    meson test -C "$build" --print-errorlogs --num-processes 2
    BUILD_DIR="$build" tests/robustness.sh # fuzzing, sanitizers, soak: docs/ROBUSTNESS.md
    ;;
*)
    echo "usage: ./build.sh run|test" >&2
    exit 2
    ;;
esac
