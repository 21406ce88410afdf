#!/usr/bin/env bash
# cli_options.sh - each subcommand accepts its own options only, and numbers
# are parsed whole: usage errors exit with status 2 before any device work.
# Needs AN_BUILD_ROOT (set by meson test).
set -uo pipefail
alexnet="$AN_BUILD_ROOT/apps/alexnet"
fail=0
expect() { # expect STATUS ARGS...: the exit status of alexnet ARGS
    local want=$1
    shift
    "$alexnet" "$@" >/dev/null 2>&1
    local got=$?
    if [ "$got" != "$want" ]; then
        echo "FAIL: alexnet $*: exit status $got, want $want"
        fail=1
    else
        echo "ok: alexnet $* -> $got"
    fi
}
expect 2 devices --probs
expect 2 devices --variant caffe-227
expect 2 summary --variant caffe-227 --probs
expect 2 summary --variant caffe-227 --weights x.safetensors
expect 0 summary --variant caffe-227 --input 227
expect 2 bench --runs 3x
expect 2 bench --runs 0
expect 2 bench --batch 1,2x
expect 2 bench --batch ,
expect 2 bench --tune slow
expect 2 classify --tune full x.png
expect 2 tune --runs 2x --dry-run
expect 2 tune --batch 0 --dry-run
expect 2 tune --batch 1,abc --dry-run
expect 2 forward --variant caffe-227 --seed 12abc --input x.npy --output y.npy
expect 2 eval
expect 2 eval --batch 0 dir
expect 2 eval --seed 1x dir
expect 2 eval --ground-truth val.txt dir
expect 2 eval --root r dir
expect 2 eval --weights w.safetensors --seed 1 dir
expect 2 eval /nonexistent-eval-dir
expect 2 eval --results r.jsonl --weights w.safetensors dir
expect 0 eval --help
expect 2 bench --weights-dtype f64
expect 2 eval --weights-dtype half dir
expect 2 classify --weights-dtype F16 x.png
expect 2 forward --variant caffe-227 --weights-dtype bf16 --input x.npy --output y.npy
expect 2 summary --variant caffe-227 --weights-dtype f16
# preprocessing options: bad values refused before any device work
expect 2 eval --crop 0 dir
expect 2 eval --std 1,0,1 dir
expect 2 eval --results r.jsonl --crop 224 dir
expect 2 classify --crop 0 x.png
expect 2 classify --resize 200 x.png
expect 2 classify --mean 1,2,3,4 x.png
expect 2 classify --scale -1 x.png
expect 2 classify --bgr --rgb x.png
expect 2 classify --variant caffe-227 --crop 40 --resize 40x40 x.png
expect 2 classify --resize 256 --crop 224 --mean 1,2,3 --scale 1 --std 1,1,1 --bgr --gamma 2 x.png
exit $fail
