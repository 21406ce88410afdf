#!/usr/bin/env bash
# bench_smoke.sh - `alexnet bench` and `alexnet tune` once at a tiny size, to
# show that they work end to end; nothing here asserts a time.
#   bench: the table, --csv (every layer of the variant, positive images/s,
#          ceilings) and --json (parsed), then bench/roofline.py on the CSV.
#   tune:  one variant at batch 2, one round, with a CLBlast parameter set to
#          check (--clblast-params), in a copy of the test cache so that the
#          tuning file it writes reaches no other test; the file must hold the
#          device line and one entry per conv and FC layer (the 3x3 stride-1
#          ones naming their algorithm: Winograd candidates are checked too).
#   bench --tune quick: twice on a fresh tuning file: the first run stores an
#          entry per conv and FC layer of its plan, the second reuses them.
# Needs AN_BUILD_ROOT and AN_SOURCE_ROOT (set by meson test).
#
#   tests/bench_smoke.sh [bench|tune]   one half (Meson runs the two halves as
#                                       tests of their own, side by side);
#                                       without an argument both
set -euo pipefail
part=${1:-all}
case "$part" in
bench | tune | all) ;;
*) echo "usage: tests/bench_smoke.sh [bench|tune]" >&2; exit 2 ;;
esac
alexnet="$AN_BUILD_ROOT/apps/alexnet"
src="$AN_SOURCE_ROOT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

if [ "$part" != tune ]; then # the bench half: table, --duration, CSV, JSON, roofline
echo "# bench, table"
"$alexnet" bench --variant caffe-227 --batch 1,2 --runs 1 >"$tmp/table.txt"
cat "$tmp/table.txt"
grep -q "^ceilings measured here: " "$tmp/table.txt" || fail "no ceilings line"
grep -q "images/s" "$tmp/table.txt" || fail "no end-to-end line"
grep -Eq "^latency over 1 runs, ms: min [0-9.]+, p50 [0-9.]+, p90 [0-9.]+, p99 [0-9.]+, max [0-9.]+; first inference [0-9.]+ ms; model load [0-9.]+ ms$" \
    "$tmp/table.txt" || fail "no latency line"

echo "# bench, --duration: passes repeated for the time given, at least --runs of them"
"$alexnet" bench --variant caffe-227 --batch 1 --runs 2 --duration 1.5 >"$tmp/dur.txt"
n=$(sed -n 's/^latency over \([0-9]*\) runs, ms: .*/\1/p' "$tmp/dur.txt")
[ -n "$n" ] && [ "$n" -ge 2 ] || fail "--duration: latency over '$n' runs"
for bad in 0 -1 x 1e9 ""; do
    if "$alexnet" bench --batch 1 --duration "$bad" >/dev/null 2>"$tmp/err"; then
        fail "--duration '$bad' accepted"
    fi
    grep -q "duration takes seconds" "$tmp/err" || fail "--duration '$bad': $(cat "$tmp/err")"
done

echo "# bench, csv"
"$alexnet" bench --variant caffe-227 --batch 1,2 --runs 1 --csv >"$tmp/b.csv"
for layer in Conv2d-1 MaxPool2d-3 Conv2d-4 Conv2d-7 Conv2d-9 Conv2d-11 Linear-16 Linear-19 \
    Linear-21; do
    for b in 1 2; do
        grep -q "^caffe-227,$b,$layer," "$tmp/b.csv" || fail "csv: no row for $layer at batch $b"
    done
done
awk -F, '$3 == "images_per_second" && $4 > 0 {n++} END {exit n == 2 ? 0 : 1}' "$tmp/b.csv" ||
    fail "csv: images_per_second missing or not positive"
grep -q "^# device,.*,ceiling_gflops,.*,ceiling_gbps," "$tmp/b.csv" || fail "csv: no ceilings"
for row in latency_min latency_p50 latency_p90 latency_p99 latency_max first_inference model_load; do
    awk -F, -v r=$row '$3 == r && $4 > 0 {n++} END {exit n == 2 ? 0 : 1}' "$tmp/b.csv" ||
        fail "csv: $row missing or not positive at each batch"
done

echo "# bench, json"
"$alexnet" bench --variant torchvision-224 --batch 2 --runs 1 --json >"$tmp/b.json"
/usr/bin/python3 - "$tmp/b.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ceiling_gflops"] > 0 and d["ceiling_gbps"] > 0, d
layers = {r.get("layer") for r in d["rows"]}
assert {"Conv2d-1", "Linear-21"} <= layers, layers
lat = {r["layer"]: r["ms"] for r in d["rows"] if r["layer"].startswith(("latency_", "first_", "model_"))}
names = ["latency_min", "latency_p50", "latency_p90", "latency_p99", "latency_max"]
assert set(names + ["first_inference", "model_load"]) <= set(lat), lat
assert all(lat[k] > 0 for k in lat), lat
assert [lat[k] for k in names] == sorted(lat[k] for k in names), lat
print("# json: %d rows" % len(d["rows"]))
EOF

echo "# roofline"
/usr/bin/python3 "$src/bench/roofline.py" "$tmp/b.csv" "$tmp/roof.png" "$tmp/layers.png"
[ -s "$tmp/roof.png" ] && [ -s "$tmp/layers.png" ] || fail "roofline.py wrote no PNGs"

fi

