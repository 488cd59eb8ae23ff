#!/bin/sh
# deps.sh: install the Debian 12 packages lightvm needs to build, test and
# benchmark, if any are missing. Run as root. The last line is for the kvm
# suite on hosts without /dev/kvm: it boots that kernel under QEMU with an
# emulated CPU that has SVM (docs/kvm.md).
set -eu
PKGS="build-essential musl-tools musl-dev pkg-config clang lld \
libseccomp-dev libelf-dev libjansson-dev libcmocka-dev libmnl-dev \
libarchive-dev iproute2 procps psmisc util-linux bsdextrautils \
clang-format cppcheck libclang-rt-14-dev llvm \
qemu-system-x86 linux-image-cloud-amd64 libssl-dev libzstd-dev liblz4-dev \
libacl1-dev acl cpio zstd redis-server nginx \
libnftnl-dev libsystemd-dev pandoc man-db systemd-container bash-completion dpkg-dev nftables dnsmasq-base curl netcat-openbsd wrk crun bubblewrap criu gnuplot-nox openssl linux-image-amd64 busybox-static lua5.4 \
podman conmon containerd runc uidmap jq erofs-utils"
# The --json schema test (tests/tools/json_check.py).
PKGS="$PKGS python3 python3-jsonschema"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# redis-server and nginx are here for what Tinyx images take from them
# (the examples), not to run on the host, where they would hold ports 6379
# and 80 that the README's examples publish: no service starts during the
# install (Debian's policy-rc.d), and these two are left disabled.
policy=/usr/sbin/policy-rc.d
own_policy=
if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' >$policy && chmod 755 $policy && own_policy=1
fi
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing || {
    [ -z "$own_policy" ] || rm -f $policy
    exit 1
}
[ -z "$own_policy" ] || rm -f $policy
if [ -d /run/systemd/system ]; then
    systemctl disable --now redis-server nginx >/dev/null 2>&1 || true
fi
