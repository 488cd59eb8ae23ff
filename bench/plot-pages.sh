#!/bin/bash
# plot-pages.sh: the plot of every benchmark page in bench/results/.
#
#   bench/plot-pages.sh [OUTDIR]     (default: bench/results)
#
# Pages whose benchmark draws its own plot (density.sh, snapshot.sh) keep
# it. The others say what to plot in an HTML comment (invisible on the
# page), so the plot follows the page's own figures:
#
#   <!-- plot table=N cols=A,B title="..." ylabel="..." [log] -->
#       columns A, B... of the page's Nth table, against its first column
#       (units and markup stripped: "159.93us" is 159.93);
#   <!-- plot-data title="..." ylabel="..." [log]
#   SERIES<TAB>SERIES...
#   LABEL<TAB>VALUE<TAB>VALUE...
#   -->
#       figures given in the text (pages without a table of them).
#
# Each page shows its plot as ![title](PAGE.png). The results index
# (README.md) is not a benchmark page.
set -eu
cd "$(dirname "$0")/.."
OUT=${1:-bench/results}
mkdir -p "$OUT"
GNUPLOT=$(command -v gnuplot || command -v gnuplot-nox || true)
[ -n "$GNUPLOT" ] || { echo "plot-pages.sh: gnuplot is missing (scripts/deps.sh)" >&2; exit 1; }

# attr LINE NAME: the value of NAME="..." or NAME=word in LINE.
attr() {
    local v
    v=$(printf '%s\n' "$1" | sed -n "s/.*[ ]$2=\"\([^\"]*\)\".*/\1/p")
    [ -n "$v" ] || v=$(printf '%s\n' "$1" | sed -n "s/.*[ ]$2=\([^ \"]*\).*/\1/p")
    printf '%s' "$v"
}

# table PAGE N COLS: the Nth table's header and rows as TSV: the first
# column, then COLS (comma-separated), numbers only.
table() {
    awk -v want="$2" -v cols="$3" -F'|' '
        function clean(s) { gsub(/[`*]/, "", s); gsub(/^ +| +$/, "", s); return s }
        function num(s) { s = clean(s); gsub(/[^0-9.eE+-]/, "", s); return s == "" ? "NaN" : s }
        /^\|/ { if (!intab) { n++; intab = 1; row = 0 } row++
                if (n != want || row == 2) next
                k = split(cols, c, ",")
                line = clean($2)
                for (i = 1; i <= k; i++) line = line "\t" (row == 1 ? clean($(c[i] + 1)) : num($(c[i] + 1)))
                print line; next }
        { intab = 0 }' "$1"
}

# data PAGE: the lines of the plot-data comment.
data() {
    awk '/^<!-- plot-data/ {on = 1; next} on && /^-->/ {exit} on {print}' "$1"
}

plot() { # TSV TITLE YLABEL LOG PNG
    local ncol
    ncol=$(head -n1 "$1" | awk -F'\t' '{print NF}')
    "$GNUPLOT" <<GP
set terminal png size 1000,560
set output "$5"
set datafile separator "\t"
set datafile missing "NaN"
set title "$2"
set ylabel "$3"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set key top left
set xtics rotate by -25 nomirror
set yrange [0:*]
set grid ytics
$([ "$4" = log ] && printf 'set logscale y\nset yrange [*:*]\n')
plot for [i=2:$ncol] "$1" using i:xtic(1) title columnheader(i)
GP
}

status=0
for page in bench/results/*.md; do
    name=$(basename "$page" .md)
    [ "$name" = README ] && continue
    [ -e "bench/results/$name.png" ] && ! grep -q '^<!-- plot' "$page" && continue # its own
    line=$(grep -m1 '^<!-- plot' "$page" || true)
    if [ -z "$line" ]; then
        echo "plot-pages.sh: $page says nothing to plot" >&2
        status=1
        continue
    fi
    tsv=$(mktemp)
    if [[ $line == "<!-- plot-data"* ]]; then
        data "$page" >"$tsv"
    else
        table "$page" "$(attr "$line" table)" "$(attr "$line" cols)" >"$tsv"
    fi
    if [ "$(wc -l <"$tsv")" -lt 2 ]; then
        echo "plot-pages.sh: $page: no figures found for its plot" >&2
        status=1
    else
        plot "$tsv" "$(attr "$line" title)" "$(attr "$line" ylabel)" \
            "$(grep -qw log <<<"$line" && echo log)" "$OUT/$name.png"
        grep -qF "]($name.png)" "$page" || echo "plot-pages.sh: $page does not show $name.png" >&2
    fi
    rm -f "$tsv"
done
exit $status
