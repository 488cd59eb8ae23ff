#!/usr/bin/env python3
"""make_tls_seeds.py DIR: seeds for fuzz_tls (tests/fuzz/corpus/tls).

Real ClientHellos as Python's ssl module (OpenSSL) writes them, for TLS
1.3, TLS 1.2 with ECDSA and RSA suites, with SNI and ALPN, each in the
input format of tests/fuzz/fuzz_tls.c (a mode byte, then length-prefixed
chunks), whole, split across chunks, and followed by end of stream; plus
a few malformed records. Run once; the output is committed.
"""
import os
import ssl
import sys


def client_hello(minv, maxv, ciphers=None, sni="proxy.test", alpn=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = minv
    ctx.maximum_version = maxv
    if ciphers:
        ctx.set_ciphers(ciphers)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def chunks(mode, parts, eof=False):
    b = bytes([mode])
    for p in parts:
        b += len(p).to_bytes(2, "big") + p
    if eof:
        b += b"\0\0"
    return b


def main():
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    V = ssl.TLSVersion
    hellos = {
        "tls13": client_hello(V.TLSv1_3, V.TLSv1_3),
        "tls12_ecdsa": client_hello(V.TLSv1_2, V.TLSv1_2, "ECDHE-ECDSA-AES128-GCM-SHA256"),
        "tls12_rsa": client_hello(V.TLSv1_2, V.TLSv1_2, "ECDHE-RSA-AES256-GCM-SHA384"),
        "any_alpn": client_hello(V.TLSv1_2, V.TLSv1_3, alpn=["h2", "http/1.1"]),
        "nosni": client_hello(V.TLSv1_2, V.TLSv1_3, sni=None),
    }
    seeds = {}
    for name, h in hellos.items():
        for mode in (0, 1, 2):
            seeds[f"{name}_m{mode}"] = chunks(mode, [h])
        seeds[f"{name}_split"] = chunks(0, [h[:3], h[3:60], h[60:]])
        seeds[f"{name}_eof"] = chunks(0, [h], eof=True)
        seeds[f"{name}_twice"] = chunks(0, [h, h])
    seeds["bad_len"] = chunks(0, [bytes.fromhex("16030100ffff") + b"\xff" * 32])
    seeds["zero_len"] = chunks(0, [bytes.fromhex("1603010000")])
    seeds["alert"] = chunks(0, [bytes.fromhex("15030300020228")])
    seeds["appdata_first"] = chunks(0, [bytes.fromhex("1703030010") + b"\0" * 16])
    seeds["ccs_first"] = chunks(0, [bytes.fromhex("140303000101")])
    seeds["http"] = chunks(0, [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"], eof=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


main()
