#!/bin/bash
# test_compat.sh: the compatibility suite. Real programs and libraries
# from Debian source packages (tests/compat/compat.lock), built unmodified
# with lightvm-cc (tests/compat/build.sh, `make compat`), run in guests
# with their own tests or self-tests; their test data rides in the image
# (lightvm-cc --files). Each program is one check per monitor: PASS when
# every one of its own tests passes, or when it fails exactly as listed
# in XFAIL below (with the reason; docs/compat.md). Per program, the line
#
#   compat: PROGRAM on MONITOR: P of T tests pass (S s)
#
# and $BUILD/compat/results-MONITOR.txt ("program passed total seconds")
# say how many of its own tests passed.
#
# Monitors: proc, and kvm where /dev/kvm opens (LIGHTVM_COMPAT_MONITORS
# picks; the kvm suite runs this under kvm inside its nested VM).
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
export LIGHTVM_NO_DAEMON=1
C=$BUILD/compat
T=${LIGHTVM_COMPAT_TIMEOUT:-300}
# The host builds (bench/compat.sh), for the native runs.
CN=${LIGHTVM_COMPAT_NATIVE:-$BUILD/compat-native}

if [ -z "${LIGHTVM_COMPAT_MONITORS:-}" ]; then
    LIGHTVM_COMPAT_MONITORS=proc
    if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
        LIGHTVM_COMPAT_MONITORS="proc kvm"
    fi
fi

# Expected failures: PROGRAM|tests that fail|reason.
XFAIL=(
    "jansson|test_dump|pipe() is not served: a guest has one file tree and no pipes (jansson tests json_dumpfd through a pipe)"
)

# run MON NAME ELF [ARGS...]: run a guest, output in $TMP/NAME.MON.{out,rc}.
# MON "native" (bench/compat.sh only): the host build of the program, in
# an empty root holding a copy of its tree, under bwrap.
run() {
    local mon=$1 name=$2
    shift 2
    local t0=${EPOCHREALTIME/./} # microseconds (bash 5; busybox date has no %N)
    if [ "$mon" = native ]; then
        local elf=$1 root=$TMP/root.$name
        shift
        rm -rf "$root" && cp -r "$(dirname "$elf")/tree" "$root" &&
            cp "$elf" "$root/.prog" && mkdir -p "$root/tmp" "$root/dev"
        t0=${EPOCHREALTIME/./}
        timeout "$T" bwrap --bind "$root" / --dev /dev --chdir / --unshare-all \
            --die-with-parent /.prog "$@" >"$TMP/$name.$mon.out" 2>&1 </dev/null
    else
        "$LIGHTVM" run --monitor "$mon" --timeout "$T" -m 128M "$@" \
            >"$TMP/$name.$mon.out" 2>&1 </dev/null
    fi
    echo $? >"$TMP/$name.$mon.rc"
    echo $(((${EPOCHREALTIME/./} - t0) / 1000)) >>"$TMP/$name.$mon.ms"
}
rc() { cat "$TMP/$1.$2.rc"; }
out() { cat "$TMP/$1.$2.out"; }

