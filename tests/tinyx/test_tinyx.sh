#!/bin/bash
# test_tinyx.sh: Tinyx images and the qemu monitor, through the real
# build/bin/lightvm: build images for redis-server and nginx, boot them and
# talk to them from the host, check the init's exit-status reporting, the
# lifecycle library (pause, resume, save, restore) and every bad input.
#
# Kernel: whatever `tinyx build` picks (the cached tiny kernel if this
# machine built one, else Debian's cloud kernel); set TINYX_TEST_KERNEL=stock
# to force the fallback. Acceleration: KVM where usable, TCG otherwise.
# Synchronisation is on events only: lines read from the VM's output with
# `read -t`, connection attempts, process exits.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
# lightvm run on its own (test_daemon_qemu.sh runs images through lightvmd).
export LIGHTVM_NO_DAEMON=1

KERNEL=${TINYX_TEST_KERNEL:-auto}
BOOT_TIMEOUT=${TINYX_TEST_BOOT_TIMEOUT:-180}
LIFECYCLE=$BUILD/tests/tinyx/qemu_lifecycle

build_image() { # NAME ARGS...: build $TMP/NAME quietly
    local name=$1
    shift
    "$LIGHTVM" tinyx build -q --kernel "$KERNEL" "$@" -o "$TMP/$name"
}

# start_vm IMAGE GUESTPORT: run the image in the background as a
# coprocess, its port published on a free host port; wait for lightvm's
# "ready" line and take the host port from it into $PORT.
start_vm() {
    local img=$1 gp=$2 line
    coproc VM { exec "$LIGHTVM" run --monitor qemu -p "127.0.0.1:0:$gp" \
        --wait-ready="$BOOT_TIMEOUT" --console "$TMP/console.log" "$img" 2>&1; }
    VMPID=$VM_PID
    while read -r -t "$BOOT_TIMEOUT" line <&"${VM[0]}"; do
        echo "$line"
        if [[ $line =~ " ready in ".*"host port "([0-9]+) ]]; then
            PORT=${BASH_REMATCH[1]}
            return 0
        fi
    done
    echo "no ready line from lightvm run"
    cat "$TMP/console.log"
    return 1
}

# stop_vm: Ctrl-C (power off), then the app's exit status must be 0.
stop_vm() {
    local line
    kill -INT "$VMPID"
    while read -r -t 60 line <&"${VM[0]}"; do echo "$line"; done
    wait "$VMPID"
    local rc=$?
    echo "lightvm run exited $rc"
    [ "$rc" -eq 0 ]
}

redis_ping() { # PORT: PING must get PONG, over a fresh connection
    local reply
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf 'PING\r\n' >&3
    read -r -t 10 reply <&3
    exec 3<&-
    echo "reply: $reply"
    [[ $reply == "+PONG"* ]]
}

http_get() { # PORT: GET / must give 200 and Debian's nginx welcome page
    local port=$1 out=$TMP/http.out
    exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
    timeout 10 cat <&3 >"$out"
    exec 3<&-
    head -n 1 "$out"
    head -n 1 "$out" | grep -q '^HTTP/1.1 200 OK' &&
        grep -q '<title>Welcome to nginx!</title>' "$out"
}

# ---- building ---------------------------------------------------------

test_build_redis() {
    build_image redis redis-server || return 1
    local d=$TMP/redis
    contains "$d/manifest.json" '"format": "lightvm-tinyx-image/1"' &&
        contains "$d/report.txt" "/usr/bin/redis-server" &&
        grep -E '/usr/lib/x86_64-linux-gnu/libc.so.6 +libc6 +needed by /usr/bin/redis-' \
            "$d/report.txt" &&
        grep -E '/usr/lib/x86_64-linux-gnu/libssl.so.3 +libssl3 +needed by' \
            "$d/report.txt" &&
        grep -E '/etc/redis/redis.conf +redis-server +file of package' \
            "$d/report.txt" &&
        grep -E 'ld-linux-x86-64.so.2 +libc6 +interpreter of /usr/bin/redis-' \
            "$d/report.txt" &&
        contains "$d/report.txt" "package closure" &&
        ! grep -q '/usr/share/doc/' "$d/report.txt" &&
        grep -E '^  docs +[0-9]+ files' "$d/report.txt" &&
        [ ! -e "$d/rootfs" ] &&
        ls "$d"/initramfs.cpio.zst
}

