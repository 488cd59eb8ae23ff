#!/bin/bash
# bench/tls.sh: TLS termination (issue 16; docs/tls.md). The tls-proxy
# guest against nginx (Debian) terminating TLS in crun on the same bridge,
# both in front of one backend (nginx serving a small page, plain HTTP),
# with RSA-2048 and ECDSA P-256 certificates: handshakes/s (a new TLS
# connection per request), requests/s (keep-alive), memory per instance;
# then N proxies at once through lightvmd. Writes bench/results/tls.md
# (and its data under bench/results/tls-data/); the plot comes from
# bench/plot-pages.sh. Run as root after `make all tests`.
#
#   SECONDS_EACH=10 ROUNDS=3 CONNS=16 N=1000 bench/tls.sh
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
LIGHTVM=$PWD/$BUILD/bin/lightvm
NETC=$PWD/$BUILD/tests/net/tools/netc
EX=$PWD/$BUILD/examples/tls-proxy
HOSTPROXY=$PWD/$BUILD/bench/tls/tls-proxy-host
SECONDS_EACH=${SECONDS_EACH:-10}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-16}
N=${N:-1000}
OUT=bench/results/tls.md
DATA=bench/results/tls-data
NS=lvmtb$$  # the bridge, the guests, the clients
BNS=lvmtk$$ # the backend (nginx, plain HTTP) at 10.213.250.250
GNS=lvmtg$$ # nginx terminating TLS at 10.213.250.251
BACKEND=10.213.250.250
NGINX=10.213.250.251
TMP=$(mktemp -d /tmp/lvm-bench-tls.XXXXXX)
chmod 755 "$TMP"
export LIGHTVM_RUN_DIR=$TMP/run
export LIGHTVM_CGROUP_PARENT=lightvm-bench-tls-$$
mkdir -p "$DATA"
PIDS=()
DPID=
HPIDS=()

nsx() { nsenter --net=/run/netns/"$NS" "$@"; }
crunx() { # crun outside the hybrid cgroup v2 part (as bench/net/run.sh)
    unshare -m --propagation private sh -c \
        "umount /sys/fs/cgroup/unified 2>/dev/null; crun $*"
}