# Each program's runner: sets PASS_N and TOTAL_N from its own output.
prog_zlib() { # example: seven tests, each prints one line when it passes
    run "$1" zlib "$C/zlib/example.elf"
    TOTAL_N=7
    PASS_N=$(grep -cE '^(uncompress|gzread|gzgets|inflate|large_inflate|after inflateSync|inflate with dictionary)' "$TMP/zlib.$1.out")
}
prog_lz4() { # the fuzzer's unit tests and rounds, the frame API's tester
    run "$1" lz4f "$C/lz4/fuzzer.elf" -i40 -s1
    run "$1" lz4t "$C/lz4/frametest.elf" -i40 -s1
    TOTAL_N=3
    PASS_N=0
    [ "$(rc lz4f "$1")" = 0 ] && grep -q 'all tests completed successfully' "$TMP/lz4f.$1.out" && PASS_N=$((PASS_N + 1))
    grep -q 'Basic tests completed' "$TMP/lz4t.$1.out" && PASS_N=$((PASS_N + 1))
    [ "$(rc lz4t "$1")" = 0 ] && grep -q 'All tests completed' "$TMP/lz4t.$1.out" && PASS_N=$((PASS_N + 1))
}
prog_bzip2() { # bzip2 -t on its three sample streams, as its Makefile's check
    run "$1" bzip2 "$C/bzip2/bzip2.elf" -tvv sample1.bz2 sample2.bz2 sample3.bz2
    TOTAL_N=3
    PASS_N=$(grep -c '^    ok$' "$TMP/bzip2.$1.out")
    [ "$(rc bzip2 "$1")" = 0 ] || PASS_N=0
}
prog_cjson() { # every Unity test program; "N Tests F Failures I Ignored"
    local e n line
    TOTAL_N=0
    PASS_N=0
    for e in "$C"/cjson/*.elf; do
        n=cjson_$(basename "$e" .elf)
        run "$1" "$n" "$e"
        line=$(grep -E '^[0-9]+ Tests [0-9]+ Failures [0-9]+ Ignored' "$TMP/$n.$1.out")
        if [ -n "$line" ]; then
            set -- "$1" $line
            TOTAL_N=$((TOTAL_N + $2 - $6))
            [ "$(rc "$n" "$1")" = 0 ] && PASS_N=$((PASS_N + $2 - $4 - $6))
        else
            TOTAL_N=$((TOTAL_N + 1)) # it died before its summary
            echo "$n: no summary: $(tail -n 1 "$TMP/$n.$1.out")"
        fi
    done
}
prog_jansson() { # its API test programs: each exits 0 when it passes
    local e n
    TOTAL_N=0
    PASS_N=0
    for e in "$C"/jansson/test_*.elf; do
        n=jansson_$(basename "$e" .elf)
        run "$1" "$n" "$e"
        TOTAL_N=$((TOTAL_N + 1))
        if [ "$(rc "$n" "$1")" = 0 ]; then
            PASS_N=$((PASS_N + 1))
        else
            FAILED_TESTS+=" $(basename "$e" .elf)"
            echo "$n: $(tail -n 1 "$TMP/$n.$1.out")"
        fi
    done
}
prog_mbedtls() { # selftest: one line per known-answer test, "passed" or "failed"
    # timing: its test arms setitimer, a timer signal guests do not have
    # (docs/compat.md).
    run "$1" mbedtls "$C/mbedtls/selftest.elf" -x timing
    PASS_N=$(grep -cE ': passed$|: passed \(' "$TMP/mbedtls.$1.out")
    local f
    f=$(grep -cE ': failed' "$TMP/mbedtls.$1.out")
    TOTAL_N=$((PASS_N + f))
    grep -q 'All tests PASS' "$TMP/mbedtls.$1.out" && [ "$(rc mbedtls "$1")" = 0 ] ||
        { echo "mbedtls: $(grep -E 'failed|FAIL|killed' "$TMP/mbedtls.$1.out" | head -n 3)"; TOTAL_N=$((TOTAL_N + 1)); }
}
prog_pcre2() { # pcre2test on the test files its RunTest runs here,
    # output compared with the expected (build.sh picks them)
    local e i
    TOTAL_N=0
    PASS_N=0
    for e in "$C"/pcre2/expect/testoutput*; do
        i=${e##*testoutput}
        run "$1" "pcre2_$i" "$C/pcre2/pcre2test.elf" -q "testdata/testinput$i"
        TOTAL_N=$((TOTAL_N + 1))
        if [ "$(rc "pcre2_$i" "$1")" = 0 ] && cmp -s "$TMP/pcre2_$i.$1.out" "$e"; then
            PASS_N=$((PASS_N + 1))
        else
            echo "pcre2 test $i differs:"
            diff "$TMP/pcre2_$i.$1.out" "$e" | head -n 5
        fi
    done
}
prog_lua() { # the interpreter on scripts of ours (Debian ships no tests)
    local s n want got
    TOTAL_N=0
    PASS_N=0
    for s in lang files; do
        n=lua_$s
        run "$1" "$n" "$C/lua5.4/lua.elf" "/lua/$s.lua"
        want=$(grep -o 'ok("' "tests/compat/lua/$s.lua" | wc -l)
        got=$(sed -n 's/^[a-z]*\.lua: \([0-9]*\) checks passed$/\1/p' "$TMP/$n.$1.out")
        TOTAL_N=$((TOTAL_N + want))
        [ "$(rc "$n" "$1")" = 0 ] && PASS_N=$((PASS_N + ${got:-0})) ||
            echo "$n: $(tail -n 2 "$TMP/$n.$1.out")"
    done
}

PROGRAMS=(zlib lz4 bzip2 cjson jansson mbedtls pcre2 lua)
dir_of() { case $1 in lua) echo lua5.4 ;; *) echo "$1" ;; esac; }

# compat PROGRAM MONITOR: its tests, counted; PASS if all pass or if the
# failures are exactly the expected ones.
compat() {
    local p=$1 mon=$2 x want="" why="" C=$C
    [ "$mon" = native ] && C=$CN
    if [ ! -f "$C/$(dir_of "$p")/.built" ]; then
        echo "$C/$(dir_of "$p") is not built (make compat)"
        return 1
    fi
    rm -f "$TMP"/*."$mon".ms
    FAILED_TESTS=""
    PASS_N=0
    TOTAL_N=0
    "prog_$p" "$mon"
    local ms=0 f
    for f in "$TMP"/*."$mon".ms; do
        [ -e "$f" ] && ms=$((ms + $(cat "$f")))
    done
    for x in "${XFAIL[@]}"; do
        [ "${x%%|*}" = "$p" ] || continue
        x=${x#*|}
        want+=" ${x%%|*}"
        why=${x#*|}
    done
    printf 'compat: %s on %s: %d of %d tests pass (%d.%03d s)\n' "$p" "$mon" \
        "$PASS_N" "$TOTAL_N" $((ms / 1000)) $((ms % 1000))
    echo "$p $PASS_N $TOTAL_N $ms" >>"$C/results-$mon.txt.new"
    [ "$TOTAL_N" -gt 0 ] || return 1
    [ "$PASS_N" = "$TOTAL_N" ] && return 0
    if [ -n "$want" ] && [ "$FAILED_TESTS" = "$want" ]; then
        echo "expected failure:$want: $why"
        return 0
    fi
    return 1
}

for mon in $LIGHTVM_COMPAT_MONITORS; do
    R=$C
    [ "$mon" = native ] && R=$CN
    rm -f "$R/results-$mon.txt.new"
    for p in "${PROGRAMS[@]}"; do
        check "compat_${p}_$mon" compat "$p" "$mon"
        grep -h "^compat: $p on $mon" "$TMP/compat_${p}_$mon.log"
    done
    [ -f "$R/results-$mon.txt.new" ] && mv "$R/results-$mon.txt.new" "$R/results-$mon.txt"
done
finish