test_image_small() { # the target: under 10 MB compressed
    local size
    size=$(stat -c %s "$TMP"/redis/initramfs.cpio.zst) || return 1
    echo "redis initramfs: $size bytes"
    [ "$size" -lt 10000000 ]
}

test_cpio_contents() { # the archive itself holds the init, config, libs
    local list=$TMP/cpio.list
    zstd -dc "$TMP"/redis/initramfs.cpio.zst | cpio -t 2>/dev/null >"$list"
    grep -qx init "$list" && grep -qx etc/tinyx/init.conf "$list" &&
        grep -qx usr/bin/redis-server "$list" &&
        grep -qx dev/console "$list" &&
        grep -q 'usr/lib/x86_64-linux-gnu/libssl.so' "$list" &&
        ! grep -q 'usr/share/man' "$list"
}

test_build_nginx() {
    build_image nginx nginx &&
        grep -E 'nginx-common' "$TMP/nginx/report.txt" &&
        grep -E 'configuration made on this host' "$TMP/nginx/report.txt" &&
        contains "$TMP/nginx/report.txt" "/var/www/html"
}

# ---- booting ----------------------------------------------------------

test_redis_ping() {
    start_vm "$TMP/redis" 6379 || return 1
    local ok=0
    redis_ping "$PORT" || ok=1
    stop_vm || ok=1
    return $ok
}

test_nginx_get() {
    start_vm "$TMP/nginx" 80 || return 1
    local ok=0
    http_get "$PORT" || ok=1
    stop_vm || ok=1
    return $ok
}

test_stock_kernel_fallback() { # the CI path: Debian's kernel + modules
    build_image redis-stock redis-server --kernel stock -z gzip:1 ||
        return 1
    contains "$TMP/redis-stock/manifest.json" '"kind": "stock"' &&
        contains "$TMP/redis-stock/report.txt" "module for kernel" || return 1
    start_vm "$TMP/redis-stock" 6379 || return 1
    local ok=0
    redis_ping "$PORT" || ok=1
    stop_vm || ok=1
    return $ok
}

test_health_command() { # a command health check, run inside the guest
    build_image redis-cmd redis-server -z gzip:1 \
        --health "cmd:/usr/bin/redis-cli ping" || return 1
    contains "$TMP/redis-cmd/manifest.json" '"type": "cmd"' || return 1
    coproc VM { exec "$LIGHTVM" run --monitor qemu --wait-ready="$BOOT_TIMEOUT" \
        --console /dev/null "$TMP/redis-cmd" 2>&1; }
    VMPID=$VM_PID
    local line ok=1
    while read -r -t "$BOOT_TIMEOUT" line <&"${VM[0]}"; do
        echo "$line"
        [[ $line == *"ready in "*"health command passed"* ]] && { ok=0; break; }
    done
    stop_vm || ok=1
    return $ok
}

test_tap_network() { # --tap IFNAME, inside a network namespace of ours
    [ -c /dev/net/tun ] || { echo "no /dev/net/tun"; return 1; }
    unshare -n bash -c '
        set -e
        ip link set lo up
        ip tuntap add tinyx0 mode tap
        ip addr add 10.99.0.1/24 dev tinyx0
        ip link set tinyx0 up
        coproc VM { exec "$1" run --monitor qemu --tap tinyx0 \
            --ip 10.99.0.2/24 --gateway 10.99.0.1 --wait-ready="$3" \
            --console /dev/null "$2" 2>&1; }
        pid=$VM_PID
        while read -r -t "$3" line <&"${VM[0]}"; do
            echo "$line"
            [[ $line == *" ready in "* ]] && break
        done
        exec 3<>/dev/tcp/10.99.0.2/6379
        printf "PING\r\n" >&3
        read -r -t 10 reply <&3
        echo "reply over the tap: $reply"
        kill -INT $pid
        while read -r -t 60 line <&"${VM[0]}"; do echo "$line"; done
        wait $pid
        [[ $reply == "+PONG"* ]]
    ' tap-test "$LIGHTVM" "$TMP/redis" "$BOOT_TIMEOUT"
}

