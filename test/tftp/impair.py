#!/usr/bin/python3
"""Forwards Ethernet frames between two interfaces, dropping and reordering
IPv4 UDP frames: a stand-in for `tc netem loss/reorder` on kernels built
without sch_netem. Standard library only (AF_PACKET raw sockets).

usage: impair.py IF_A IF_B LOSS REORDER SEED
  LOSS, REORDER: probabilities (0..1) per UDP frame, each direction.
  A reordered frame is held back and sent after the next frame in the same
  direction (or after 5 ms if none comes).
On SIGTERM prints its counts as JSON, with the first four UDP payload bytes
(hex) of every frame from IF_B towards IF_A that it dropped: for TFTP that is
the opcode and block number, so a test can tell which ACKs never arrived."""
import json
import random
import signal
import select
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4

if_a, if_b, loss, reorder, seed = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
rng = random.Random(seed)


def open_raw(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((ifname, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    return s


socks = {if_a: open_raw(if_a), if_b: open_raw(if_b)}
other = {if_a: socks[if_b], if_b: socks[if_a]}
held = {if_a: None, if_b: None}  # (frame, deadline) held back per source
stats = {'forwarded': 0, 'dropped': 0, 'reordered': 0, 'droppedTowardsA': []}


def is_udp4(frame):
    return len(frame) >= 42 and frame[12:14] == b'\x08\x00' and frame[23] == 17


def udp_payload_head(frame):
    ihl = (frame[14] & 0x0f) * 4
    return frame[14 + ihl + 8:14 + ihl + 12].hex()


def zero_udp_checksum(frame):
    # The sender's checksum may be left to offload (veth), so it is not valid
    # on the wire; 0 means "no checksum" for UDP over IPv4 (RFC 768).
    ihl = (frame[14] & 0x0f) * 4
    off = 14 + ihl + 6
    return frame[:off] + b'\x00\x00' + frame[off + 2:]


def report(_sig, _frame):
    print(json.dumps(stats), flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, report)
print('ready', flush=True)
while True:
    now = time.monotonic()
    waits = [d - now for (f, d) in (h for h in held.values() if h)]
    timeout = max(0.0, min(waits)) if waits else 1.0
    ready, _, _ = select.select(list(socks.values()), [], [], timeout)
    for src, s in socks.items():
        if s not in ready:
            continue
        frame, addr = s.recvfrom(65535)
        if addr[2] == PACKET_OUTGOING:
            continue
        out = other[src]
        if is_udp4(frame):
            frame = zero_udp_checksum(frame)
            if rng.random() < loss:
                stats['dropped'] += 1
                if src == if_b:
                    stats['droppedTowardsA'].append(udp_payload_head(frame))
                continue
            if held[src] is None and rng.random() < reorder:
                held[src] = (frame, time.monotonic() + 0.005)
                stats['reordered'] += 1
                continue
        out.send(frame)
        stats['forwarded'] += 1
        if held[src] is not None:
            out.send(held[src][0])
            held[src] = None
    now = time.monotonic()
    for src, h in held.items():
        if h and h[1] <= now:
            other[src].send(h[0])
            held[src] = None
