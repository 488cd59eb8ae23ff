#!/bin/bash
# compat.sh: the compatibility suite (tests/compat) in guests against the
# same programs on the host, and CPU-bound work in a guest against native.
#
#   bench/compat.sh [BUILD]           (default: build; writes bench/results/compat.md)
#
# 1. Pass rate and run time, per program: its own tests under proc (and
#    kvm where /dev/kvm opens here; else the kvm suite's last counts in
#    BUILD/compat/results-kvm.txt, from inside its nested VM, where times
#    are emulated and left out), and natively: the same sources built by
#    the host's gcc (tests/compat/cc-native), static, run in an empty
#    root holding the program's tree under bwrap, the nearest native
#    analogue of a guest's private tree. Times are the suite's wall clock
#    per program, start-up included (one process or guest per test
#    program: cJSON's 20, jansson's 18, PCRE2's 16).
# 2. CPU-bound: lz4's fuzzer for ROUNDS rounds (no files), guest under
#    proc against the host build run directly, interleaved, median of RUNS.
set -eu
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${RUNS:-5}
ROUNDS=${ROUNDS:-2000}
OUT=bench/results/compat.md
export LIGHTVM_NO_DAEMON=1
NATIVE=$BUILD/compat-native

command -v bwrap >/dev/null || { echo "compat.sh: bwrap is missing (scripts/deps.sh)" >&2; exit 1; }
make -s BUILD="$BUILD" compat
for p in zlib lz4 bzip2 cjson jansson mbedtls pcre2 lua5.4; do
    [ -f "$NATIVE/$p/.built" ] && [ "$NATIVE/$p/.built" -nt tests/compat/build.sh ] && continue
    COMPAT_CC=$PWD/tests/compat/cc-native COMPAT_OUT=$PWD/$NATIVE \
        tests/compat/build.sh "$BUILD" "$p"
done

mons="native proc"
[ -r /dev/kvm ] && [ -w /dev/kvm ] && mons="native proc kvm"
log=$(mktemp)
BUILD=$BUILD LIGHTVM_COMPAT_MONITORS=$mons tests/compat/test_compat.sh | tee "$log"
suite_line=$(tail -n 1 "$log")
rm -f "$log"

# results FILE PROGRAM FIELD: passed (2), total (3) or ms (4).
res() { awk -v p="$2" -v f="$3" '$1 == p { print $f }' "$1" 2>/dev/null; }
nat=$NATIVE/results-native.txt
prc=$BUILD/compat/results-proc.txt
kvm=$BUILD/compat/results-kvm.txt
kvm_timed=0
case $mons in *kvm*) kvm_timed=1 ;; esac
if [ $kvm_timed = 0 ]; then
    # The nested VM's counts come back in the kvm suite's verdict lines.
    kvm=$(mktemp)
    sed -n 's/^compat: \([a-z0-9]*\) on kvm: \([0-9]*\) of \([0-9]*\) tests pass.*/\1 \2 \3 0/p' \
        "$BUILD/kvm-nested/verdicts" >"$kvm" 2>/dev/null || true
fi

# 2. CPU-bound, interleaved.
fz_n=() fz_p=()
for i in $(seq "$RUNS"); do
    t0=${EPOCHREALTIME/./}
    "$NATIVE/lz4/fuzzer.elf" -i"$ROUNDS" -s1 >/dev/null 2>&1
    fz_n+=($(((${EPOCHREALTIME/./} - t0) / 1000)))
    t0=${EPOCHREALTIME/./}
    "$BUILD/bin/lightvm" run -m 128M "$BUILD/compat/lz4/fuzzer.elf" -i"$ROUNDS" -s1 >/dev/null 2>&1
    fz_p+=($(((${EPOCHREALTIME/./} - t0) / 1000)))
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
mn=$(median "${fz_n[@]}")
mp=$(median "${fz_p[@]}")