cleanup() {
    local p
    for p in "${HPIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do "$NETC" wait-pid "$p" 20000 || kill -KILL "$p"; done
    crunx delete -f lvmtk$$ >/dev/null 2>&1
    crunx delete -f lvmtg$$ >/dev/null 2>&1
    if [ -n "$DPID" ]; then
        kill "$DPID" 2>/dev/null
        "$NETC" wait-pid "$DPID" 60000 || kill -KILL "$DPID"
    fi
    # A daemon's guests outlive it (by design): end ours, by the pids in
    # this run's cgroups, then the cgroups.
    local cg
    for cg in $(find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d \
        -path "*/$LIGHTVM_CGROUP_PARENT/*" 2>/dev/null); do
        for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    done
    for cg in $(find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d \
        -path "*/$LIGHTVM_CGROUP_PARENT/*" 2>/dev/null) \
        $(find /sys/fs/cgroup -mindepth 1 -maxdepth 2 -type d \
            -name "$LIGHTVM_CGROUP_PARENT" 2>/dev/null); do
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            rmdir "$cg" 2>/dev/null && break
            read -rt 0.1 <> <(:) || true # a killed task leaves a moment later
        done
    done
    umount "$TMP/drun" 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    ip netns del "$BNS" 2>/dev/null
    ip netns del "$GNS" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

say() { echo "$*" | tee -a "$OUT"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
pss_kb() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null; }
rss_kb() { awk '/^Rss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null; }
# The guest process of guest NAME (comm "lvm-NAME", cut to 15).
guest_pid() {
    local want="lvm-$1" p
    want=${want:0:15}
    for p in /proc/[0-9]*; do
        [ "$(cat "$p/comm" 2>/dev/null)" = "$want" ] && { echo "${p#/proc/}"; return; }
    done
}

# ---- Certificates: a CA, an RSA-2048 and a P-256 server ----------------
mkdir -p "$TMP/pki"
(
    cd "$TMP/pki" || exit 1
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench-ca \
        -keyout ca.key -out ca.pem
    printf 'subjectAltName=DNS:proxy.test\n' >san.ext
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key
    for k in rsa ec; do
        openssl req -new -key $k.key -subj /CN=proxy.test -out $k.csr
        openssl x509 -req -in $k.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
            -days 2 -extfile san.ext -out $k.pem
        cat $k.pem $k.key >$k.bundle
        truncate -s %4096 $k.bundle
    done
) >"$TMP/pki.log" 2>&1 || { cat "$TMP/pki.log"; exit 1; }

: >"$OUT"
say "# TLS termination: tls-proxy guest vs nginx (crun) vs the proxy as a Linux process"
say ""
say "Machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r); $(date -u '+%F %H:%M UTC'). Load before: $(load)."
say ""

# ---- Network: the bridge (made by the first guest), two peer namespaces --
# (lightvm is started by nsenter itself, so that $! is lightvm's pid and
# SIGINT reaches it.)
ip netns add "$NS" && nsx ip link set lo up || exit 1
nsenter --net=/run/netns/"$NS" "$LIGHTVM" run --name tb-ec$$ --net --block "certs=$TMP/pki/ec.bundle:ro" \
    "$EX/tls-proxy-blk.elf" "$BACKEND:80" >"$TMP/ec.out" 2>"$TMP/ec.err" &
PIDS+=($!)
read -r EC_IP _ <<<"$("$NETC" wait-ip "$TMP/ec.err" 10000 "${PIDS[-1]}")"
nsenter --net=/run/netns/"$NS" "$LIGHTVM" run --name tb-rsa$$ --net --block "certs=$TMP/pki/rsa.bundle:ro" \
    "$EX/tls-proxy-blk.elf" "$BACKEND:80" >"$TMP/rsa.out" 2>"$TMP/rsa.err" &
PIDS+=($!)
read -r RSA_IP _ <<<"$("$NETC" wait-ip "$TMP/rsa.err" 10000 "${PIDS[-1]}")"
[ -n "$EC_IP" ] && [ -n "$RSA_IP" ] || { cat "$TMP"/*.err; exit 1; }
for k in ec rsa; do # listening once the certificate is loaded
    "$NETC" wait-text "$TMP/$k.out" listening 20000 >/dev/null ||
        { cat "$TMP/$k.out" "$TMP/$k.err"; exit 1; }
done

i=0
for pair in "$BNS $BACKEND" "$GNS $NGINX"; do
    read -r ns addr <<<"$pair"
    i=$((i + 1))
    ip netns add "$ns"
    ip link add "vt$i$$" netns "$NS" type veth peer name eth0 netns "$ns"
    nsx ip link set "vt$i$$" master lvm0 up
    ip -n "$ns" addr add "$addr/16" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
done

# The backend: nginx, plain HTTP, a small page.
head -c 612 /dev/zero | tr '\0' 'x' >"$TMP/page.html"
bench/net/nginx-bundle.sh "$TMP/backend" "$BNS" "$TMP/page.html" >/dev/null
crunx run -d --bundle "$TMP/backend" lvmtk$$ || exit 1
nsx curl -s --retry 20 --retry-connrefused --retry-delay 0 -o /dev/null "http://$BACKEND/" ||
    exit 1

# nginx terminating TLS: the same bundle, its configuration replaced: one
# worker (the guest is one thread), RSA on 443, P-256 on 8443, a
# keep-alive pool to the backend (nginx at its best).
bench/net/nginx-bundle.sh "$TMP/nginx" "$GNS" "$TMP/page.html" >/dev/null
cp "$TMP/pki/rsa.pem" "$TMP/pki/rsa.key" "$TMP/pki/ec.pem" "$TMP/pki/ec.key" \
    "$TMP/nginx/rootfs/etc/nginx/"
cat >"$TMP/nginx/rootfs/etc/nginx/nginx.conf" <<EOF
worker_processes 1;
user root root;
daemon off;
master_process off;
error_log stderr warn;
pid /run/nginx.pid;
events { worker_connections 1000; }
http {
    access_log off;
    proxy_temp_path /tmp;
    client_body_temp_path /tmp;
    fastcgi_temp_path /tmp;
    uwsgi_temp_path /tmp;
    scgi_temp_path /tmp;
    keepalive_requests 1000000;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache off;
    ssl_session_tickets off;
    upstream backend { server $BACKEND:80; keepalive 64; }
    server {
        listen 443 ssl;
        ssl_certificate /etc/nginx/rsa.pem;
        ssl_certificate_key /etc/nginx/rsa.key;
        location / { proxy_pass http://backend; proxy_http_version 1.1;
                     proxy_set_header Connection ""; }
    }
    server {
        listen 8443 ssl;
        ssl_certificate /etc/nginx/ec.pem;
        ssl_certificate_key /etc/nginx/ec.key;
        location / { proxy_pass http://backend; proxy_http_version 1.1;
                     proxy_set_header Connection ""; }
    }
}
EOF
crunx run -d --bundle "$TMP/nginx" lvmtg$$ || exit 1
nsx curl -s --retry 20 --retry-connrefused --retry-delay 0 -o /dev/null \
    --cacert "$TMP/pki/ca.pem" --resolve "proxy.test:443:$NGINX" https://proxy.test/ ||
    exit 1

# The same proxy as a plain Linux process (bench/tls/tls-proxy-host: the
# proxy's source over the host's sockets), in the namespace of the bridge.
HOST_IP=10.213.250.252
if [ -x "$HOSTPROXY" ]; then
    nsx ip addr add "$HOST_IP/16" dev lvm0
    for k in rsa ec; do
        port=443
        [ $k = ec ] && port=8443
        # nsenter execs the proxy: $! is the proxy's pid (CPU, memory)
        nsenter --net=/run/netns/"$NS" "$HOSTPROXY" -p $port -c "$TMP/pki/$k.pem" \
            -k "$TMP/pki/$k.key" "$BACKEND:80" >"$TMP/host-$k.out" 2>&1 &
        HPIDS+=($!)
        "$NETC" wait-text "$TMP/host-$k.out" listening 10000 "${HPIDS[-1]}" >/dev/null ||
            { cat "$TMP/host-$k.out"; exit 1; }
    done
fi

# Every server answers through its TLS with the backend's page.
for target in "rsa $RSA_IP 443" "ec $EC_IP 443" "rsa $NGINX 443" "ec $NGINX 8443"; do
    read -r k ip port <<<"$target"
    nsx curl -sS --cacert "$TMP/pki/ca.pem" --resolve "proxy.test:$port:$ip" \
        "https://proxy.test:$port/" | cmp -s - "$TMP/page.html" ||
        { echo "no page from $ip:$port"; exit 1; }
done

# ---- Handshakes/s and requests/s -----------------------------------------
# wrk_one SERVER KEY KIND URL ROUND: KIND "handshake" sends Connection:
# close (every request a new TLS connection, a full handshake: no session
# cache or tickets on either server); "keepalive" reuses connections.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
wrk_one() { # wrk_one SERVER KEY KIND URL ROUND PID
    local f="$DATA/wrk-$1-$2-$3-$5.txt" hdr=()
    [ "$3" = handshake ] && hdr=(-H "Connection: close")
    local c0 c1
    c0=$(cpu_ticks "$6")
    nsx wrk -t1 -c"$CONNS" -d"${SECONDS_EACH}s" --latency "${hdr[@]}" "$4" >"$f" 2>&1
    c1=$(cpu_ticks "$6")
    local rps p50 p90 n percpu
    rps=$(awk '/Requests\/sec/ {print $2}' "$f")
    p50=$(awk '/^ +50%/ {print $2}' "$f")
    p90=$(awk '/^ +90%/ {print $2}' "$f")
    n=$(awk '/requests in/ {print $1}' "$f")
    # Requests per second of the server's own CPU time (clock ticks):
    # "per core", whatever else the machine was running.
    percpu=$(awk -v n="$n" -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
        'BEGIN { if (t > 0) printf "%.1f", n / (t / hz); else print 0 }')
    echo "$1 $2 $3 $5 $rps $p50 $p90 $percpu" >>"$DATA/runs.txt"
}
: >"$DATA/runs.txt"
GPID=$(guest_pid tb-ec$$)
RPID=$(guest_pid tb-rsa$$)
NPID=$(crunx state lvmtg$$ | jq .pid)
servers=("guest rsa https://$RSA_IP/ $RPID" "guest ec https://$EC_IP/ $GPID"
    "nginx rsa https://$NGINX/ $NPID" "nginx ec https://$NGINX:8443/ $NPID")
[ -x "$HOSTPROXY" ] &&
    servers+=("process rsa https://$HOST_IP/ ${HPIDS[0]}" "process ec https://$HOST_IP:8443/ ${HPIDS[1]}")
for r in $(seq 1 "$ROUNDS"); do
    for kind in handshake keepalive; do
        for s in "${servers[@]}"; do
            read -r name key url pid <<<"$s"
            wrk_one "$name" "$key" "$kind" "$url" "$r" "$pid"
        done
    done
done

# median VALUES...: the middle value (the lower of the two middles).
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
cell() { # cell NAME KEY KIND FIELD(5 rps, 6 p50, 7 p90, 8 per CPU-second)
    median $(awk -v n="$1" -v k="$2" -v t="$3" -v f="$4" \
        '$1==n && $2==k && $3==t {print $f}' "$DATA/runs.txt")
}
names="guest nginx"
[ -x "$HOSTPROXY" ] && names="guest nginx process"
say "## Handshakes and requests per second"
say ""
say "| server | RSA-2048 handshakes/s | P-256 handshakes/s | RSA-2048 requests/s | P-256 requests/s |"
say "|---|---:|---:|---:|---:|"
for n in $names; do
    say "| $n | $(cell $n rsa handshake 5) | $(cell $n ec handshake 5) | $(cell $n rsa keepalive 5) | $(cell $n ec keepalive 5) |"
done
say ""
say "Per core: the same, divided by the CPU time the server itself used (its process's utime + stime during the run), so other load on the machine does not count:"
say ""
say "<!-- plot table=2 cols=2,3,4,5 title=\"TLS termination per CPU-second of the server (higher is better)\" ylabel=\"per CPU-second\" log -->"
say "![TLS termination per CPU-second of the server](tls.png)"
say ""
say "| server | RSA-2048 handshakes/CPU-s | P-256 handshakes/CPU-s | RSA-2048 requests/CPU-s | P-256 requests/CPU-s |"
say "|---|---:|---:|---:|---:|"
for n in $names; do
    say "| $n | $(cell $n rsa handshake 8) | $(cell $n ec handshake 8) | $(cell $n rsa keepalive 8) | $(cell $n ec keepalive 8) |"
done
say ""
say "Latency (wrk, median of the rounds' p50 / p90):"
say ""
say "| server | RSA-2048 handshake p50 / p90 | P-256 handshake p50 / p90 | RSA-2048 request p50 / p90 | P-256 request p50 / p90 |"
say "|---|---:|---:|---:|---:|"
for n in $names; do
    row="| $n"
    for kk in "rsa handshake" "ec handshake" "rsa keepalive" "ec keepalive"; do
        read -r k t <<<"$kk"
        row="$row | $(cell $n $k $t 6) / $(cell $n $k $t 7)"
    done
    say "$row |"
done
say ""
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
say "Ratios per core (per CPU-second), guest / nginx: handshakes RSA $(ratio "$(cell guest rsa handshake 8)" "$(cell nginx rsa handshake 8)"), P-256 $(ratio "$(cell guest ec handshake 8)" "$(cell nginx ec handshake 8)"); requests RSA $(ratio "$(cell guest rsa keepalive 8)" "$(cell nginx rsa keepalive 8)"), P-256 $(ratio "$(cell guest ec keepalive 8)" "$(cell nginx ec keepalive 8)") (target: requests >= 0.80 per core)."
say "Ratios, wall clock, guest / nginx: handshakes RSA $(ratio "$(cell guest rsa handshake 5)" "$(cell nginx rsa handshake 5)"), P-256 $(ratio "$(cell guest ec handshake 5)" "$(cell nginx ec handshake 5)"); requests RSA $(ratio "$(cell guest rsa keepalive 5)" "$(cell nginx rsa keepalive 5)"), P-256 $(ratio "$(cell guest ec keepalive 5)" "$(cell nginx ec keepalive 5)")."
if [ -x "$HOSTPROXY" ]; then
    say "Ratios, guest / the same proxy as a Linux process: handshakes RSA $(ratio "$(cell guest rsa handshake 5)" "$(cell process rsa handshake 5)"), P-256 $(ratio "$(cell guest ec handshake 5)" "$(cell process ec handshake 5)"); requests RSA $(ratio "$(cell guest rsa keepalive 5)" "$(cell process rsa keepalive 5)"), P-256 $(ratio "$(cell guest ec keepalive 5)" "$(cell process ec keepalive 5)")."
fi
say ""
cat >>"$OUT" <<EOF
Command, in the namespace of the bridge: \`wrk -t1 -c$CONNS -d${SECONDS_EACH}s
--latency [-H "Connection: close"] https://SERVER/\`, $ROUNDS rounds, servers
alternating; medians of the rounds (raw output in tls-data/). Handshakes:
every request on a new connection with a full handshake (TLS 1.3, X25519,
the certificate's signature; neither server resumes sessions). Requests:
keep-alive connections, each request forwarded to the backend. The backend
is nginx (one worker, plain HTTP) serving a $(stat -c %s "$TMP/page.html")-byte page in a crun
container on the bridge; every server forwards to it.

- guest: examples/tls-proxy (tls-proxy-blk.elf: the certificate and key from a
  block device), proc monitor, one thread, lightvm's default 16 MiB.
- nginx: $(nginx -v 2>&1 | cut -d/ -f2) (Debian) terminating TLS, one worker, in crun
  $(crun --version | head -1 | cut -d' ' -f3) on the same bridge, upstream keep-alive pool.
EOF
[ -x "$HOSTPROXY" ] && cat >>"$OUT" <<EOF
- process: the same tls-proxy.c and TLS library over the host's sockets
  (bench/tls/host_net.c), the same mbedTLS 3.6 built for the host, glibc.
EOF
say ""

say "## Memory per instance"
say ""
say "| instance | RSS KiB | PSS KiB |"
say "|---|---:|---:|"
say "| guest (P-256) after the runs | $(rss_kb "$GPID") | $(pss_kb "$GPID") |"
say "| guest (RSA-2048) after the runs | $(rss_kb "$RPID") | $(pss_kb "$RPID") |"
say "| nginx worker (both keys) | $(rss_kb "$NPID") | $(pss_kb "$NPID") |"
if [ -x "$HOSTPROXY" ]; then
    say "| process (RSA-2048) | $(rss_kb "${HPIDS[0]}") | $(pss_kb "${HPIDS[0]}") |"
fi
say ""

# ---- N proxies at once, through lightvmd -----------------------------------
say "## $N proxies at once (lightvmd)"
say ""
mkdir -p "$TMP/drun"
mount -t tmpfs -o mode=0755 lvm-bench-tls "$TMP/drun"
nsenter --net=/run/netns/"$NS" env LIGHTVM_RUN_DIR="$TMP/drun" \
    "$PWD/$BUILD/bin/lightvmd" --quiet --pool 0 >>"$TMP/lightvmd.log" 2>&1 &
DPID=$!
until "$PWD/$BUILD/tests/tools/apiclient" "$TMP/drun/lightvmd.sock" '{"op":"list"}' \
    >/dev/null 2>&1; do read -rt 0.05 <> <(:) || true; done
avail0=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
t0=$(date +%s%N)
made=0
for i in $(seq 1 "$N"); do
    LIGHTVM_SOCKET=$TMP/drun/lightvmd.sock "$LIGHTVM" create --net --name "tm$i" \
        --block "certs=$TMP/pki/ec.bundle:ro" "$EX/tls-proxy-blk.elf" "$BACKEND:80" \
        >>"$TMP/create.log" 2>&1 || break
    made=$i
done
t1=$(date +%s%N)
# Every 100th answers through TLS with the backend's page.
LIGHTVM_SOCKET=$TMP/drun/lightvmd.sock "$LIGHTVM" list --json >"$TMP/list.json" 2>/dev/null
ok=0
tried=0
for i in $(seq 1 100 "$made"); do
    ip=$(jq -r --arg n "tm$i" '(if type == "array" then . else .guests end) | .[] | select(.name == $n) | (.net[0].ip // .ip // empty)' \
        "$TMP/list.json" 2>/dev/null | head -1)
    [ -n "$ip" ] || continue
    tried=$((tried + 1))
    nsx curl -s --max-time 10 --cacert "$TMP/pki/ca.pem" --resolve "proxy.test:443:$ip" \
        https://proxy.test/ | cmp -s - "$TMP/page.html" && ok=$((ok + 1))
done
avail1=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
pss=0
for p in /proc/[0-9]*; do
    case "$(cat "$p/comm" 2>/dev/null)" in lvm-tm*) pss=$((pss + $(pss_kb "${p#/proc/}" || echo 0))) ;; esac
done
say "Created $made of $N P-256 proxies (tls-proxy-blk.elf, one block device each) in $(( (t1 - t0) / 1000000 )) ms, $(( made ? (t1 - t0) / 1000000 / made : 0 )) ms each (\`lightvm create --net --block certs=... \` one after another, lightvmd --pool 0)."
say "Every 100th answered through TLS: $ok of $tried."
say "Memory: MemAvailable fell by $(( (avail0 - avail1) / 1024 )) MiB, $(( made ? (avail0 - avail1) / made : 0 )) KiB per proxy; guest processes' PSS $(( made ? pss / made : 0 )) KiB per proxy."
say "Load after: $(load)."
