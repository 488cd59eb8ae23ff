#!/bin/bash
# run_net_corpus.sh: replay the network fuzzers' corpus (the seeds in the
# repository, and build/fuzz/corpus if a fuzzing run grew one) once
# through each target: a regression test for every input that ever found
# something. `make fuzz-net` fuzzes for real.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

replay() {
    local fuzzer=build/fuzz/$1 dirs=(tests/fuzz/corpus/net_frame)
    [ -x "$fuzzer" ] || { echo "$fuzzer not built (needs clang)"; return 1; }
    [ -d build/fuzz/corpus ] && dirs+=(build/fuzz/corpus)
    "$fuzzer" -runs=0 "${dirs[@]}"
}

if command -v "${CLANG:-clang}" >/dev/null; then
    check fuzz_net_frame_corpus replay fuzz_net_frame
    check fuzz_net_dhcp_corpus replay fuzz_net_dhcp
else
    skip fuzz_net_corpus "clang is not installed"
fi
finish