if [ "$part" != bench ]; then # the tune half: alexnet tune, then bench --tune quick
echo "# tune"
mkdir -p "$tmp/cache/alexnet"
if [ -n "${XDG_CACHE_HOME:-}" ] && [ -d "$XDG_CACHE_HOME/alexnet" ]; then
    cp -r "$XDG_CACHE_HOME/alexnet/." "$tmp/cache/alexnet/" # built programs: a warm start
    rm -f "$tmp/cache/alexnet/tuning.txt"
fi
set=GEMMK=0,KREG=1,KWG=16,KWI=2,MDIMA=8,MDIMC=8,MWG=32,NDIMB=8,NDIMC=8,NWG=32,SA=0,SB=0,STRM=0,STRN=0,VWM=2,VWN=2
XDG_CACHE_HOME="$tmp/cache" "$alexnet" tune --variant torchvision-224 --batch 2 --runs 1 \
    --clblast-params "$set" >"$tmp/tune.txt" || { cat "$tmp/tune.txt"; fail "tune failed"; }
grep -v "^  candidate" "$tmp/tune.txt"
n=$(grep -c "CLBlast .* parameters: logits match the reference" "$tmp/tune.txt" || true)
[ "$n" = 2 ] || fail "tune: CLBlast's current and the given set were not both checked ($n)"
file="$tmp/cache/alexnet/tuning.txt"
[ -s "$file" ] || fail "tune wrote no tuning file"
grep -q "|device|fc_blocked=[01],conv_vec=[0-9]*,fc_vec=[0-9]*,wino_m=[024]$" "$file" || fail "no device line"
[ "$(grep -c '|conv c=' "$file")" = 5 ] || fail "tuning file: not 5 conv entries"
# Winograd and implicit GEMM candidates were checked against the reference and
# timed, and every conv layer names its algorithm
grep -q "^  candidate .*conv_algo=1.*: layers" "$tmp/tune.txt" || fail "tune: no Winograd candidate"
grep -q "^  candidate .*conv_algo=2.*: layers" "$tmp/tune.txt" || fail "tune: no implicit GEMM candidate"
grep -q "^  candidate .*conv_algo=1,.*conv_s2d=1.*: layers" "$tmp/tune.txt" ||
    fail "tune: no space-to-depth Winograd candidate"
! grep -q "^  candidate .*WRONG" "$tmp/tune.txt" || fail "tune: a candidate was wrong"
[ "$(grep -c '|conv c=.*|conv_algo=[012],' "$file")" = 5 ] ||
    fail "tuning file: the conv layers do not name conv_algo"
[ "$(grep -c '|fc i=' "$file")" = 3 ] || fail "tuning file: not 3 fc entries"
if grep -q "the given set wins\|the tuned set wins" "$tmp/tune.txt"; then
    grep -q "|clblast Xgemm|$set$" "$file" || fail "a winning CLBlast set was not stored"
else
    ! grep -q "|clblast Xgemm|" "$file" || fail "a losing CLBlast set was stored"
fi
grep -q "^  candidate .*fc_kb=[1-9][0-9]*,.*: layers" "$tmp/tune.txt" ||
    fail "tune: no K-blocked FC (fc_kb) candidate"

echo "# bench --tune quick"
# a fresh tuning file: the first run tunes the plan's layers (a few
# candidates, checked against the reference) and stores them; the second
# finds every layer there, tunes nothing and leaves the file as it was
rm -f "$file"
XDG_CACHE_HOME="$tmp/cache" "$alexnet" bench --variant torchvision-224 --batch 2 --runs 1 \
    --tune quick >"$tmp/q1.txt" 2>"$tmp/q1.err" || { cat "$tmp/q1.err"; fail "bench --tune quick failed"; }
grep -v "tune:   candidate" "$tmp/q1.err" || true
[ -s "$file" ] || fail "--tune quick wrote no tuning file"
[ "$(grep -c '|conv c=.* n=2|conv_algo=[012],' "$file")" = 5 ] ||
    fail "--tune quick: not 5 conv entries at batch 2"
[ "$(grep -c '|fc i=.* n=2|' "$file")" = 3 ] || fail "--tune quick: not 3 fc entries at batch 2"
grep -q "tune:   candidate .*: layers" "$tmp/q1.err" || fail "--tune quick: no candidate timed"
! grep -q "WRONG" "$tmp/q1.err" || fail "--tune quick: a candidate was wrong"
grep -q "^tuning: .*(and per-layer entries from the tuning file)" "$tmp/q1.txt" ||
    fail "--tune quick: the bench did not use the entries"
cp "$file" "$tmp/q1.tuning"
XDG_CACHE_HOME="$tmp/cache" "$alexnet" bench --variant torchvision-224 --batch 2 --runs 1 \
    --tune quick >"$tmp/q2.txt" 2>"$tmp/q2.err" || { cat "$tmp/q2.err"; fail "second --tune quick failed"; }
cat "$tmp/q2.err"
grep -q "batch 2: the tuning file has every layer already: reused" "$tmp/q2.err" ||
    fail "--tune quick: the second run did not reuse the entries"
! grep -q "candidate" "$tmp/q2.err" || fail "--tune quick: the second run tuned again"
cmp -s "$file" "$tmp/q1.tuning" || fail "--tune quick: the second run changed the tuning file"
fi
echo "# ok"
