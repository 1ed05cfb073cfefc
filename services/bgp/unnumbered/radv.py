"""The raw ICMPv6 socket of one interface: Router Solicitations and Advertisements in and out.

One socket per interface, bound to it (SO_BINDTODEVICE), with an ICMP6_FILTER that passes only
types 133 and 134 (RFC 3542 §3.2), the hop limit of every received packet asked for
(IPV6_RECVHOPLIMIT, RFC 3542 §6.3: ND messages must arrive with 255), all-routers joined so
Router Solicitations arrive, and hop limit 255 on what we send (RFC 4861 §6.1). The kernel
fills and checks the ICMPv6 checksum of a raw ICMPv6 socket. Decoding and validation are the
codec's (ra.py); this only moves bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from ipaddress import IPv6Address

from .ra import ALL_ROUTERS, ND_HOP_LIMIT, ROUTER_ADVERTISEMENT, ROUTER_SOLICITATION

ICMP6_FILTER = 1  # netinet/icmp6.h, level IPPROTO_ICMPV6
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
IPV6_RECVHOPLIMIT = getattr(socket, "IPV6_RECVHOPLIMIT", 51)
IPV6_HOPLIMIT = getattr(socket, "IPV6_HOPLIMIT", 52)
MAX_PACKET = 1500

Received = Callable[[bytes, IPv6Address, int], None]  # (ICMPv6 message, source, hop limit)


def _filter_passing(*types: int) -> bytes:
    """struct icmp6_filter: a set bit blocks that type (RFC 3542 §3.2, ICMP6_FILTER_SETBLOCK)."""
    words = [0xFFFFFFFF] * 8
    for t in types:
        words[t >> 5] &= ~(1 << (t & 31))
    return struct.pack("=8I", *words)


class NDSocket:
    """RS/RA on one interface; `on_packet` gets every received one (undecoded)."""

    def __init__(self, interface: str, index: int, on_packet: Received) -> None:
        self.interface = interface
        self.index = index
        self._on_packet = on_packet
        self._sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        try:
            s = self._sock
            s.setblocking(False)
            s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, interface.encode())
            s.setsockopt(
                socket.IPPROTO_ICMPV6,
                ICMP6_FILTER,
                _filter_passing(ROUTER_SOLICITATION, ROUTER_ADVERTISEMENT),
            )
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, ND_HOP_LIMIT)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ND_HOP_LIMIT)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
            with contextlib.suppress(OSError):  # already a member when forwarding is on
                mreq = ALL_ROUTERS.packed + struct.pack("=I", index)
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        except OSError:
            self._sock.close()
            raise
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._sock.fileno(), self._readable)

    def _readable(self) -> None:
        for _ in range(64):  # bounded per wake-up
            try:
                data, ancdata, _, addr = self._sock.recvmsg(MAX_PACKET, socket.CMSG_SPACE(4))
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            hop_limit = -1
            for level, kind, value in ancdata:
                if level == socket.IPPROTO_IPV6 and kind == IPV6_HOPLIMIT and len(value) >= 4:
                    hop_limit = struct.unpack("=i", value[:4])[0]
            source = IPv6Address(addr[0].split("%", 1)[0])
            self._on_packet(data, source, hop_limit)

    def send(self, data: bytes, destination: IPv6Address) -> None:
        with contextlib.suppress(OSError):  # the link went away: netlink will say so
            self._sock.sendto(data, (str(destination), 0, 0, self.index))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
