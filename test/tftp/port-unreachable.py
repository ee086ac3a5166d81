#!/usr/bin/python3
"""Sends one ICMP port unreachable (type 3, code 3) as if FROM_IP's kernel
answered a UDP datagram FROM_IP:FROM_PORT -> TO_IP:TO_PORT that found no
socket. The kernel of FROM_IP hands it to the socket at FROM_IP:FROM_PORT
connected to TO_IP:TO_PORT, which reports ECONNREFUSED (RFC 1122 4.1.3.3).
Lets a test put that error behind datagrams already queued, deterministically.

usage: port-unreachable.py FROM_IP FROM_PORT TO_IP TO_PORT   (needs root)"""
import socket
import struct
import sys


def checksum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


from_ip, from_port, to_ip, to_port = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
# RFC 792: the ICMP error quotes the offending IP header and 64 bits of its payload.
quoted_ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + 8, 0, 0, 64, socket.IPPROTO_UDP, 0,
                        socket.inet_aton(from_ip), socket.inet_aton(to_ip))
quoted_ip = quoted_ip[:10] + struct.pack('!H', checksum(quoted_ip)) + quoted_ip[12:]
quoted_udp = struct.pack('!HHHH', from_port, to_port, 8, 0)
icmp = struct.pack('!BBHI', 3, 3, 0, 0) + quoted_ip + quoted_udp
icmp = icmp[:2] + struct.pack('!H', checksum(icmp)) + icmp[4:]
with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as s:
    s.sendto(icmp, (from_ip, 0))
