#!/bin/bash
# bench/jit_ab.sh: lightvm serve at a new client every 10 ms, an old tree
# against this one, in one run (the way daemon_ab.sh compares lightvmd).
# Each side has its own network namespace, lightvmd (pool 16M+net=64) and
# `lightvm serve --per-client` (guests destroyed after 2 s idle), all of
# its own tree; blocks of open-loop clients (tests/net/tools/jitc, as in
# bench/jit.sh) alternate between the sides, so that the host's load falls
# on both alike. After each block the side's guests must all be destroyed
# before the next block starts: how long that takes is the destroy
# backlog. Reports the first-answer round trip (median, p90, p99), drops
# and that drain time, and writes bench/results/jit-ab.md (+ jit-ab.png).
#
#   BASE=main bench/jit_ab.sh             # BLOCKS=2 N=300
#   OLD_TREE=/path/to/built/tree bench/jit_ab.sh   # skip building BASE
set -eu
cd "$(dirname "$0")/.."
BASE=${BASE:-main}
BLOCKS=${BLOCKS:-2}
N=${N:-300}
INTERVAL_US=${INTERVAL_US:-10000}
BUILD=${BUILD:-build}
PREFIX=${PREFIX:-jitab} # netns names: PREFIX-old-PID, PREFIX-new-PID
make -s BUILD="$BUILD" all "$BUILD/tests/net/tools/jitc" >/dev/null
JITC=$PWD/$BUILD/tests/net/tools/jitc
W=$(mktemp -d /tmp/lightvm-jitab.XXXXXX)
chmod 755 "$W"
OLD=${OLD_TREE:-}
MADE_TREE=
if [ -z "$OLD" ]; then
    OLD=$W/old-tree
    git worktree add -q --detach "$OLD" "$BASE"
    MADE_TREE=1
    make -s -C "$OLD" all >/dev/null 2>&1 || { echo "jit_ab.sh: cannot build $BASE" >&2; exit 1; }
