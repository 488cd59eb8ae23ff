#!/bin/bash
# test_bench_plots.sh: every benchmark page in bench/results/ shows its
# plot, the plot is committed, and bench/plot-pages.sh draws it again from
# the page's own figures (gnuplot); a page with nothing to plot fails.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }

t_every_page_has_its_plot() {
    local page name bad=0
    for page in bench/results/*.md; do
        name=$(basename "$page" .md)
        [ "$name" = README ] && continue
        grep -qF "$name.png" "$page" || { echo "$page does not show $name.png"; bad=1; }
        is_png "bench/results/$name.png" || { echo "bench/results/$name.png missing"; bad=1; }
    done
    [ $bad = 0 ]
}

t_redrawn() {
    bench/plot-pages.sh "$TMP/plots" || return 1
    local page name n=0
    for page in bench/results/*.md; do
        name=$(basename "$page" .md)
        grep -q '^<!-- plot' "$page" || continue
        is_png "$TMP/plots/$name.png" || { echo "$name.png not drawn"; return 1; }
        n=$((n + 1))
    done
    [ $n -ge 10 ] || { echo "only $n pages drawn"; return 1; }
}

t_page_without_figures() {
    # A copy of the tree's script and pages with one page stripped of its
    # directive: the script names it and fails.
    mkdir -p "$TMP/tree/bench/results"
    cp bench/plot-pages.sh "$TMP/tree/bench/"
    cp bench/results/daemon.md "$TMP/tree/bench/results/"
    sed -i '/^<!-- plot/d' "$TMP/tree/bench/results/daemon.md"
    ! "$TMP/tree/bench/plot-pages.sh" "$TMP/out2" 2>"$TMP/err" &&
        contains "$TMP/err" "daemon.md says nothing to plot"
}

check every_page_has_its_plot t_every_page_has_its_plot
check redrawn t_redrawn
check page_without_figures t_page_without_figures
finish
