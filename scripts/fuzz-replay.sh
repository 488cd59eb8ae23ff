#!/bin/bash
# fuzz-replay.sh: run every fuzz target over its committed seed corpus once
# (no new inputs: deterministic), as a regression suite for make test.
cd "$(dirname "$0")/.." || exit 1
pass=0
fail=0
for t in build/fuzz/fuzz_*; do
    [ -x "$t" ] || continue
    name=${t##*/fuzz_}
    corpus=tests/fuzz/corpus/$name
    if "$t" -runs=0 "$corpus" >"/tmp/fuzz-replay-$name.log" 2>&1; then
        echo "PASS fuzz_$name ($(ls "$corpus" | wc -l) inputs)"
        pass=$((pass + 1))
    else
        echo "FAIL fuzz_$name"
        tail -n 30 "/tmp/fuzz-replay-$name.log"
        fail=$((fail + 1))
    fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
