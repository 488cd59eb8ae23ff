#!/bin/bash
# test_badelf.sh: truncated, corrupted, wrong-arch, overlapping-segment,
# huge and empty ELFs and bad manifests: each gives exactly one line of
# error naming the problem, a non-zero exit, and nothing is left behind.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
# The cold path: this suite is about lightvm on its own.
export LIGHTVM_NO_DAEMON=1

BAD=$TMP/bad
$BUILD/tests/tools/mkbadelf $TGUESTS/blockdev.elf "$BAD" || exit 1

# refused FILE WHAT: run and inspect both refuse FILE with one line
# mentioning WHAT.
refused() {
    local f=$1 what=$2
    for cmd in "run" "inspect"; do
        $LIGHTVM $cmd "$f" >"$TMP/out" 2>"$TMP/err"
        local rc=$?
        cat "$TMP/err"
        [ $rc -eq 125 ] || { echo "$cmd exited $rc, expected 125"; return 1; }
        [ "$(wc -l <"$TMP/err")" -eq 1 ] || { echo "not one line"; return 1; }
        contains "$TMP/err" "lightvm: " && contains "$TMP/err" "$what" || return 1
        [ ! -s "$TMP/out" ] || { echo "output on stdout"; return 1; }
    done
}

declare -A WANT=(
    [empty]="empty file"
    [truncated-header]="truncated"
    [truncated-phdrs]="program headers lie outside the file"
    [truncated-segment]="extends past the end of the file"
    [not-elf]="not an ELF file"
    [text-file]="truncated"
    [elf32]="not a 64-bit ELF"
    [big-endian]="not a little-endian ELF"
    [wrong-arch]="is not x86_64"
    [pie]="position-independent executable"
    [relocatable]="is not an executable"
    [bad-phentsize]="program header size"
    [phoff-past-end]="program headers lie outside the file"
    [no-phdrs]="no program headers"
    [entry-outside]="entry point 0x1000 is not in executable code"
    [entry-in-data]="is not in executable code"
    [segment-below-ram]="lies outside guest RAM"
    [segment-huge]="lies outside guest RAM"
    [segment-wraps]="lies outside guest RAM"
    [segment-past-file]="segment 1 has more file than memory"
    [filesz-over-memsz]="has more file than memory"
    [overlapping-segments]="overlaps segment"
    [misaligned-segment]="disagree modulo the page size"
    [writable-code]="writable and executable"
    [exec-stack]="executable stack"
    [interp]="dynamically linked"
    [dynamic]="dynamically linked"
    [unknown-phdr]="unsupported program header type"
    [no-notes]="no lightvm ABI note"
    [note-past-end]="note segment lies outside the file"
    [abi-version]="built for guest ABI version 99"
    [abi-entry-bad]="ABI note entry points are not in code"
    [manifest-magic]="manifest has a bad magic number"
    [manifest-version]="manifest is for ABI version 7"
    [manifest-count]="manifest lists 1000 devices"
    [manifest-size]="manifest size does not match"
    [manifest-type]="unknown type 9"
    [manifest-flags]="unknown flags"
    [manifest-name-empty]="invalid name"
    [manifest-name-chars]="invalid name"
    [manifest-name-unterminated]="invalid name"
)

# Every variant mkbadelf wrote has an expectation, and vice versa.
t_all_variants_covered() {
    local n=0
    for f in "$BAD"/*.elf; do
        local v
        v=$(basename "$f" .elf)
        [ -n "${WANT[$v]+x}" ] || { echo "no expectation for $v"; return 1; }
        n=$((n + 1))
    done
    [ $n -eq ${#WANT[@]} ] || { echo "$n variants, ${#WANT[@]} expected"; return 1; }
}

check all_variants_covered t_all_variants_covered
for v in $(printf '%s\n' "${!WANT[@]}" | sort); do
    check "bad_$v" refused "$BAD/$v.elf" "${WANT[$v]}"
done

t_huge() {
    cp $TGUESTS/blockdev.elf "$TMP/huge.elf" && truncate -s 300M "$TMP/huge.elf" &&
        refused "$TMP/huge.elf" "too large"
}

t_directory() {
    mkdir -p "$TMP/dir.elf" && refused "$TMP/dir.elf" "is not a regular file"
}

t_missing() {
    refused "$TMP/missing.elf" "No such file or directory"
}

t_no_leftovers() {
    no_new_leftovers
}

check huge t_huge
check directory t_directory
check missing t_missing
check no_leftovers t_no_leftovers
finish
