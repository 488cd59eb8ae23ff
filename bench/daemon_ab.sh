#!/bin/bash
# bench/daemon_ab.sh: guest creation through lightvmd, an old tree against
# this one, in one run: both daemons run side by side (pools of the same
# size, run directories on tmpfs), and blocks of creations from a client
# that keeps its connection alternate between them, so that the machine's
# noise falls on both alike. Reports medians, p90 and new/old ratios and
# writes bench/results/daemon-ab.md. A regression in creation speed is a
# bug: run this before and after any change on the creation path.
#
#   BASE=14a080e bench/daemon_ab.sh       # BLOCKS=10 PER=30
set -eu
cd "$(dirname "$0")/.."
BASE=${BASE:-14a080e}
BLOCKS=${BLOCKS:-10}
PER=${PER:-30}
OUT=bench/results
make -s bench-tools >/dev/null
W=$(mktemp -d /tmp/lightvm-ab.XXXXXX)
chmod 755 "$W"
OLD=$W/old
git worktree add -q --detach "$OLD" "$BASE"
make -s -C "$OLD" all >/dev/null 2>&1 || { echo "daemon_ab.sh: cannot build $BASE" >&2; exit 1; }
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    for s in old new; do
        LIGHTVM_SOCKET=$W/$s/run/lightvmd.sock build/bin/lightvm destroy \
            $(LIGHTVM_SOCKET=$W/$s/run/lightvmd.sock build/bin/lightvm list -q 2>/dev/null) >/dev/null 2>&1 || true
        umount -l "$W/$s/run" 2>/dev/null || true
    done
    git worktree remove --force "$OLD" 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT
start() { # SIDE BIN
    mkdir -p "$W/$1/run"
    mount -t tmpfs -o size=512m,mode=0755 "lightvm-ab-$1" "$W/$1/run"
    LIGHTVM_RUN_DIR=$W/$1/run LIGHTVM_CGROUP_PARENT=lightvm-ab-$1 \
        "$2" --quiet --pool 4M=64 --pool-rate 2000 >"$W/$1.log" 2>&1 &
    pids+=($!)
    until LIGHTVM_SOCKET=$W/$1/run/lightvmd.sock build/bin/lightvm list >/dev/null 2>&1; do
        read -rt 0.05 <> <(:) || true
    done
}
pool_full() { # SIDE
    until build/tests/tools/apiclient "$W/$1/run/lightvmd.sock" '{"op":"pool"}' |
        grep -q '"target":64,"ready":64,"preparing":0'; do
        read -rt 0.1 <> <(:) || true
    done
}
start old "$OLD/build/bin/lightvmd"
start new "$PWD/build/bin/lightvmd"
for b in $(seq "$BLOCKS"); do
    for s in old new; do
        pool_full $s
        # Each daemon runs its own tree's guest: the ABI may have changed.
        img=$PWD/build/examples/idle/idle.elf
        [ $s = new ] || img=$OLD/build/examples/idle/idle.elf
        build/bench/bench_density lightvm "$W/$s/run/lightvmd.sock" "$W/$s/run" \
            "$img" "$PER" 100 |
            awk -F, -v s=$s '$1 == "create" {print s "," $5 "," $6}' >>"$W/creates.csv"
    done
done
stats() { # SIDE FIELD: median p90
    awk -F, -v s=$1 -v f=$2 '$1 == s {print $f}' "$W/creates.csv" | sort -n |
        awk '{a[NR]=$1} END {printf "%.3f %.3f", a[int((NR+1)/2)], a[int(NR*0.9+0.5)]}'
}
read -r om op <<<"$(stats old 2)"
read -r nm np <<<"$(stats new 2)"
read -r ofm ofp <<<"$(stats old 3)"
read -r nfm nfp <<<"$(stats new 3)"
{
echo "# Creating guests through lightvmd: $BASE against $(git rev-parse --short HEAD)"
echo
echo "![lightvmd before and after the change: median ms](daemon-ab.png)"
echo '<!-- plot table=1 cols=2,4 title="lightvmd before and after: median ms" ylabel="ms" -->'
echo
echo "Produced by \`BASE=$BASE BLOCKS=$BLOCKS PER=$PER bench/daemon_ab.sh\` on $(date -u +%Y-%m-%d)."
echo "Machine: $(nproc) CPUs, kernel $(uname -r), load before: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Both daemons ran side by side with a pool of 64 4 MiB shells each; $BLOCKS"
echo "blocks of $PER creations (idle guests, paced at 100 a second) alternated"
echo "between them, $((BLOCKS * PER)) creations each."
echo
echo "| what | old median ms | old p90 | new median ms | new p90 | new / old (median) |"
echo "|---|---:|---:|---:|---:|---:|"
awk -v a=$om -v b=$op -v c=$nm -v d=$np 'BEGIN {printf "| request to reply | %.3f | %.3f | %.3f | %.3f | %.2f |\n", a, b, c, d, c/a}'
awk -v a=$ofm -v b=$ofp -v c=$nfm -v d=$nfp 'BEGIN {printf "| request to first instruction | %.3f | %.3f | %.3f | %.3f | %.2f |\n", a, b, c, d, c/a}'
} | tee "$OUT/daemon-ab.md"
# The page's plot, drawn from its own table (test_bench_plots.sh checks it).
plots=$(mktemp -d)
bench/plot-pages.sh "$plots" >/dev/null
cp "$plots/daemon-ab.png" "$OUT/daemon-ab.png"
rm -rf "$plots"
