#!/bin/bash
# mkinitramfs.sh BUILD OUT: the initramfs of the nested test VM (see
# run.sh), written to OUT/initramfs.cpio.gz, with OUT/kernel naming the
# Debian kernel it is for.
#
# It holds busybox, bash, the lightvm binaries with the shared libraries
# they need, every guest the kvm suite runs, the suite itself, KVM's
# modules for AMD (the emulated CPU has SVM) and /init.
set -eu
build=$1
out=$2
root=$out/root
here=$(dirname "$0")

# The newest Debian kernel that has kvm-amd: linux-image-amd64's (where
# this was verified, see docs/kvm.md) before the cloud flavour's.
kver=
for k in $(ls -1 /boot/vmlinuz-* 2>/dev/null | grep -v cloud | sort -rV) \
    $(ls -1 /boot/vmlinuz-*cloud* 2>/dev/null | sort -rV); do
    v=${k#/boot/vmlinuz-}
    if modinfo -k "$v" -F filename kvm-amd >/dev/null 2>&1; then
        kver=$v
        break
    fi
done
if [ -z "$kver" ]; then
    echo "mkinitramfs: no kernel in /boot with kvm-amd (install linux-image-amd64)" >&2
    exit 1
fi
busybox=/bin/busybox
if ! [ -x "$busybox" ] || ! ldd "$busybox" 2>&1 | grep -q 'not a dynamic'; then
    echo "mkinitramfs: needs a static $busybox (busybox-static)" >&2
    exit 1
fi

rm -rf "$root"
mkdir -p "$root"/{bin,lib/modules,proc,sys,dev,tmp,run,newroot,lightvm/tests/kvm}
cp "$busybox" "$root/bin/busybox"

# A program, its ELF interpreter (lightvm-shell, built by Debian's musl-gcc,
# asks for /lib/ld-musl-x86_64.so.1, which is also musl's libc) and every
# shared library glibc's ldd finds, at the same paths.
copy_prog() {
    install -D -m 0755 "$1" "$root/$2"
    {
        readelf -l "$1" | sed -n 's/.*program interpreter: \(.*\)\]$/\1/p'
        ldd "$1" 2>/dev/null | awk '/=>/ { print $3 } /^\t\/lib/ { print $1 }'
    } | while read -r lib; do
        [ -n "$lib" ] && [ -e "$lib" ] || continue
        [ -e "$root$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
    done
}
copy_prog /bin/bash /bin/bash
L=$root/lightvm
copy_prog "$build/bin/lightvm" "lightvm/$build/bin/lightvm"
copy_prog "$build/bin/lightvm-shell" "lightvm/$build/bin/lightvm-shell"
copy_prog "$build/bin/lightvmd" "lightvm/$build/bin/lightvmd" # daemon_pool
copy_prog "$build/tests/tools/apiclient" "lightvm/$build/tests/tools/apiclient"
copy_prog "$build/bin/lightvm-runtime" "lightvm/$build/bin/lightvm-runtime" # oci_kvm
copy_prog "$build/tests/tools/subreaper" "lightvm/$build/tests/tools/subreaper"
copy_prog "$build/tests/kvm/kvm_lifecycle" "lightvm/$build/tests/kvm/kvm_lifecycle"
# kvm_two_nics: bridges and taps are made by lightvm-net where the CLI
# is static (a sanitizer build's lightvm does it itself), the client is
# the net suite's netc, the guest its net_multi.
if [ -e "$build/bin/lightvm-net" ]; then
    copy_prog "$build/bin/lightvm-net" "lightvm/$build/bin/lightvm-net"
fi
copy_prog "$build/tests/net/tools/netc" "lightvm/$build/tests/net/tools/netc"
install -D -m 0644 "$build/tests/net/guests/net_multi.elf" \
    "$L/$build/tests/net/guests/net_multi.elf"
for elf in "$build"/examples/*/*.elf "$build"/tests/guests/*.elf \
    "$build"/tests/kvm/*.elf; do
    [ -e "$elf" ] && install -D -m 0644 "$elf" "$L/$elf"
done
# The compatibility suite (tests/compat): its guests, the outputs it
# compares theirs with, and its runner.
for f in "$build"/compat/*/*.elf "$build"/compat/*/.built \
    "$build"/compat/*/expect/*; do
    [ -e "$f" ] && install -D -m 0644 "$f" "$L/$f"
done
install -D -m 0755 tests/compat/test_compat.sh "$L/tests/compat/test_compat.sh"
for f in tests/compat/lua/*.lua; do
    install -D -m 0644 "$f" "$L/$f"
done
install -D -m 0644 tests/lib.sh "$L/tests/lib.sh"
# The suite reads the escape and crash guests' actions from their sources.
for src in tests/guests/*.c; do
    [ -e "$src" ] && install -D -m 0644 "$src" "$L/$src"
done
install -D -m 0755 tests/kvm/test_kvm.sh "$L/tests/kvm/test_kvm.sh"

# KVM for AMD and what it depends on, in load order.
mods=()
add_mod() {
    local m=$1 dep
    for dep in $(modinfo -k "$kver" -F depends "$m" | tr ',' ' '); do
        add_mod "$dep"
    done
    case " ${mods[*]-} " in *" $m "*) ;; *) mods+=("$m") ;; esac
}
add_mod kvm-amd
add_mod tun    # kvm_two_nics: the guests' taps
add_mod bridge # and their bridges
: >"$root/lib/modules/order"
for m in "${mods[@]}"; do
    f=$(modinfo -k "$kver" -F filename "$m")
    case $f in
    *.ko) cp "$f" "$root/lib/modules/" ;;
    *.ko.xz) xz -dc "$f" >"$root/lib/modules/$(basename "$f" .xz)" ;;
    *.ko.zst) zstd -qdc "$f" >"$root/lib/modules/$(basename "$f" .zst)" ;;
    *) echo "mkinitramfs: cannot use module $f" >&2; exit 1 ;;
    esac
    basename "${f%.xz}" | sed 's/\.zst$//' >>"$root/lib/modules/order"
done

install -m 0755 "$here/init" "$root/init"
echo "BUILD=$build" >"$root/lightvm/build.env"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out/initramfs.cpio.gz.tmp"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
echo "/boot/vmlinuz-$kver" >"$out/kernel"
