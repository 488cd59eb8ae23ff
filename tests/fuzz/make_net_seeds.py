#!/usr/bin/env python3
"""make_net_seeds.py: write the seed corpus of fuzz_net_frame.c.

Each seed is a conversation with the fuzzed guest (10.0.0.2, MAC
02:00:00:00:00:10) from a host 10.0.0.1 (MAC 02:00:00:00:00:01), in the
harness's record format: u16 length, u8 ticks of 50 ms, frame. The
guest's TCP sequence numbers are predicted from the harness's PRNG
(restarted for every input), so handshakes in the seeds complete and the
fuzzer starts from established connections. Run from the repository
root: python3 tests/fuzz/make_net_seeds.py
"""
import os
import struct

OUT = "tests/fuzz/corpus/net_frame"
GUEST_MAC = bytes([2, 0, 0, 0, 0, 0x10])
HOST_MAC = bytes([2, 0, 0, 0, 0, 1])
BCAST = b"\xff" * 6
GUEST = bytes([10, 0, 0, 2])
HOST = bytes([10, 0, 0, 1])


def rand_u32s(n):
    x = 2463534242
    out = []
    for _ in range(n):
        b = []
        for _ in range(4):
            x ^= (x << 13) & 0xFFFFFFFF
            x ^= x >> 17
            x ^= (x << 5) & 0xFFFFFFFF
            b.append(x & 0xFF)
        out.append(struct.unpack("<I", bytes(b))[0])
    return out


# Static target: rand 1 is the client's ISN (it connects first), rand 2
# the first accepted connection's. DHCP target: rand 1 is the DHCP
# transaction id (DHCP restarts with every input; the client cannot
# connect before an address is bound), rand 2 the first accepted ISN.
ISN = rand_u32s(3)
XID = ISN[0]


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(dst, typ, payload):
    return dst + HOST_MAC + struct.pack("!H", typ) + payload


def arp(op, tip, tmac=b"\0" * 6, sip=HOST):
    return eth(BCAST if op == 1 else GUEST_MAC, 0x0806,
               struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + HOST_MAC + sip +
               tmac + tip)


def ip(proto, payload, src=HOST, dst=GUEST, flags=0x4000):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, flags,
                    64, proto, 0, src, dst)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return eth(GUEST_MAC, 0x0800, h + payload)


def l4sum(proto, seg, src=HOST, dst=GUEST):
    return csum(src + dst + struct.pack("!BBH", 0, proto, len(seg)) + seg)


def tcp(sport, dport, seq, ack, flags, data=b"", opts=b""):
    off = (20 + len(opts)) // 4
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF,
                      ack & 0xFFFFFFFF, off << 4, flags, 8192, 0, 0) + opts + data
    seg = seg[:16] + struct.pack("!H", l4sum(6, seg)) + seg[18:]
    return ip(6, seg)


def udp(sport, dport, data):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    seg = seg[:6] + struct.pack("!H", l4sum(17, seg)) + seg[8:]
    return ip(17, seg)


def icmp_echo(data=b"ping"):
    m = struct.pack("!BBHHH", 8, 0, 0, 1, 1) + data
    m = m[:2] + struct.pack("!H", csum(m)) + m[4:]
    return ip(1, m)


def dhcp(msgtype, xid=0, yiaddr=GUEST):
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 2, 1, 6, 0, xid, 0, 0,
                        b"\0" * 4, yiaddr, HOST, b"\0" * 4,
                        GUEST_MAC + b"\0" * 10, b"", b"")
    opts = (b"\x63\x82\x53\x63" + bytes([53, 1, msgtype]) +
            bytes([54, 4]) + HOST + bytes([51, 4]) + struct.pack("!I", 3600) +
            bytes([1, 4, 255, 255, 255, 0, 3, 4]) + HOST + b"\xff")
    seg = struct.pack("!HHHH", 67, 68, 8 + len(bootp + opts), 0) + bootp + opts
    seg = seg[:6] + struct.pack("!H", l4sum(17, seg, HOST, b"\xff" * 4)) + seg[8:]
    return ip(17, seg, HOST, b"\xff" * 4)


SYN, ACK, PSH, FIN, RST = 0x02, 0x10, 0x08, 0x01, 0x04
MSS = b"\x02\x04\x05\xb4"


