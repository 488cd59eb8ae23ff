#!/bin/bash
# test_fuzz_corpus.sh: run every Tinyx libFuzzer target once over each
# input of its seed corpus (tests/fuzz/corpus/tinyx_NAME/): a regression
# test that the parsers of untrusted input still survive them under ASan
# and UBSan. Fuzz for longer with:
#   build/fuzz/fuzz_tinyx_NAME -max_total_time=600 tests/fuzz/corpus/tinyx_NAME
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

run_corpus() { # NAME
    local bin=build/fuzz/fuzz_tinyx_$1 dir=tests/fuzz/corpus/tinyx_$1
    [ -x "$bin" ] || { echo "$bin not built (make tests)"; return 1; }
    [ -n "$(ls -A "$dir")" ] || { echo "empty corpus $dir"; return 1; }
    "$bin" -runs=0 "$dir"/*
}

for name in dpkg qmp manifest kconfig argsplit elf xframe; do
    check "fuzz_corpus_$name" run_corpus "$name"
done
finish