{
    echo "# The compatibility suite: in guests against native"
    echo
    echo "![tests passed and run time per program, guest against native](compat.png)"
    echo '<!-- plot table=1 cols=6,7 title="compatibility suite: wall time per program (s), guest under proc against native under bwrap" ylabel="seconds" -->'
    echo
    echo "Machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo);"
    echo "Linux $(uname -r); load average before: $(cut -d' ' -f1-3 /proc/loadavg);"
    echo "commit $(git rev-parse --short HEAD); $(date -u +%Y-%m-%d)."
    echo
    echo '```'
    echo "bench/compat.sh $BUILD"
    echo '```'
    echo
    echo "## 1. Each program's own tests ([docs/compat.md](../../docs/compat.md))"
    echo
    echo "| program | its tests | pass native | pass proc | pass kvm | native s | proc s | kvm s |"
    echo "|---|---|---|---|---|---|---|---|"
    tn=0 tp=0 tk=0 tt=0 sn=0 sp=0 sk=0
    for p in zlib lz4 bzip2 cjson jansson mbedtls pcre2 lua; do
        t=$(res "$prc" $p 3)
        n=$(res "$nat" $p 2)
        pp=$(res "$prc" $p 2)
        k=$(res "$kvm" $p 2)
        ms_n=$(res "$nat" $p 4)
        ms_p=$(res "$prc" $p 4)
        ms_k=$(res "$kvm" $p 4)
        kt="-"
        [ $kvm_timed = 1 ] && kt=$(awk -v m="$ms_k" 'BEGIN {printf "%.3f", m / 1000}')
        printf '| %s | %s | %s | %s | %s | %.3f | %.3f | %s |\n' "$p" "$t" "$n" "$pp" "${k:--}" \
            "$(awk -v m="$ms_n" 'BEGIN {print m / 1000}')" "$(awk -v m="$ms_p" 'BEGIN {print m / 1000}')" "$kt"
        tt=$((tt + t)) tn=$((tn + n)) tp=$((tp + pp)) tk=$((tk + ${k:-0}))
        sn=$((sn + ms_n)) sp=$((sp + ms_p)) sk=$((sk + ${ms_k:-0}))
    done
    printf '| **total** | %d | %d (%.1f%%) | %d (%.1f%%) | %s | %.3f | %.3f | %s |\n' "$tt" \
        "$tn" "$(awk -v a=$tn -v b=$tt 'BEGIN {print 100 * a / b}')" \
        "$tp" "$(awk -v a=$tp -v b=$tt 'BEGIN {print 100 * a / b}')" \
        "$([ -s "$kvm" ] && printf '%d (%.1f%%)' $tk "$(awk -v a=$tk -v b=$tt 'BEGIN {print 100 * a / b}')" || echo -)" \
        "$(awk -v m=$sn 'BEGIN {print m / 1000}')" "$(awk -v m=$sp 'BEGIN {print m / 1000}')" \
        "$([ $kvm_timed = 1 ] && awk -v m=$sk 'BEGIN {printf "%.3f", m / 1000}' || echo -)"
    echo
    echo "Suite under these monitors: $suite_line."
    if [ $kvm_timed = 0 ]; then
        echo "The kvm column is the kvm suite's last run"
        echo "(\`tests/kvm/test_kvm.sh\`, inside its nested VM: this host has no"
        echo "/dev/kvm), counts only: its times are emulated."
    fi
    echo "jansson's test_dump passes natively and fails in guests: it needs"
    echo "\`pipe()\` (docs/compat.md). Times include starting each test"
    echo "program: a guest (\`lightvm run\`, cold, no daemon) against bwrap."
    echo
    echo "## 2. CPU-bound: lz4's fuzzer, $ROUNDS rounds, median of $RUNS, interleaved"
    echo
    echo '```'
    echo "$NATIVE/lz4/fuzzer.elf -i$ROUNDS -s1                           # native (glibc, static)"
    echo "lightvm run -m 128M $BUILD/compat/lz4/fuzzer.elf -i$ROUNDS -s1  # guest (musl), proc"
    echo '```'
    echo
    echo "| run | ms (median) | runs |"
    echo "|---|---|---|"
    echo "| native | $mn | ${fz_n[*]} |"
    echo "| guest, proc | $mp | ${fz_p[*]} |"
    echo
    echo "Guest against native: $(awk -v a=$mp -v b=$mn 'BEGIN {printf "%.2fx", a / b}')"
    echo "(the guest's start-up, about 2 ms, included; musl's string and"
    echo "memory functions against glibc's are part of the difference)."
} >"$OUT"
plots=$(mktemp -d)
bench/plot-pages.sh "$plots" >/dev/null
cp "$plots/compat.png" bench/results/compat.png
rm -rf "$plots"
echo "compat.sh: wrote $OUT and bench/results/compat.png"