test_exit_status() { # the app's exit status reaches the host
    build_image sh-exit sh --cmd "sh -c 'echo hello from the app; exit 7'" \
        -z gzip:1 || return 1
    expect_status 7 "$LIGHTVM" run --monitor qemu -q \
        --console "$TMP/exit.console" "$TMP/sh-exit" &&
        contains "$TMP/exit.console" "hello from the app"
}

test_exit_zero() {
    build_image sh-true sh --cmd "sh -c 'exit 0'" -z gzip:1 &&
        expect_status 0 "$LIGHTVM" run --monitor qemu -q "$TMP/sh-true"
}

test_run_auto_stdout() { # auto picks qemu; the console reaches stdout
    "$LIGHTVM" run --monitor auto "$TMP/sh-exit" >"$TMP/auto.out" \
        2>"$TMP/auto.err"
    local rc=$?
    cat "$TMP/auto.err"
    [ $rc -eq 7 ] && contains "$TMP/auto.out" "hello from the app" &&
        contains "$TMP/auto.err" "lightvm: using the qemu monitor" &&
        contains "$TMP/auto.err" "guest sh exited with status 7"
}

# refused WANT ARGS...: `lightvm run ARGS` exits 2 (a bad command line)
# with one line WANT.
refused() {
    local want=$1
    shift
    expect_status 2 "$LIGHTVM" run "$@" 2>"$TMP/refused.err"
    local rc=$?
    cat "$TMP/refused.err"
    [ $rc -eq 0 ] && [ "$(wc -l <"$TMP/refused.err")" -eq 1 ] &&
        contains "$TMP/refused.err" "$want"
}

test_run_refused_cold() { # flags that need lightvmd, or another monitor
    refused "lightvm: --net-dhcp is not supported for the qemu monitor" \
        --net-dhcp "$TMP/sh-true" &&
        refused "lightvm: --mem-limit needs lightvmd for the qemu monitor" \
            --mem-limit 1G "$TMP/sh-true" &&
        refused "lightvm: --block is not supported for the qemu monitor" \
            -b disk0=/dev/null "$TMP/sh-true" &&
        refused "is not a Tinyx image directory" --monitor qemu \
            "$BUILD/examples/noop/noop.elf" &&
        refused "is a Tinyx image directory: run it with --monitor qemu" \
            --monitor kvm "$TMP/sh-true"
}

test_crash_reported() { # an app killed by SIGSEGV is reported as crashed
    build_image sh-crash sh --cmd "sh -c 'kill -SEGV \$\$'" -z gzip:1 ||
        return 1
    expect_status 139 "$LIGHTVM" run --monitor qemu -q \
        --console /dev/null "$TMP/sh-crash" 2>"$TMP/crash.err"
    local rc=$?
    cat "$TMP/crash.err"
    [ $rc -eq 0 ] && contains "$TMP/crash.err" "crashed: SIGSEGV"
}

test_timeout() { # --timeout kills a guest that does not end: exit 124
    build_image sh-loop sh --cmd "sh -c 'while :; do :; done'" -z gzip:1 &&
        expect_status 124 "$LIGHTVM" run --monitor qemu -q -t 20 \
            --console /dev/null "$TMP/sh-loop"
}

test_lifecycle() { # pause, resume, save, restore through the library
    "$LIFECYCLE" "$TMP/redis" "$TMP/state.bin"
}

# ---- bad input: one line, non-zero exit, nothing left behind ---------

# bad NAME WANT_TEXT ARGS...: `lightvm tinyx build ARGS -o $TMP/bad-NAME`
# must fail with one line mentioning WANT_TEXT and leave no image.
bad() {
    local name=$1 want=$2
    shift 2
    local out=$TMP/bad-$name err=$TMP/bad-$name.err
    if "$LIGHTVM" tinyx build -q "$@" -o "$out" 2>"$err"; then
        echo "succeeded, expected a failure"
        return 1
    fi
    cat "$err"
    [ "$(wc -l <"$err")" -eq 1 ] || { echo "expected one line"; return 1; }
    grep -q '^lightvm: ' "$err" && contains "$err" "$want" || return 1
    [ ! -e "$out" ] || { echo "$out was left behind"; return 1; }
    if ls -a "$TMP" | grep -q "^\.bad-$name\.tmp-"; then
        echo "a temporary directory was left behind"
        return 1
    fi
}

