#!/usr/bin/env python3
"""make_snapfile_seeds.py: write the seed corpus of fuzz_snapfile.c.

Small valid state files (1 MiB of RAM, a few pages; a QEMU blob), built
from docs/snapshot-format.md alone rather than with the library, so that
the unit test that reads them back (test_snapfile.c, test_seed_corpus)
also checks the document against the code. Run from the repository
root: python3 tests/fuzz/make_snapfile_seeds.py
"""
import hashlib
import os
import struct

OUT = "tests/fuzz/corpus/snapfile"
PAGE = 4096
HEADER_LEN = 4096
UNIKERNEL, QEMU = 1, 2
# sizeof(struct lvm_status) and sizeof(struct lvm_devpage) in
# include/lightvm/abi.h (ABI version 3); test_seed_corpus fails when they
# change and these seeds are not made again.
STATUS_LEN = 336
DEVPAGE_LEN = 1568
LVM_STATUS_MAGIC = 0x4C565354
LVM_DEVPAGE_MAGIC = 0x4C564450
LVM_ABI_VERSION = 3
# Section order in the header's table.
DATA, RUNS, CONFIG, STATUS, DEVPAGE, BLOB = range(6)


def name(text, size):
    raw = text.encode()
    assert len(raw) < size
    return raw + b"\0" * (size - len(raw))


def page(index):
    return bytes((index * 7 + k * 13 + 1) & 0xFF for k in range(PAGE))


def status():
    s = struct.pack("<IIQQIiQ", LVM_STATUS_MAGIC, 1, 5000, 0, 0, 0, 1)
    s += name("saved", 256)
    # resume_flags, resume_count, resume_seed: none yet
    s += struct.pack("<II", 0, 0) + b"\0" * 32
    assert len(s) == STATUS_LEN
    return s


def devpage():
    d = struct.pack("<IHHIIII8x", LVM_DEVPAGE_MAGIC, LVM_ABI_VERSION, 1, 3,
                    0, 0, 0)
    # type console, no flags, handle 0, no event channel, "console"
    console = struct.pack("<HHHH", 1, 0, 0, 0xFFFF) + name("console", 16)
    console = console.ljust(48, b"\0")
    d += console
    return d.ljust(DEVPAGE_LEN, b"\0")


def header(kind, ram_size, npages, nruns, sections, file_len, monitor):
    h = b"LVMSNAP\0"
    h += struct.pack("<IIIIQQ", 1, HEADER_LEN, kind, 0, file_len, ram_size)
    h += hashlib.sha256(b"image").digest()
    h += struct.pack("<Q", 5)
    h += name("hello.elf", 64) + name(monitor, 16) + name("seed", 64)
    h += name("00112233445566778899aabbccddeeff", 40)
    h += struct.pack("<QQII", 1790000000000, npages, nruns, 0)
    for off, length in sections:
        h += struct.pack("<QQ", off, length)
    assert len(h) == 384
    h += b"\0" * 32  # checksum, zero while hashing
    return h.ljust(HEADER_LEN, b"\0")


def finish(hdr, body):
    digest = hashlib.sha256(body + hdr).digest()
    return hdr[:384] + digest + hdr[416:] + body


def section(body, data):
    """Append (data) to (body) at its end: (offset, length), 0 when empty."""
    off = HEADER_LEN + len(body) if data else 0
    return body + data, (off, len(data))


def unikernel(runs, config, monitor="kvm", ram_size=1 << 20):
    body = b""
    secs = [(0, 0)] * 6
    data = b"".join(page(p) for first, count in runs
                    for p in range(first, first + count))
    body, secs[DATA] = section(body, data)
    table = b"".join(struct.pack("<QQ", f, c) for f, c in runs)
    body, secs[RUNS] = section(body, table)
    body, secs[CONFIG] = section(body, config)
    body += b"\0" * (-(HEADER_LEN + len(body)) % 8)
    body, secs[STATUS] = section(body, status())
    body, secs[DEVPAGE] = section(body, devpage())
    npages = sum(c for _, c in runs)
    hdr = header(UNIKERNEL, ram_size, npages, len(runs), secs,
                 HEADER_LEN + len(body), monitor)
    return finish(hdr, body)


def qemu(blob, config):
    body = b""
    secs = [(0, 0)] * 6
    body, secs[BLOB] = section(body, blob)
    body, secs[CONFIG] = section(body, config)
    hdr = header(QEMU, 256 << 20, 0, 0, secs, HEADER_LEN + len(body), "qemu")
    return finish(hdr, body)


def main():
    os.makedirs(OUT, exist_ok=True)
    cfg = b'{"devices":[{"type":"console"}],"argv":["hello"]}'
    seeds = {
        "valid-unikernel": unikernel([(0, 2), (100, 1)], cfg),
        "valid-unikernel-runs": unikernel([(3, 1), (5, 2), (255, 1)],
                                          b'{"devices":[]}', "proc"),
        "valid-unikernel-empty": unikernel([], b""),
        "valid-qemu": qemu(bytes(range(256)) * 2, cfg),
    }
    for fname, data in seeds.items():
        with open(os.path.join(OUT, fname), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
