"""Socket options of a BGP session: TCP MD5 (RFC 2385), TTL, VRF binding, source address.

Theory of operation: the adapter creates every socket itself, non-blocking, sets these options
before bind/connect (MD5 must be in place before the SYN), then hands it to asyncio.
- TCP MD5: `setsockopt(IPPROTO_TCP, TCP_MD5SIG, struct tcp_md5sig)` with the peer's address;
  on a listening socket one key per peer address. With a wrong key the kernel drops the
  segments silently (`nstat TcpExtTCPMD5Failure`), so such a session never establishes.
- TTL: 1 for single-hop eBGP, 255 otherwise (ebgpMultiHop, iBGP), as FRR and BIRD send.
- VRF: SO_BINDTODEVICE to the VRF device.
"""

from __future__ import annotations

import socket
import struct
from ipaddress import IPv4Address, IPv6Address

IPAddress = IPv4Address | IPv6Address

TCP_MD5SIG = 14  # linux/tcp.h
TCP_MD5SIG_MAXKEYLEN = 80
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)


def _sockaddr_storage(addr: IPAddress) -> bytes:
    if isinstance(addr, IPv4Address):
        raw = struct.pack("=H", socket.AF_INET) + struct.pack("!H", 0) + addr.packed
    else:
        raw = struct.pack("=H", socket.AF_INET6) + struct.pack("!HI", 0, 0) + addr.packed
        raw += struct.pack("=I", 0)
    return raw.ljust(128, b"\0")


def md5sig(addr: IPAddress, key: str) -> bytes:
    """struct tcp_md5sig for `addr`; an empty key removes it."""
    raw = key.encode()
    if len(raw) > TCP_MD5SIG_MAXKEYLEN:
        raise ValueError("TCP MD5 key longer than 80 octets")
    # sockaddr_storage, flags (u8), prefixlen (u8), keylen (u16), ifindex (u32), key[80]
    return _sockaddr_storage(addr) + struct.pack("=BBHI", 0, 0, len(raw), 0) + raw.ljust(80, b"\0")


def set_md5(sock: socket.socket, peer: IPAddress, key: str) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG, md5sig(peer, key))


def set_ttl(sock: socket.socket, family: int, ttl: int) -> None:
    if family == socket.AF_INET:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    else:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)


def bind_to_device(sock: socket.socket, device: str) -> None:
    sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, device.encode())


def client_socket(
    peer: IPAddress,
    *,
    password: str,
    ttl: int,
    source: IPAddress | None,
    vrf: str,
) -> socket.socket:
    family = socket.AF_INET if isinstance(peer, IPv4Address) else socket.AF_INET6
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if vrf:
            bind_to_device(sock, vrf)
        if password:
            set_md5(sock, peer, password)
        set_ttl(sock, family, ttl)
        if source is not None:
            sock.bind((str(source), 0))
    except OSError:
        sock.close()
        raise
    return sock


def listening_socket(family: int, port: int, vrf: str) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if vrf:
            bind_to_device(sock, vrf)
        sock.bind(("0.0.0.0" if family == socket.AF_INET else "::", port))
        sock.listen(64)
    except OSError:
        sock.close()
        raise
    return sock
