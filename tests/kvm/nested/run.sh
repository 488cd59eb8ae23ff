#!/bin/bash
# run.sh: the kvm suite where this host has no usable /dev/kvm. Boots
# Debian's kernel in QEMU with TCG on an emulated CPU that has AMD SVM
# (-cpu max), where kvm-amd gives a working /dev/kvm, and runs the same
# suite there in direct mode (init). Its "KVMTEST: " lines come back over
# the serial console and are passed on; a run that ends without the
# suite's final "N passed, N failed" line is a failure.
#
# Functional evidence only: every instruction of the host VM and of the
# guests inside it is emulated, so nothing here says anything about speed.
set -u
cd "$(dirname "$0")/../../.."
BUILD=${BUILD:-build}
out=$BUILD/kvm-nested
log=$out/serial.log
limit=${LIGHTVM_KVM_NESTED_TIMEOUT:-1200}

echo "kvm suite: nested, in QEMU (TCG, -cpu max with SVM)"
if ! command -v qemu-system-x86_64 >/dev/null; then
    echo "FAIL nested_qemu: qemu-system-x86_64 is missing (qemu-system-x86)"
    echo "0 passed, 1 failed"
    exit 1
fi
# build/san is the Makefile's SAN=1 build (`make test` runs the suites on
# it), whose CLI is linked otherwise (dynamic, no lightvm-net): made
# without SAN=1 it would be relinked without the sanitizers, and fail.
san=0
[ "$BUILD" = build/san ] && san=1
if ! ${MAKE:-make} -s SAN=$san BUILD="$BUILD" kvm-initramfs >"$out.make.log" 2>&1; then
    cat "$out.make.log"
    echo "FAIL nested_initramfs: could not build the test VM's initramfs"
    echo "0 passed, 1 failed"
    exit 1
fi
kernel=$(cat "$out/kernel")
rm -f "$log"
start=$(date +%s)
only=
# A subset of the suite's tests, for debugging (tests/lib.sh); a regular
# expression without spaces, on the kernel command line.
[ -z "${LIGHTVM_TEST_ONLY:-}" ] || only="lightvm.only=$LIGHTVM_TEST_ONLY"
timeout "$limit" qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 1 \
    -nodefaults -no-user-config -display none -no-reboot \
    -serial "file:$log" -kernel "$kernel" -initrd "$out/initramfs.cpio.gz" \
    -append "console=ttyS0 quiet panic=-1 audit=1 $only" </dev/null
rc=$?
echo "nested VM: qemu exited with $rc after $(($(date +%s) - start)) s ($log)"
# Serial lines end in \r\n; only the suite's lines count.
sed -n 's/\r$//; s/^KVMTEST: //p' "$log" >"$out/verdicts"
cat "$out/verdicts"
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out/verdicts" | tail -n 1)
if [ -z "$summary" ]; then
    echo "FAIL nested_verdict: the nested VM gave no verdict; its console:"
    tail -n 40 "$log" | sed 's/^/    | /'
    echo "0 passed, 1 failed"
    exit 1
fi
# The suite's own summary is the last line, as run-tests.sh expects.
echo "$summary"
[ "${summary#* passed, }" = "0 failed" ]
