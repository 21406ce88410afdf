#!/usr/bin/env bash
# bench/soak.sh - classifies many small images in ONE process and samples its
# resident memory (VmRSS from /proc/PID/status) while the images are being
# classified; fails when the peak or the end is above the early sample by more
# than the allowed growth.
#
#   bench/soak.sh                    5000 32x32 PNGs, batch 16, default device
#   SOAK_IMAGES=20000 bench/soak.sh
#   SOAK_MAX_GROWTH_KB=8192          allowed growth above the 10% mark, for the
#                                    peak and for the end
#   BUILD_DIR=build                  where apps/alexnet is
#
# The images run through the whole 224x224 network (resized and cropped as
# torchvision-224 does), with seeded weights. Samples are kept only while
# results are coming out (at least one and fewer than all images written):
# loading the model before and freeing it after are not the steady state.
# "start" is the first sample with 10% of the images done (the model, plan
# and programs are all loaded by then), "middle" at 50%, "end" the last
# sample with images still being classified, "peak" the largest of them all.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${SOAK_IMAGES:-5000}
build=${BUILD_DIR:-build}
max_growth=${SOAK_MAX_GROWTH_KB:-8192}
batch=${SOAK_BATCH:-16}
exe=$build/apps/alexnet
[ -x "$exe" ] || { echo "soak: $exe not built" >&2; exit 2; }

work=$(mktemp -d)
pid=
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
python3 bench/soak_images.py "$work/img" "$n"

"$exe" classify --json --batch "$batch" "@$work/img/list.txt" >"$work/out.jsonl" 2>"$work/err" &
pid=$!
: >"$work/samples"
t0=$SECONDS
while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    done_n=$(wc -l <"$work/out.jsonl")
    if [ -n "$rss" ] && [ "$done_n" -gt 0 ] && [ "$done_n" -lt "$n" ]; then
        echo "$((SECONDS - t0)) $done_n $rss" >>"$work/samples"
    fi
    sleep 0.5
done
wait "$pid" || { cat "$work/err" >&2; echo "soak: alexnet classify failed" >&2; exit 1; }

got=$(wc -l <"$work/out.jsonl")
errors=$(grep -c '"error"' "$work/out.jsonl" || true)
[ "$got" -eq "$n" ] || { echo "soak: $got results for $n images" >&2; exit 1; }
[ "$errors" -eq 0 ] || { echo "soak: $errors images failed" >&2; exit 1; }

# first sample at or past a fraction of the images; the last sample
at() { awk -v want="$1" '$2 >= want {print; exit}' "$work/samples"; }
start=$(at $((n / 10)))
middle=$(at $((n / 2)))
end=$(tail -1 "$work/samples")
[ -n "$start" ] && [ -n "$middle" ] || { echo "soak: too few samples" >&2; exit 1; }
kb() { echo "$1" | awk '{print $3}'; }
peak=$(awk 'BEGIN {m = 0} $3 > m {m = $3} END {print m}' "$work/samples")
echo "soak: $n images in $((SECONDS - t0)) s ($(tail -1 "$work/err"))"
printf 'soak: VmRSS start (%s images) %d KiB, middle (%s) %d KiB, end (%s) %d KiB, peak %d KiB\n' \
    "$(echo "$start" | awk '{print $2}')" "$(kb "$start")" \
    "$(echo "$middle" | awk '{print $2}')" "$(kb "$middle")" \
    "$(echo "$end" | awk '{print $2}')" "$(kb "$end")" "$peak"
growth=$(($(kb "$end") - $(kb "$start")))
peak_growth=$((peak - $(kb "$start")))
status=0
if [ "$growth" -gt "$max_growth" ]; then
    echo "soak: resident memory grew by $growth KiB from start to end (limit $max_growth KiB)" >&2
    status=1
fi
if [ "$peak_growth" -gt "$max_growth" ]; then
    echo "soak: resident memory peaked $peak_growth KiB above the start (limit $max_growth KiB)" >&2
    status=1
fi
[ $status -eq 0 ] || exit 1
echo "soak: flat: end - start = $growth KiB, peak - start = $peak_growth KiB (limit $max_growth KiB)"
