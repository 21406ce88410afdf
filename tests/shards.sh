#!/usr/bin/env bash
# shards.sh - `alexnet classify --shard K/N --output F [--resume]`: N shards
# cover every input once and their outputs concatenate to a single run's,
# byte for byte; a run cut off mid-line (as a killed job leaves it) resumes to
# the same file; an empty shard succeeds; misuse is refused before any work.
# Needs AN_BUILD_ROOT and AN_SOURCE_ROOT (set by meson test).
set -uo pipefail
alexnet="$AN_BUILD_ROOT/apps/alexnet"
work=$(mktemp -d /tmp/an_shards.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail=0
check() { # check DESCRIPTION COMMAND...: the command must succeed
    local what=$1
    shift
    if "$@"; then echo "ok: $what"; else echo "FAIL: $what" && fail=1; fi
}
mkdir "$work/in"
for i in 1 2 3; do
    for f in astronaut chelsea coffee; do cp "$AN_SOURCE_ROOT/data/samples/$f.png" "$work/in/$f$i.png"; done
done
ln -s nowhere "$work/in/dangling.png" # a failing entry travels with its shard too
cd "$work"
run() { "$alexnet" classify --json --batch 2 "$@" in 2>>log; }

run >full.jsonl
check "a single run writes one line per input" test "$(wc -l <full.jsonl)" = 10
for k in 1 2 3; do run --shard $k/3 --output s$k.jsonl; done
check "3 shards concatenate to the single run" cmp <(cat s1.jsonl s2.jsonl s3.jsonl) full.jsonl
check "shards are contiguous and balanced" test "$(wc -l <s1.jsonl) $(wc -l <s2.jsonl) $(wc -l <s3.jsonl)" = "3 3 4"

# a killed shard: one whole line and half of the next
head -n 1 s3.jsonl >r3.jsonl
sed -n 2p s3.jsonl | head -c 40 >>r3.jsonl
run --shard 3/3 --output r3.jsonl --resume
check "a resumed shard equals an uninterrupted one" cmp r3.jsonl s3.jsonl
check "the resumed run classified only the rest" grep -q "3 images, 1 failed.*1 already in r3.jsonl" log
run --shard 3/3 --output r3.jsonl --resume
check "resuming a finished shard succeeds" test $? = 0
check "... and leaves it as it was" cmp r3.jsonl s3.jsonl
"$alexnet" classify --json --shard 7/9 in/coffee1.png >empty.jsonl 2>>log
check "an empty shard succeeds" test $? = 0
check "... and writes nothing" test ! -s empty.jsonl

echo "not json" >bad.jsonl
expect() { # expect STATUS ARGS...
    local want=$1
    shift
    "$alexnet" classify "$@" >/dev/null 2>&1
    check "classify $* -> $want" test $? = "$want"
}
expect 2 --json --resume --output bad.jsonl in
check "a file that is not classify's output is left alone" test "$(cat bad.jsonl)" = "not json"
expect 2 --resume --output x.jsonl in
expect 2 --json --resume in
expect 2 --shard 4/3 in
expect 2 --shard 0/3 in
expect 2 --shard 3 in
expect 2 --shard /3 in
expect 2 --shard 1/0 in
[ $fail = 0 ] || cat log
exit $fail