fi
declare -A BIN=([old]=$OLD/build [new]=$PWD/$BUILD)
pids=()
cleanup() {
    set +e # a killed server's status must not end the cleanup (set -e)
    local p s
    # Each serve (destroying its guests) before its lightvmd: newest first.
    for ((p = ${#pids[@]} - 1; p >= 0; p--)); do
        kill "${pids[p]}" 2>/dev/null
        wait "${pids[p]}" 2>/dev/null
    done
    for s in old new; do
        ip netns del "$PREFIX-$s-$$" 2>/dev/null || true
        find /sys/fs/cgroup -maxdepth 2 -name "lightvm-$PREFIX-$s-$$" -exec rmdir {} + 2>/dev/null
    done
    [ -z "$MADE_TREE" ] || git worktree remove --force "$OLD" 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT
trap "exit 1" INT TERM

# lvm SIDE ARGS...: that side's lightvm against that side's lightvmd.
lvm() {
    local s=$1
    shift
    LIGHTVM_SOCKET=$W/$s/run/lightvmd.sock "${BIN[$s]}/bin/lightvm" "$@"
}
nsx() { # SIDE CMD...
    local s=$1
    shift
    nsenter --net=/run/netns/"$PREFIX-$s-$$" "$@"
}
pause() { read -rt "$1" <> <(:) || true; }

for s in old new; do
    ip netns add "$PREFIX-$s-$$"
    nsx $s ip link set lo up
    mkdir -p "$W/$s/run"
    # Through nsenter itself (it execs), not nsx: $! must be the server
    # for the cleanup's kill, not a subshell.
    LIGHTVM_RUN_DIR=$W/$s/run LIGHTVM_SOCKET=$W/$s/run/lightvmd.sock \
        LIGHTVM_CGROUP_PARENT=lightvm-$PREFIX-$s-$$ \
        nsenter --net=/run/netns/"$PREFIX-$s-$$" "${BIN[$s]}/bin/lightvmd" \
        --quiet --pool 16M+net=64 >"$W/$s.lightvmd" 2>&1 &
    pids+=($!)
    until lvm $s list >/dev/null 2>&1; do pause 0.1; done
    LIGHTVM_SOCKET=$W/$s/run/lightvmd.sock \
        nsenter --net=/run/netns/"$PREFIX-$s-$$" "${BIN[$s]}/bin/lightvm" serve \
        -l 127.0.0.1:7300 --guest-port 7 --per-client --max-guests 1024 \
        "${BIN[$s]}/examples/echo/echo.elf" >"$W/$s.serve" 2>&1 &
    pids+=($!)
    until grep -q "listening on" "$W/$s.serve"; do pause 0.05; done
    nsx $s "$JITC" --src 127.9.0.1 --timeout-ms 30000 127.0.0.1 7300 1 >/dev/null # warm-up
done

# drained SIDE: until that side's serve has destroyed every guest it made;
# prints how long that took after the block, in s.
drained() {
    local t0 t1
    t0=$(date +%s%N)
    until [ -z "$(lvm "$1" list -q)" ]; do pause 0.05; done
    t1=$(date +%s%N)
    awk -v n=$((t1 - t0)) 'BEGIN {printf "%.2f", n / 1e9}'
}

for s in old new; do drained $s >/dev/null; done
for b in $(seq "$BLOCKS"); do
    for s in old new; do
        echo "block $b, $s: $N clients, one every $((INTERVAL_US / 1000)) ms" >&2
        # Client addresses differ between blocks: each client a new one.
        nsx $s "$JITC" --interval-us "$INTERVAL_US" --src "127.$((b + 1)).0.1" \
            --timeout-ms 30000 --out "$W/$s-$b.out" 127.0.0.1 7300 "$N" >/dev/null 2>&1 || true
        # Past the 2 s idle timeout, every guest is destroyed.
        echo "$(drained $s)" >>"$W/$s.drain"
    done
done

# stats SIDE: "median p90 p99 drops" in ms over the side's blocks.
stats() {
    cat "$W/$1"-*.out |
        awk '$3 == "ok" {print $2} $3 != "ok" {d++} END {print "drops", d + 0}' |
        sort -n | awk '
        /^drops/ {drops = $2; next}
        {v[n++] = $1}
        END {
            if (!n) { printf "- - - %d\n", drops; exit }
            printf "%.2f %.2f %.2f %d\n", v[int(n * 0.5)] / 1000,
                v[int(n * 0.9)] / 1000, v[int(n * 0.99)] / 1000, drops
        }'
}
# blocks SIDE: each block's median, ms.
blocks() {
    local b
    for b in $(seq "$BLOCKS"); do
        awk '$3 == "ok" {print $2}' "$W/$1-$b.out" | sort -n |
            awk '{v[n++] = $1} END {if (n) printf "%.0f ", v[int(n / 2)] / 1000; else printf "- "}'
    done
}
pct() { # SIDE P
    cat "$W/$1"-*.out | awk '$3 == "ok" {print $2}' | sort -n |
        awk -v p="$2" '{v[n++] = $1} END {if (n) printf "%.2f", v[int(n * p / 100)] / 1000; else printf "NaN"}'
}
OUT=bench/results/jit-ab.md
read -r om op9 op99 od <<<"$(stats old)"
read -r nm np9 np99 nd <<<"$(stats new)"
{
    echo "# lightvm serve at a client every 10 ms: $BASE against this tree"
    echo
    echo "![first answer, a new client every 10 ms, before and after: percentiles, ms](jit-ab.png)"
    echo "<!-- plot-data title=\"first answer, a client every 10 ms: $BASE (old) and this tree (new), percentiles\" ylabel=\"ms\" log"
    printf "percentile\told\tnew\n"
    for p in 10 25 50 75 90 95 99; do
        printf "p%s\t%s\t%s\n" $p "$(pct old $p)" "$(pct new $p)"
    done
    echo "-->"
    echo
    echo "Produced by \`BASE=$BASE BLOCKS=$BLOCKS N=$N bench/jit_ab.sh\` on $(date -u +%Y-%m-%d)."
    echo "Machine: $(nproc) CPUs, kernel $(uname -r), load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "(a shared machine: other work ran meanwhile)."
    echo
    echo "Each side ran its own lightvmd (pool \`16M+net=64\`) and \`lightvm serve"
    echo "--per-client\` with the echo guest, in a network namespace of its own;"
    echo "$BLOCKS blocks of $N open-loop clients (one every $((INTERVAL_US / 1000)) ms, each from a new"
    echo "address) alternated between the sides. A client's first answer is the"
    echo "time from its connect to its echo; one not answered within 30 s is a"
    echo "drop. After each block the side's guests (destroyed 2 s after their"
    echo "client left) had to be gone before the next block: *drain* is how long"
    echo "that took after the block's last client, 2 s of it the idle timeout."
    echo
    echo "| side | clients | median ms | p90 ms | p99 ms | drops | median ms (each block) | drain s (each block) |"
    echo "|---|---:|---:|---:|---:|---:|---|---|"
    echo "| old ($BASE) | $((BLOCKS * N)) | $om | $op9 | $op99 | $od | $(blocks old) | $(paste -sd' ' "$W/old.drain") |"
    echo "| new | $((BLOCKS * N)) | $nm | $np9 | $np99 | $nd | $(blocks new) | $(paste -sd' ' "$W/new.drain") |"
    echo
    awk -v o="$om" -v n="$nm" -v o9="$op9" -v n9="$np9" -v o99="$op99" -v n99="$np99" 'BEGIN {
        if (o > 0 && o9 > 0 && o99 > 0)
            printf "new / old: median %.2f, p90 %.2f, p99 %.2f.\n", n / o, n9 / o9, n99 / o99 }'
} >"$OUT"
cat "$OUT"
# The page's plot, drawn from its own figures (test_bench_plots.sh checks it).
plots=$(mktemp -d)
bench/plot-pages.sh "$plots" >/dev/null
cp "$plots/jit-ab.png" bench/results/jit-ab.png
rm -rf "$plots"
