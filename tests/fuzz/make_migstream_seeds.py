#!/usr/bin/env python3
"""make_migstream_seeds.py: the seed corpus of fuzz_migstream.

Whole streams as a source sends them (HELLO, PAGES, ZERO, STATE, END,
COMMIT) and ones broken at each step. Each file's first byte seeds how the
target chunks the rest. Run from the top of the tree:

    python3 tests/fuzz/make_migstream_seeds.py
"""
import json
import os
import struct
import subprocess
import tempfile

OUT = "tests/fuzz/corpus/migstream"
HELLO, ACCEPT, REFUSE, PAGES, ZERO, MEMFD, STATE, END, READY, COMMIT, RUNNING = range(1, 12)


def abi_sizes():
    """sizeof(struct lvm_status), sizeof(struct lvm_devpage), from the ABI."""
    src = '#include <lightvm/abi.h>\n#include <stdio.h>\nint main(void){printf("%zu %zu", sizeof(struct lvm_status), sizeof(struct lvm_devpage));}\n'
    with tempfile.TemporaryDirectory() as d:
        c, exe = os.path.join(d, "s.c"), os.path.join(d, "s")
        open(c, "w").write(src)
        subprocess.check_call(["cc", "-Iinclude", "-o", exe, c])
        return [int(x) for x in subprocess.check_output([exe]).split()]


def frame(t, body=b""):
    return struct.pack("<IIQ", t, 0, len(body)) + body


def hello(ram=16 << 20, **over):
    h = {"version": 1, "kind": "unikernel", "monitor": "proc", "ram_size": ram,
         "image_sha256": "ab" * 32, "image_size": 123456, "image_name": "app",
         "name": "g1", "id": "0123456789abcdef",
         "recipe": {"image": "/srv/app.elf", "mem": ram, "args": ["a", "b"]}}
    h.update(over)
    return frame(HELLO, json.dumps(h).encode())


def pages(first, count, fill=b"\x5a"):
    return frame(PAGES, struct.pack("<QQ", first, count) + fill * (4096 * count))


def zero(first, count):
    return frame(ZERO, struct.pack("<QQ", first, count))


def main():
    st, dp = abi_sizes()
    state = frame(STATE, b"\0" * st + struct.pack("<IHH", 0x4c564450, 3, 1) + b"\0" * (dp - 8))
    good = hello() + pages(0, 4) + pages(100, 1) + zero(2, 1) + state + frame(END) + frame(COMMIT)
    seeds = {
        "whole": good,
        "precopy_rounds": hello() + pages(0, 8) + pages(0, 2, b"\x01") + zero(5, 3) + pages(4095, 1) + state + frame(END) + frame(COMMIT),
        "no_pages": hello() + state + frame(END) + frame(COMMIT),
        "end_paused": hello() + pages(1, 1) + state + frame(END, b'{"paused":true}') + frame(COMMIT),
        "end_bad": hello() + state + frame(END, b'{"paused":"yes"}'),
        "big_run": hello(ram=4 << 20) + pages(0, 64) + state + frame(END),
        "last_page": hello(ram=1 << 20) + pages(255, 1) + state + frame(END),
        "past_end": hello(ram=1 << 20) + pages(255, 2),
        "zero_count": hello() + frame(PAGES, struct.pack("<QQ", 0, 0)),
        "short_pages": hello() + frame(PAGES, struct.pack("<QQ", 0, 2) + b"x" * 4096),
        "pages_first": pages(0, 1),
        "end_before_state": hello() + frame(END),
        "two_states": hello() + state + state,
        "short_state": hello() + frame(STATE, b"\0" * 100),
        "memfd_without_fd": hello() + frame(MEMFD),
        "commit_early": hello() + frame(COMMIT),
        "unknown_type": frame(99),
        "flags": struct.pack("<IIQ", HELLO, 1, 0),
        "huge_len": struct.pack("<IIQ", PAGES, 0, 1 << 40),
        "hello_not_json": frame(HELLO, b"{nope"),
        "hello_array": frame(HELLO, b"[]"),
        "hello_version": hello(version=7),
        "hello_kind": hello(kind="qemu"),
        "hello_hash": hello(image_sha256="XYZ"),
        "hello_ram_odd": hello(ram=4097),
        "hello_ram_huge": hello(ram=1 << 50),
        "hello_ctl_name": hello(name="a\nb"),
        "hello_recipe": hello(recipe="x"),
        "answer_types": frame(ACCEPT, b"{}") + frame(READY, b"{}") + frame(RUNNING, b"{}") + frame(REFUSE, b"{}"),
        "truncated": good[: len(good) // 2],
    }
    os.makedirs(OUT, exist_ok=True)
    for i, (name, body) in enumerate(sorted(seeds.items())):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(bytes([i * 37 % 256]) + body)


if __name__ == "__main__":
    main()
