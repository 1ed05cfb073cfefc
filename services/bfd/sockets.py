"""BFD's UDP sockets: options, ancillary data and source ports (RFC 5881, RFC 5883).

Theory of operation
-------------------
Receiving uses one socket per (address family, UDP port, VRF): 3784 single hop, 4784 multihop,
3785 echo. Each asks the kernel for the TTL / Hop Limit of every datagram (IP_RECVTTL,
IPV6_RECVHOPLIMIT — RFC 5881 §5 needs it) and for the destination address and arrival interface
(IP_PKTINFO, IPV6_RECVPKTINFO — single-hop sessions are selected by peer and interface when Your
Discriminator is zero, RFC 5880 §6.8.6). A socket for a VRF is bound to the VRF device.

Sending uses a small pool: one socket per (family, local address, device, hop mode), bound to a
source port in 49152–65535 (RFC 5881 §4) with TTL / Hop Limit 255 (RFC 5881 §5; RFC 5883 §5
allows any TTL for multihop, 255 keeps the peer's minimum-TTL check meaningful). Sessions with
the same binding share the socket and therefore the source port — RFC 5881 §4 only says the
port SHOULD be unique per session, and neither FRR nor BIRD looks at it; sharing keeps a few
hundred sessions on a handful of file descriptors.
"""

from __future__ import annotations

import contextlib
import errno
import random
import socket
import struct
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path

__all__ = [
    "SOURCE_PORTS",
    "Datagram",
    "open_receive_socket",
    "open_send_socket",
    "parse_ancillary",
]

# <linux/in.h>, <linux/in6.h>: the ones Python's socket module does not export.
IP_PKTINFO = 8
IP_RECVTTL = 12
SOURCE_PORTS = range(49152, 65536)  # RFC 5881 §4
ANCILLARY_SIZE = socket.CMSG_SPACE(4) * 2 + socket.CMSG_SPACE(20) * 2
_IN_PKTINFO = struct.Struct("=i4s4s")  # ipi_ifindex, ipi_spec_dst, ipi_addr
_IN6_PKTINFO = struct.Struct("=16sI")  # ipi6_addr, ipi6_ifindex
_INT = struct.Struct("=i")
RECEIVE_BUFFER_BYTES = 4 << 20  # ~5,000 queued packets: a busy loop must not lose them
SO_RCVBUFFORCE = 33
_TTL_CMSGS = ((socket.IPPROTO_IP, socket.IP_TTL), (socket.IPPROTO_IPV6, socket.IPV6_HOPLIMIT))


@dataclass(frozen=True, slots=True)
class Datagram:
    """What the kernel told us about one received datagram."""

    data: bytes
    source: IPv4Address | IPv6Address
    source_port: int
    ttl: int  # -1 if the kernel gave none (then every TTL rule drops the packet)
    destination: IPv4Address | IPv6Address | None
    ifindex: int


def parse_ancillary(
    ancillary: list[tuple[int, int, bytes]],
) -> tuple[int, IPv4Address | IPv6Address | None, int]:
    """(TTL or Hop Limit, destination address, arrival ifindex) from recvmsg's ancillary data."""
    ttl, ifindex = -1, 0
    destination: IPv4Address | IPv6Address | None = None
    for level, kind, data in ancillary:
        if (level, kind) in _TTL_CMSGS and len(data) >= 4:
            ttl = _INT.unpack_from(data)[0]
        elif level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(data) >= 12:
            ifindex, _spec, addr = _IN_PKTINFO.unpack_from(data)
            destination = IPv4Address(addr)
        elif level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO and len(data) >= 20:
            addr6, ifindex = _IN6_PKTINFO.unpack_from(data)
            destination = IPv6Address(addr6)
    return ttl, destination, ifindex


def source_address(addr: tuple[str, int] | tuple[str, int, int, int]) -> IPv4Address | IPv6Address:
    """The source of a datagram, without an IPv6 scope (`fe80::1%eth0`)."""
    return ip_address(addr[0].partition("%")[0])


def _family(version: int) -> socket.AddressFamily:
    return socket.AF_INET if version == 4 else socket.AF_INET6


def _bind_device(sock: socket.socket, device: str) -> None:
    if device:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device.encode())


def open_receive_socket(version: int, port: int, device: str = "") -> socket.socket:
    """A non-blocking socket receiving every BFD datagram of one family on `port`."""
    family = _family(version)
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Hundreds of sessions at 50 ms deliver thousands of packets a second to this one
        # socket; the default buffer (~270 packets) overflows during a pause of the event loop.
        # SO_RCVBUFFORCE passes net.core.rmem_max when we have CAP_NET_ADMIN.
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER_BYTES)
        except PermissionError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        _bind_device(sock, device)
        if family == socket.AF_INET:
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
            sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
            sock.bind(("0.0.0.0", port))
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
            sock.bind(("::", port))
    except OSError:
        sock.close()
        raise
    return sock


