#!/bin/sh
# per-user.sh DIR [LIGHTVM RUN OPTIONS...]: one firewall guest per user,
# through lightvmd. DIR/users has a line "NAME USER0_IP UP0_IP" per user
# and DIR/NAME.rules each user's rules (README.md). The users' bridge is
# $USERS_BRIDGE (default br-users), upstream $UP_BRIDGE (default lvm0).
set -e
dir=$1
shift
fw=${FIREWALL_ELF:-build/examples/firewall/firewall-blk.elf}
run=${FIREWALL_RUN_DIR:-/run/lightvm-firewall}
mkdir -p "$run"
while read -r user uip pip; do
    # A block device is whole 512-byte blocks; the guest stops at a NUL.
    cp "$dir/$user.rules" "$run/$user.rules" && truncate -s %512 "$run/$user.rules"
    ${LIGHTVM:-lightvm} run -d --name "fw-$user" "$@" --block "rules=$run/$user.rules:ro" \
        "--net=user0=${USERS_BRIDGE:-br-users},ip=$uip,forward" \
        "--net=up0=${UP_BRIDGE:-lvm0},ip=$pip,forward" "$fw"
done <"$dir/users"
