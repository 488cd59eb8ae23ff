#!/usr/bin/env python3
"""summarize.py RAW WORKDIR STOCK_KERNEL TINY_KERNEL: the markdown report
of bench/tinyx/run.sh from its raw JSON lines and the images it built."""
import glob
import json
import os
import statistics
import subprocess
import sys

raw, work, stock, tiny = sys.argv[1:5]
rows = [json.loads(l) for l in open(raw) if l.strip()]


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def mib(b):
    return b / 1048576


kvm = any(r.get("kvm") for r in rows)
print("# Tinyx measurements\n")
print("All QEMU runs here used **%s**%s.\n" % (
    "KVM" if kvm else "TCG (software emulation)",
    "" if kvm else ": /dev/kvm on this machine is PVM (kvm_pvm), which "
    "cannot run ordinary guest kernels, so these are emulated timings; "
    "ratios carry over to KVM hosts, absolute times do not"))

print("## Image size against the package closure\n")
print("| app | files in image | cpio | initramfs (zstd -19) | Depends closure "
      "| closure + Essential/required |")
print("|---|---:|---:|---:|---:|---:|")
for app in ("redis-server", "nginx"):
    rep = json.load(open(os.path.join(work, app + "-tiny", "report.json")))
    s = rep["sizes"]
    print("| %s | %.2f MiB | %.2f MiB | **%.2f MiB** | %.1f MiB (%d pkgs) | "
          "%.1f MiB (%d pkgs) |" % (
              app, mib(s["files_bytes"]), mib(s["cpio_bytes"]),
              mib(s["initramfs_bytes"]), mib(s["closure_bytes"]),
              s["closure_packages"], mib(s["minbase_bytes"]),
              s["minbase_packages"]))
print("\nTarget: under 10 MB compressed. The closure is what `dpkg -L` lists "
      "for the packages (regular files); the image keeps the app's package "
      "files minus the blacklist, the ELF closure of every program and "
      "library, and the init.\n")

print("## Kernel size\n")
print("| kernel | file | bytes |")
print("|---|---|---:|")
tdir = os.path.dirname(tiny)
for f in ("bzImage", "vmlinux"):
    p = os.path.join(tdir, f)
    print("| tiny (tinyconfig + platform, XZ) | %s | %d |" % (f, os.path.getsize(p)))
nginx_k = json.load(open(os.path.join(work, "nginx-tiny", "manifest.json")))["kernel"]["path"]
print("| tiny + IPv6 (nginx) | bzImage | %d |" % os.path.getsize(
    os.path.join(os.path.dirname(nginx_k), "bzImage")))
print("| Debian cloud | %s | %d |" % (os.path.basename(stock), os.path.getsize(stock)))
ver = os.path.basename(stock)[len("vmlinuz-"):]
mods = int(subprocess.run(["du", "-sb", "/lib/modules/" + ver], capture_output=True,
                          text=True).stdout.split()[0])
print("| Debian cloud | its modules | %d |" % mods)
for g in sorted(glob.glob("/boot/vmlinuz-*-amd64")):
    if "cloud" not in g:
        print("| Debian generic | %s | %d |" % (os.path.basename(g), os.path.getsize(g)))
print("\nTarget: under 2 MB (the bzImage; the PVH-booted vmlinux is the same "
      "kernel uncompressed, with symbols).\n")

print("## Boot to answer\n")
print("From just before QEMU is spawned to the first correct answer on a "
      "fresh host connection (redis `PONG`, nginx `HTTP/1.1 200`), through "
      "QEMU user-mode networking; same QEMU, same monitor, same machine, "
      "rounds interleaved.\n")
print("| configuration | runs | median ms | p90 ms | median QEMU RSS |")
print("|---|---:|---:|---:|---:|")
groups = {}
for r in rows:
    if "answer_ms" in r and "run" in r:
        groups.setdefault(r["config"], []).append(r)
for name in sorted(groups):
    g = [r for r in groups[name] if r["answer_ms"] >= 0]
    ms = [r["answer_ms"] for r in g]
    rss = [r["qemu_rss_kib"] for r in g if r["qemu_rss_kib"] > 0]
    print("| %s | %d | %.0f | %.0f | %.0f MiB |" % (
        name, len(ms), statistics.median(ms) if ms else -1, pct(ms, 90),
        statistics.median(rss) / 1024 if rss else -1))
for app in ("redis-server", "nginx"):
    a = [r["answer_ms"] for r in groups.get(app + ":tinyx", []) if r["answer_ms"] >= 0]
    b = [r["answer_ms"] for r in groups.get(app + ":stock-pair", []) if r["answer_ms"] >= 0]
    if a and b:
        print("\n%s: the stock pair takes **%.2fx** as long as Tinyx "
              "(median), %.2fx at p90." % (
                  app, statistics.median(b) / statistics.median(a),
                  pct(b, 90) / pct(a, 90)), end="")
print("\n\nTarget: at least 2x. *tinyx*: the tiny kernel's vmlinux booted "
      "directly (PVH) with the Tinyx initramfs; *tinyx-bzImage*: the same "
      "kernel compressed (XZ); *tinyx-uncompressed-cpio*: the same image "
      "not compressed (bigger, nothing to decompress); "
      "*stock-kernel+tinyx-initramfs*: Debian's "
      "cloud kernel with the Tinyx initramfs carrying its virtio modules "
      "(the fallback when no tiny kernel is built); *stock-pair*: Debian's "
      "cloud kernel with its initramfs-tools initrd, mounting the same app "
      "tree from an ext4 virtio disk and running the same init. The stock "
      "pair here boots no systemd, so a full Debian boot is slower still.\n")

st = [r for r in rows if r["config"].endswith(":state")]
if st:
    print("## Save and restore (redis, tiny kernel, 128 MiB guest)\n")
    print("| runs | save median ms | restore median ms | restore to answer median ms | state file |")
    print("|---:|---:|---:|---:|---:|")
    print("| %d | %.0f | %.0f | %.0f | %.1f MiB |\n" % (
        len(st), statistics.median(r["save_ms"] for r in st),
        statistics.median(r["restore_ms"] for r in st),
        statistics.median(r["restore_to_answer_ms"] for r in st),
        mib(statistics.median(r["state_bytes"] for r in st))))

many = [r for r in rows if r["config"].endswith(":many")]
if many:
    steps = [r for r in many if "guests" in r]
    end = [r for r in many if "started" in r]
    print("## Guests at once (redis, tiny kernel, 64 MiB each)\n")
    print("| guests | answer ms (last) | QEMU RSS total | MemAvailable drop |")
    print("|---:|---:|---:|---:|")
    for r in steps:
        if r["guests"] in (1, 2, 4, 8, 12, 16, 24, 32, 48, 64) or r is steps[-1]:
            print("| %d | %.0f | %.0f MiB | %.0f MiB |" % (
                r["guests"], r["answer_ms"], r["rss_total_kib"] / 1024,
                r["memavailable_drop_kib"] / 1024))
    if end:
        print("\n%d started, %d still answering at the end (the run stops at "
              "its cap, at the first guest that does not answer, or under "
              "2 GiB available).\n" % (end[0]["started"], end[0]["all_answering"]))