def set_ttl(sock: socket.socket, version: int, ttl: int) -> None:
    if version == 4:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    else:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)


def open_send_socket(
    local: IPv4Address | IPv6Address | None,
    version: int,
    device: str,
    rng: random.Random,
    *,
    ttl: int = 255,
    ports: range = SOURCE_PORTS,
    attempts: int = 64,
) -> socket.socket:
    """A non-blocking socket sending from `local` (or any address) and a port in `ports`."""
    family = _family(version)
    host = str(local) if local is not None else ("0.0.0.0" if version == 4 else "::")
    last: OSError | None = None
    for _ in range(attempts):
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            _bind_device(sock, device)
            set_ttl(sock, version, ttl)
            sock.bind((host, rng.choice(ports)))
        except OSError as err:
            sock.close()
            if err.errno != errno.EADDRINUSE:
                raise
            last = err
            continue
        return sock
    raise last or OSError(errno.EADDRINUSE, "no free BFD source port")


def close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_UDP = struct.Struct("!HHHH")
ETH_P_IP = 0x0800
ARP_COMPLETE = 0x2
MAC_REFRESH_SECONDS = 5.0


class ForwardingEcho:
    """IPv4 Echo through the peer's forwarding plane (RFC 5881 §4), as FRR's bfdd expects.

    The packet is addressed to ourselves (source and destination: our address) and handed to
    the peer's MAC address on `interface`, so the peer's kernel routes it straight back; it
    arrives on our UDP echo port with the TTL decremented once. A normal socket cannot do this
    (the kernel would deliver a packet for a local address locally), hence an AF_PACKET socket
    and a hand-built IPv4/UDP header. The peer's MAC comes from the neighbour table
    (/proc/net/arp), which our control packets to the peer keep fresh. Linux drops a returning
    packet whose source is one of its own addresses unless the interface has `accept_local`
    (and a strict `rp_filter` drops it too), so enabling echo turns `accept_local` on.
    """

    def __init__(
        self,
        interface: str,
        local: IPv4Address,
        peer: IPv4Address,
        source_port: int,
        echo_port: int,
    ) -> None:
        self.interface = interface
        self._local = local.packed
        self._peer = str(peer)
        self._ports = (source_port, echo_port)
        ensure_accept_local(interface)
        address = Path(f"/sys/class/net/{interface}/address").read_text().strip()
        self._our_mac = bytes.fromhex(address.replace(":", ""))
        self._peer_mac: bytes | None = None
        self._looked_up = float("-inf")
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        try:
            self.sock.setblocking(False)
            self.sock.bind((interface, 0))
        except OSError:
            self.sock.close()
            raise

    def _mac(self, now: float) -> bytes | None:
        if now - self._looked_up >= (MAC_REFRESH_SECONDS if self._peer_mac else 1.0):
            self._looked_up = now
            self._peer_mac = arp_lookup(self._peer, self.interface) or self._peer_mac
        return self._peer_mac

    def send(self, payload: bytes, now: float) -> bool:
        """Send one echo payload; False if the peer's MAC address is not known yet."""
        mac = self._mac(now)
        if mac is None:
            return False
        udp = _UDP.pack(self._ports[0], self._ports[1], 8 + len(payload), 0) + payload
        total = 20 + len(udp)
        # DSCP CS6 (network control), DF, TTL 255, UDP; the UDP checksum is optional in IPv4.
        header = _IPV4.pack(0x45, 0xC0, total, 0, 0x4000, 255, 17, 0, self._local, self._local)
        header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
        frame = mac + self._our_mac + struct.pack("!H", ETH_P_IP) + header + udp
        self.sock.send(frame)
        return True

    def close(self) -> None:
        close_quietly(self.sock)


def arp_lookup(address: str, interface: str) -> bytes | None:
    """The MAC of a complete IPv4 neighbour entry on `interface`, from /proc/net/arp."""
    try:
        lines = Path("/proc/net/arp").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if (
            len(fields) >= 6
            and fields[0] == address
            and fields[5] == interface
            and int(fields[2], 16) & ARP_COMPLETE
        ):
            return bytes.fromhex(fields[3].replace(":", ""))
    return None


def ensure_accept_local(interface: str) -> None:
    """Let `interface` accept packets from our own address: our echoes, looped back."""
    path = Path(f"/proc/sys/net/ipv4/conf/{interface}/accept_local")
    if path.read_text().strip() != "1":
        path.write_text("1\n")
