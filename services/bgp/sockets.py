"""Socket options of a BGP session: TCP MD5 (RFC 2385), TTL, VRF binding, source address.

Theory of operation: the adapter creates every socket itself, non-blocking, sets these options
before bind/connect (MD5 must be in place before the SYN), then hands it to asyncio.
- TCP MD5: `setsockopt(IPPROTO_TCP, TCP_MD5SIG, struct tcp_md5sig)` with the peer's address;
  on a listening socket one key per peer address. With a wrong key the kernel drops the
  segments silently (`nstat TcpExtTCPMD5Failure`), so such a session never establishes.
- TTL: 1 for single-hop eBGP, 255 otherwise (ebgpMultiHop, iBGP), as FRR and BIRD send.
- GTSM (RFC 5082), per peer: TTL 255 out and a minimum TTL of 255 in (IP_MINTTL,
  IPV6_MINHOPCOUNT), so the kernel drops every segment that crossed a router, before TCP sees
  it. Set on the client socket before the SYN. A listener serves several peers, some maybe
  without GTSM, so it gets a classic BPF socket filter instead (`gtsm_filter`): a segment from
  a GTSM peer's address is dropped unless its TTL / hop limit is 255. The kernel runs it before
  TCP for the SYN and, inherited, for every later segment of an accepted connection (whose
  minimum TTL is then set as well).
- VRF: SO_BINDTODEVICE to the VRF device.
"""

from __future__ import annotations

import contextlib
import ctypes
import socket
import struct
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address

IPAddress = IPv4Address | IPv6Address

TCP_MD5SIG = 14  # linux/tcp.h
TCP_MD5SIG_MAXKEYLEN = 80
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
IP_MINTTL = getattr(socket, "IP_MINTTL", 21)  # linux/in.h
IPV6_MINHOPCOUNT = getattr(socket, "IPV6_MINHOPCOUNT", 73)  # linux/in6.h
#: RFC 5082 §3: a directly connected peer's packets arrive with TTL 255 exactly.
GTSM_TTL = 255


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


def set_min_ttl(sock: socket.socket, family: int, min_ttl: int) -> None:
    """Drop received segments whose TTL / hop limit is below `min_ttl` (0: accept all)."""
    if family == socket.AF_INET:
        sock.setsockopt(socket.IPPROTO_IP, IP_MINTTL, min_ttl)
    else:
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MINHOPCOUNT, min_ttl)


SO_ATTACH_FILTER, SO_DETACH_FILTER = 26, 27  # asm-generic/socket.h
_SKF_NET_OFF = -0x100000  # linux/filter.h: offsets from the network header
_LD_W, _LD_B, _JEQ, _RET = 0x20, 0x30, 0x15, 0x06  # BPF_LD|BPF_W|BPF_ABS, ...|BPF_B, ...
_ACCEPT, _DROP = 0xFFFFFFFF, 0
#: Where the source address and the TTL / hop limit sit in the IPv4 / IPv6 header.
_SRC_TTL: dict[int, tuple[int, int]] = {socket.AF_INET: (12, 8), socket.AF_INET6: (8, 7)}

Instruction = tuple[int, int, int, int]  # struct sock_filter: code, jt, jf, k


def gtsm_filter(family: int, peers: Sequence[IPAddress]) -> list[Instruction]:
    """A classic BPF program: segments from `peers` pass only with TTL / hop limit 255.

    Per peer, compare the source address a 32-bit word at a time (mismatch: next peer; match:
    the TTL check); no peer matched: accept. Jumps are 8-bit, so at most 127 IPv4 or 31 IPv6
    peers per listener (ValueError beyond).
    """
    src, ttl = _SRC_TTL[family]
    words = 1 if family == socket.AF_INET else 4
    check = 2 * words * len(peers) + 1  # index of the TTL load
    if check - 1 > 255:
        raise ValueError(f"too many GTSM peers on one listener ({len(peers)})")
    prog: list[Instruction] = []
    for peer in peers:
        for j in range(words):
            k = int.from_bytes(peer.packed[4 * j : 4 * j + 4], "big")
            at = len(prog) + 1  # index of this jeq
            next_peer = 2 * words * (len(prog) // (2 * words) + 1)
            jt = check - (at + 1) if j == words - 1 else 0
            prog.append((_LD_W, 0, 0, (_SKF_NET_OFF + src + 4 * j) & 0xFFFFFFFF))
            prog.append((_JEQ, jt, next_peer - (at + 1), k))
    prog.append((_RET, 0, 0, _ACCEPT))  # not a GTSM peer
    prog.append((_LD_B, 0, 0, (_SKF_NET_OFF + ttl) & 0xFFFFFFFF))
    prog.append((_JEQ, 0, 1, GTSM_TTL))
    prog.append((_RET, 0, 0, _ACCEPT))
    prog.append((_RET, 0, 0, _DROP))
    return prog


def set_gtsm_filter(sock: socket.socket, family: int, peers: Sequence[IPAddress]) -> None:
    """Attach `gtsm_filter` for `peers` to a (listening) socket; none: detach it."""
    if not peers:
        with contextlib.suppress(OSError):  # ENOENT: no filter attached
            sock.setsockopt(socket.SOL_SOCKET, SO_DETACH_FILTER, 0)
        return
    prog = gtsm_filter(family, peers)
    raw = b"".join(struct.pack("=HBBI", *insn) for insn in prog)
    buf = ctypes.create_string_buffer(raw, len(raw))
    fprog = struct.pack("@HP", len(prog), ctypes.addressof(buf))  # struct sock_fprog
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def bind_to_device(sock: socket.socket, device: str) -> None:
    sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, device.encode())


def client_socket(
    peer: IPAddress,
    *,
    password: str,
    ttl: int,
    source: IPAddress | None,
    vrf: str,
    min_ttl: int = 0,
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
        if min_ttl:
            set_min_ttl(sock, family, min_ttl)
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
