#!/usr/bin/env python3
# Writes the seeds of fuzz-envelope (corpus/envelope: Envelope payloads)
# and fuzz-frame (corpus/frame: a chunk-pattern byte, then framed
# Envelopes) by encoding the protobuf wire format by hand, so that the
# seeds do not depend on the code under test. Valid messages of every
# kind, and the invalid values the agent must refuse.
import os
import struct

def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])

def f_var(num, v): return varint(num << 3) + varint(v)
def f_f32(num, v): return varint(num << 3 | 5) + struct.pack("<I", v)
def f_len(num, b): return varint(num << 3 | 2) + varint(len(b)) + b
def ip(s): a, b, c, d = map(int, s.split(".")); return a << 24 | b << 16 | c << 8 | d

def svckey(proto, addr, port): return f_var(1, proto) + f_f32(2, ip(addr)) + f_var(3, port)
def service(proto=17, addr="198.18.10.1", port=27015, backend="198.18.2.2", a2s=False):
    s = f_len(1, svckey(proto, addr, port)) + f_f32(2, ip(backend))
    s += f_len(4, f_var(1, 100) + f_var(2, 50))
    if a2s:
        s += f_len(8, f_var(1, 1000) + f_var(2, 10000) + f_var(3, 5000) + f_var(4, 0))
    return s + f_len(9, b"game")
def prefix(addr, ln): return f_f32(1, ip(addr)) + f_var(2, ln)
def punch(proto=17, rport=6000):
    return (f_var(1, proto) + f_f32(2, ip("198.18.10.1")) + f_var(3, 40000) +
            f_f32(4, ip("198.18.7.2")) + f_var(5, rport) + f_f32(6, ip("198.18.2.2")))
def key(): return f_var(1, 3) + f_len(2, bytes(range(16))) + f_len(3, bytes(range(16, 32))) + f_var(4, 30)
def env(field, body, schema=1, seq=1): return f_var(1, schema) + f_var(2, seq) + f_len(field, body)

snap = (f_var(1, 7) + f_len(2, service(a2s=True)) + f_len(2, service(port=7777)) +
        f_len(3, prefix("198.18.5.0", 24)) + f_len(4, prefix("198.18.4.0", 24)) +
        f_len(5, f_f32(1, ip("198.18.9.9")) + f_var(2, 60000)) + f_len(6, punch()) +
        f_len(7, key()))
delta = (f_var(1, 8) + f_var(2, 7) + f_len(3, service(port=7778)) +
         f_len(4, svckey(17, "198.18.10.1", 7777)) + f_len(7, prefix("198.18.3.0", 24)) +
         f_len(8, prefix("198.18.4.0", 24)) + f_len(9, f_f32(1, ip("198.18.9.8"))) +
         f_f32(10, ip("198.18.9.9")) + f_len(11, punch(rport=6001)) + f_len(13, key()))
hello = f_len(1, b"edge-a") + f_len(2, b"kilimanjaro-agent 0.1.0") + f_var(3, 2) + f_len(4, b"ed0") + f_var(5, 7)
stats = (f_var(1, 1000) + f_var(2, 1000) + f_len(3, f_len(1, b"fwd_service") + f_var(2, 5) + f_var(3, 500)) +
         f_len(4, f_len(1, svckey(17, "198.18.10.1", 27015)) + f_var(2, 9)) +
         f_len(5, f_len(1, b"km_services") + f_var(2, 3) + f_var(3, 4096)))
seeds = {
    "snapshot": env(14, snap),
    "delta": env(15, delta),
    "hello": env(10, hello),
    "stats": env(11, stats),
    "punch": env(12, f_len(1, punch())),
    "block": env(13, f_f32(1, ip("198.18.6.2")) + f_var(2, 32) + f_var(3, 1000) + f_var(4, 0)),
    "ack": env(16, f_var(1, 7) + f_var(2, 0) + f_len(3, b"snapshot.deny[0].len: 40")),
    "ping": env(17, f_var(1, 42)),
    "pong": env(18, f_var(1, 42)),
    # invalid values: each must be refused with a reason
    "bad-prefix-40": env(14, f_var(1, 9) + f_len(4, prefix("198.18.4.0", 40))),
    "bad-port-0": env(14, f_var(1, 9) + f_len(2, service(port=0))),
    "bad-enum": env(14, f_var(1, 9) + f_len(2, service(proto=99))),
    "bad-delta-base": env(15, f_var(1, 5) + f_var(2, 5)),
    "bad-schema-0": env(17, f_var(1, 1), schema=0),
}
here = os.path.dirname(os.path.abspath(__file__))
for d in ("envelope", "frame"):
    os.makedirs(os.path.join(here, d), exist_ok=True)
for name, b in seeds.items():
    with open(os.path.join(here, "envelope", name), "wb") as f:
        f.write(b)
    with open(os.path.join(here, "frame", name), "wb") as f:
        f.write(bytes([7]) + struct.pack(">I", len(b)) + b)
with open(os.path.join(here, "frame", "stream"), "wb") as f:
    f.write(bytes([0]) + b"".join(struct.pack(">I", len(b)) + b for b in seeds.values()))
with open(os.path.join(here, "frame", "len-4GiB"), "wb") as f:
    f.write(bytes([0]) + b"\xff\xff\xff\xff\x08\x01")
with open(os.path.join(here, "frame", "truncated"), "wb") as f:
    f.write(bytes([1]) + b"\x00\x00\x00\x64\x08\x01")