test_bad_unknown_app() {
    bad unknown "neither an installed Debian package nor a program" \
        no-such-app-xyz
}
test_bad_not_elf() { bad notelf "is not an ELF executable" /etc/hostname; }
test_bad_script() { bad script "is not an ELF executable" /usr/bin/ldd; }
test_bad_pkg_not_installed() {
    bad pkg "package 'no-such-package-xyz'" redis-server \
        --pkg no-such-package-xyz
}
test_bad_missing_kernel() {
    bad kernel "kernel /nonexistent/vmlinux" redis-server \
        --kernel /nonexistent/vmlinux
}
# unwritable OUT: one line naming it, nothing created there
unwritable() {
    local out=$1
    "$LIGHTVM" tinyx build -q sh -o "$out" 2>"$TMP/unw.err"
    local rc=$?
    cat "$TMP/unw.err"
    [ $rc -ne 0 ] && contains "$TMP/unw.err" "cannot write output directory $out" &&
        [ "$(wc -l <"$TMP/unw.err")" -eq 1 ] && [ ! -e "$out" ]
}
test_bad_unwritable_out() { unwritable /proc/tinyx-test; }
test_bad_out_under_file() {
    touch "$TMP/plainfile"
    unwritable "$TMP/plainfile/img"
}
test_bad_existing_out() {
    mkdir -p "$TMP/bad-exists"
    "$LIGHTVM" tinyx build -q sh -o "$TMP/bad-exists" 2>"$TMP/exists.err"
    local rc=$?
    cat "$TMP/exists.err"
    [ $rc -ne 0 ] && contains "$TMP/exists.err" "already exists" &&
        [ -z "$(ls -A "$TMP/bad-exists")" ]
}
test_bad_cmd_quote() { bad quote "unterminated quote" sh --cmd "sh -c 'oops"; }
test_bad_health() { bad health "--health" sh --health tcp:99999; }
test_bad_compression() { bad comp "--compression" sh -z lzma; }

test_run_missing_kernel() { # an image whose kernel was deleted
    mkdir -p "$TMP/nokernel"
    cp "$TMP/sh-true/initramfs.cpio.gz" "$TMP/nokernel/"
    sed 's|"path": "[^"]*"|"path": "/nonexistent/vmlinux"|' \
        "$TMP/sh-true/manifest.json" >"$TMP/nokernel/manifest.json"
    expect_status 125 "$LIGHTVM" run --monitor qemu "$TMP/nokernel" \
        2>"$TMP/nok.err"
    local rc=$?
    cat "$TMP/nok.err"
    [ $rc -eq 0 ] && contains "$TMP/nok.err" "kernel /nonexistent/vmlinux is missing" &&
        [ "$(wc -l <"$TMP/nok.err")" -eq 1 ]
}

test_run_not_an_image() {
    expect_status 125 "$LIGHTVM" run --monitor qemu "$TMP" 2>"$TMP/nai.err"
    local rc=$?
    cat "$TMP/nai.err"
    [ $rc -eq 0 ] && contains "$TMP/nai.err" "is not a Tinyx image"
}

test_run_bad_option() {
    expect_status 2 "$LIGHTVM" run --monitor qemu -p 80 "$TMP/sh-true" \
        2>"$TMP/bo.err"
    local rc=$?
    cat "$TMP/bo.err"
    [ $rc -eq 0 ] && contains "$TMP/bo.err" "--publish"
}

for t in build_redis image_small cpio_contents build_nginx redis_ping \
    nginx_get stock_kernel_fallback health_command tap_network exit_status exit_zero \
    run_auto_stdout run_refused_cold crash_reported \
    timeout lifecycle bad_unknown_app bad_not_elf bad_script \
    bad_pkg_not_installed bad_missing_kernel bad_unwritable_out \
    bad_out_under_file bad_existing_out bad_cmd_quote bad_health \
    bad_compression run_missing_kernel run_not_an_image run_bad_option; do
    check "$t" "test_$t"
done
finish