def handshake(port, isn, seq=1000, sport=40000):
    return [tcp(sport, port, seq, 0, SYN, opts=MSS),
            tcp(sport, port, seq + 1, isn + 1, ACK)]


def record(frame, ticks=0):
    return struct.pack("!HB", len(frame), ticks) + frame


def seed(name, frames):
    with open(os.path.join(OUT, name), "wb") as f:
        for fr in frames:
            if isinstance(fr, tuple):
                f.write(record(*fr))
            else:
                f.write(record(fr))


def main():
    os.makedirs(OUT, exist_ok=True)
    hello = arp(2, GUEST, GUEST_MAC)  # the host's MAC, unasked
    seed("arp-request", [arp(1, GUEST)])
    seed("arp-reply", [hello])
    seed("icmp-echo", [hello, icmp_echo()])
    seed("udp-echo", [hello, udp(5000, 7, b"hello udp")])
    seed("udp-close", [hello, udp(5000, 7, b"x"), udp(5000, 7, b"again")])
    isn = ISN[1]
    seed("tcp-echo", [hello] + handshake(7, isn) + [
        tcp(40000, 7, 1001, isn + 1, PSH | ACK, b"hello tcp"),
        tcp(40000, 7, 1010, isn + 10, ACK),
        tcp(40000, 7, 1010, isn + 10, FIN | ACK),
        (tcp(40000, 7, 1011, isn + 11, ACK), 10)])
    seed("tcp-http-big", [hello] + handshake(80, isn) + [
        tcp(40000, 80, 1001, isn + 1, PSH | ACK, b"GET / HTTP/1.1\r\n\r\n"),
        (tcp(40000, 80, 1019, isn + 1 + 4380, ACK), 1),
        (tcp(40000, 80, 1019, isn + 1 + 20000, ACK), 1),
        (tcp(40000, 80, 1019, isn + 1 + 40000, ACK), 1)])
    seed("tcp-ooo", [hello] + handshake(7, isn) + [
        tcp(40000, 7, 1006, isn + 1, PSH | ACK, b"world"),
        tcp(40000, 7, 1001, isn + 1, PSH | ACK, b"hello")])
    seed("tcp-rst", [hello] + handshake(7, isn) + [
        tcp(40000, 7, 1001, isn + 1, RST)])
    seed("tcp-syn-closed-port", [hello, tcp(40000, 12345, 1, 0, SYN)])
    seed("tcp-retransmit", [hello] + handshake(7, isn) + [
        tcp(40000, 7, 1001, isn + 1, PSH | ACK, b"retransmit me"),
        (tcp(40000, 7, 1014, isn + 1, ACK), 40),
        (tcp(40000, 7, 1014, isn + 1, ACK), 80)])
    client_isn = ISN[0]
    seed("tcp-client-synack", [hello,
        tcp(9, 49153, 5000, client_isn + 1, SYN | ACK, opts=MSS),
        tcp(9, 49153, 5001, client_isn + 6, PSH | ACK, b"served")])
    seed("dhcp-offer-ack", [(dhcp(2, XID), 2), (dhcp(5, XID), 2), hello])
    seed("dhcp-nak", [(dhcp(2, XID), 2), (dhcp(6, XID), 2)])
    seed("dhcp-then-tcp", [(dhcp(2, XID), 2), (dhcp(5, XID), 2), hello,
        tcp(40000, 7, 1000, 0, SYN, opts=MSS),
        tcp(40000, 7, 1001, ISN[1] + 1, ACK),
        tcp(40000, 7, 1001, ISN[1] + 1, PSH | ACK, b"after dhcp")])
    seed("dhcp-renew", [(dhcp(2, XID), 2), (dhcp(5, XID), 2), hello,
        (dhcp(5, XID), 255), (dhcp(5, XID), 255)])
    seed("ip-options-frag", [hello,
        ip(6, b"\0" * 20, flags=0x2000), ip(17, b"\0" * 8, flags=0x0001)])
    seed("short-frames", [b"\x02" * 14, (hello[:20], 1), (icmp_echo()[:30], 1)])
    seed("oversized", [eth(GUEST_MAC, 0x0800, b"\x45" + b"\0" * 1600)])
    seed("vlan", [eth(GUEST_MAC, 0x8100, b"\0\x05\x08\x00" + icmp_echo()[14:])])


if __name__ == "__main__":
    main()
