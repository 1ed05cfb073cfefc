"""Ethernet frames carrying ARP (RFC 826) and IPv6 Neighbor Discovery (RFC 4861) messages.

Theory of operation
-------------------
The responder sees whole Ethernet frames from an AF_PACKET socket and writes whole frames back,
so a message here is the frame: Ethernet addresses, then the ARP packet or the IPv6 header and
the ICMPv6 message. Each message is a frozen dataclass with `encode() -> bytes`; `decode_frame`
turns bytes into one of them or raises `FrameDecodeError` naming the rule that was broken. Only
Ethernet/IPv4 ARP and the two ND messages the responder needs (NS, NA) are modelled; the
options other than the link-layer address ones are skipped, as RFC 4861 §4.6 requires.

MAC addresses are 6-byte `bytes`; IP addresses are `ipaddress` objects.
"""

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from services.l2.core.drop import DropReason, FrameDecodeError

__all__ = [
    "ALL_NODES",
    "BROADCAST_MAC",
    "ETH_P_ARP",
    "ETH_P_IPV6",
    "ArpFrame",
    "ArpOperation",
    "NeighborAdvertisement",
    "NeighborSolicitation",
    "decode_frame",
    "format_mac",
    "icmpv6_checksum",
    "multicast_mac",
    "parse_mac",
    "solicited_node",
]

ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
IPPROTO_ICMPV6 = 58
ICMPV6_NS = 135
ICMPV6_NA = 136
OPT_SOURCE_LLA = 1
OPT_TARGET_LLA = 2
ND_HOP_LIMIT = 255

BROADCAST_MAC = b"\xff" * 6
ALL_NODES = IPv6Address("ff02::1")
_UNSPECIFIED = IPv6Address("::")
_SOLICITED_NODE_PREFIX = IPv6Address("ff02::1:ff00:0").packed[:13]

_ETH = struct.Struct("!6s6sH")
_ETH_ARP = struct.Struct("!6s6s2xHHBBH6s4s6s4s")  # both at once: one call on the hot path
_ETH_ARP_OUT = struct.Struct("!6s6sHHHBBH6s4s6s4s")
_IPV6 = struct.Struct("!IHBB16s16s")
_ICMP_HEAD = struct.Struct("!BBH")
_ND_BODY = struct.Struct("!I16s")  # NS: reserved; NA: R|S|O flags and reserved, then target


class ArpOperation:
    """ar$op values (RFC 826 "Packet format")."""

    REQUEST = 1
    REPLY = 2


def parse_mac(text: str) -> bytes:
    parts = text.split(":")
    if len(parts) != 6:
        raise ValueError(f"{text!r} is not a MAC address")
    return bytes(int(p, 16) for p in parts)


def format_mac(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def solicited_node(ip: IPv6Address) -> IPv6Address:
    """The solicited-node multicast address of `ip`: ff02::1:ff00:0/104 + its low 24 bits
    (RFC 4291 §2.7.1)."""
    return IPv6Address(_SOLICITED_NODE_PREFIX + ip.packed[13:])


def multicast_mac(group: IPv6Address) -> bytes:
    """33:33 + the low 32 bits of an IPv6 multicast address (RFC 2464 §7)."""
    return b"\x33\x33" + group.packed[12:]


def icmpv6_checksum(src: IPv6Address, dst: IPv6Address, message: bytes) -> int:
    """The ICMPv6 checksum over the IPv6 pseudo-header and `message` (RFC 4443 §2.3,
    RFC 8200 §8.1); `message` carries 0 in its checksum field when computing it."""
    data = src.packed + dst.packed + struct.pack("!I3xB", len(message), IPPROTO_ICMPV6) + message
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@dataclass(frozen=True, slots=True)
class ArpFrame:
    """An Ethernet frame carrying an Ethernet/IPv4 ARP packet (RFC 826)."""

    eth_dst: bytes
    eth_src: bytes
    operation: int
    sender_mac: bytes
    sender_ip: IPv4Address
    target_mac: bytes
    target_ip: IPv4Address

    def encode(self) -> bytes:
        # ar$hrd = 1 (Ethernet), ar$pro = 0x0800 (IPv4), ar$hln = 6, ar$pln = 4 (RFC 826).
        return _ETH_ARP_OUT.pack(
            self.eth_dst,
            self.eth_src,
            ETH_P_ARP,
            1,
            0x0800,
            6,
            4,
            self.operation,
            self.sender_mac,
            self.sender_ip.packed,
            self.target_mac,
            self.target_ip.packed,
        )

    def reply(self, mac: bytes) -> "ArpFrame":
        """The reply to this request, from `mac`, for the requested address.

        RFC 826 "Packet Reception": swap the hardware and protocol fields, put the local
        hardware address in the sender field, set ar$op to reply, and send it to the requester
        (unicast, as mdlayher/arp's `Reply` does for MetalLB).
        """
        return ArpFrame(
            eth_dst=self.sender_mac,
            eth_src=mac,
            operation=ArpOperation.REPLY,
            sender_mac=mac,
            sender_ip=self.target_ip,
            target_mac=self.sender_mac,
            target_ip=self.sender_ip,
        )


def gratuitous_arp(mac: bytes, ip: IPv4Address) -> tuple[ArpFrame, ArpFrame]:
    """MetalLB's gratuitous pair: an ARP request and an ARP reply, both to Ethernet broadcast,
    with sender and target protocol address both `ip` (the ARP Announcement of RFC 5227 §3;
    target hardware address ff:ff:ff:ff:ff:ff as MetalLB sends it, where RFC 5227 says zero)."""
    request = ArpFrame(
        eth_dst=BROADCAST_MAC,
        eth_src=mac,
        operation=ArpOperation.REQUEST,
        sender_mac=mac,
        sender_ip=ip,
        target_mac=BROADCAST_MAC,
        target_ip=ip,
    )
    reply = ArpFrame(
        eth_dst=BROADCAST_MAC,
        eth_src=mac,
        operation=ArpOperation.REPLY,
        sender_mac=mac,
        sender_ip=ip,
        target_mac=BROADCAST_MAC,
        target_ip=ip,
    )
    return request, reply


def _lla_option(kind: int, mac: bytes | None) -> bytes:
    # Ethernet link-layer address option: type, length 1 (8 octets), 6-byte MAC (RFC 4861 §4.6.1).
    return b"" if mac is None else bytes((kind, 1)) + mac


def _ipv6_frame(
    eth_dst: bytes,
    eth_src: bytes,
    src: IPv6Address,
    dst: IPv6Address,
    *,
    hop_limit: int,
    icmp_type: int,
    body: bytes,
) -> bytes:
    message = _ICMP_HEAD.pack(icmp_type, 0, 0) + body
    checksum = icmpv6_checksum(src, dst, message)
    message = message[:2] + checksum.to_bytes(2, "big") + message[4:]
    header = _IPV6.pack(6 << 28, len(message), IPPROTO_ICMPV6, hop_limit, src.packed, dst.packed)
    return _ETH.pack(eth_dst, eth_src, ETH_P_IPV6) + header + message


@dataclass(frozen=True, slots=True)
class NeighborSolicitation:
    """An Ethernet frame carrying an IPv6 Neighbor Solicitation (RFC 4861 §4.3)."""

    eth_dst: bytes
    eth_src: bytes
    ip_src: IPv6Address
    ip_dst: IPv6Address
    target: IPv6Address
    source_lla: bytes | None
    hop_limit: int = ND_HOP_LIMIT

    def encode(self) -> bytes:
        body = _ND_BODY.pack(0, self.target.packed) + _lla_option(OPT_SOURCE_LLA, self.source_lla)
        return _ipv6_frame(
            self.eth_dst,
            self.eth_src,
            self.ip_src,
            self.ip_dst,
            hop_limit=self.hop_limit,
            icmp_type=ICMPV6_NS,
            body=body,
        )


@dataclass(frozen=True, slots=True)
class NeighborAdvertisement:
    """An Ethernet frame carrying an IPv6 Neighbor Advertisement (RFC 4861 §4.4)."""

    eth_dst: bytes
    eth_src: bytes
    ip_src: IPv6Address
    ip_dst: IPv6Address
    target: IPv6Address
    target_lla: bytes | None
    router: bool = False
    solicited: bool = False
    override: bool = False
    hop_limit: int = ND_HOP_LIMIT

    def encode(self) -> bytes:
        flags = (self.router << 31) | (self.solicited << 30) | (self.override << 29)
        body = _ND_BODY.pack(flags, self.target.packed) + _lla_option(
            OPT_TARGET_LLA, self.target_lla
        )
        return _ipv6_frame(
            self.eth_dst,
            self.eth_src,
            self.ip_src,
            self.ip_dst,
            hop_limit=self.hop_limit,
            icmp_type=ICMPV6_NA,
            body=body,
        )


def unsolicited_na(mac: bytes, ip: IPv6Address) -> NeighborAdvertisement:
    """MetalLB's gratuitous NA: to all-nodes, Solicited=0, Override=1, with the Target
    Link-Layer Address option (RFC 4861 §7.2.6). Sent from `ip` itself, as Linux sends its own
    unsolicited NAs (MetalLB sends from the link-local address)."""
    return NeighborAdvertisement(
        eth_dst=multicast_mac(ALL_NODES),
        eth_src=mac,
        ip_src=ip,
        ip_dst=ALL_NODES,
        target=ip,
        target_lla=mac,
        solicited=False,
        override=True,
    )


Frame = ArpFrame | NeighborSolicitation | NeighborAdvertisement


def _decode_arp(data: bytes) -> ArpFrame:
    if len(data) < _ETH_ARP.size:
        raise FrameDecodeError(DropReason.TRUNCATED)
    dst, src, hrd, pro, hln, pln, op, sha, spa, tha, tpa = _ETH_ARP.unpack_from(data)
    # RFC 826 "Packet Reception": only the (ar$hrd, ar$pro) pair we speak, with its lengths.
    if hrd != 1 or pro != 0x0800 or hln != 6 or pln != 4:
        raise FrameDecodeError(DropReason.ARP_NOT_ETHERNET_IPV4)
    return ArpFrame(dst, src, op, sha, IPv4Address(spa), tha, IPv4Address(tpa))


def _options(data: bytes, offset: int, end: int) -> dict[int, bytes]:
    """The link-layer address options; others are skipped (RFC 4861 §4.6, §7.1.1)."""
    found: dict[int, bytes] = {}
    while offset < end:
        if end - offset < 2:
            raise FrameDecodeError(DropReason.NDP_BAD_OPTION)
        kind, length = data[offset], data[offset + 1]
        size = length * 8
        # RFC 4861 §7.1.1 / §7.1.2: every included option has a length greater than zero.
        if size == 0 or offset + size > end:
            raise FrameDecodeError(DropReason.NDP_BAD_OPTION)
        if kind in (OPT_SOURCE_LLA, OPT_TARGET_LLA) and kind not in found:
            found[kind] = data[offset + 2 : offset + 8]
        offset += size
    return found


def _decode_ipv6(data: bytes) -> NeighborSolicitation | NeighborAdvertisement:
    if len(data) < 14 + _IPV6.size:
        raise FrameDecodeError(DropReason.TRUNCATED)
    dst_mac, src_mac, _ = _ETH.unpack_from(data)
    vtf, length, next_header, hop_limit, src_b, dst_b = _IPV6.unpack_from(data, 14)
    if vtf >> 28 != 6:
        raise FrameDecodeError(DropReason.IPV6_BAD_VERSION)
    start = 14 + _IPV6.size
    end = start + length
    if end > len(data):  # trailing bytes (Ethernet padding) are allowed, missing ones are not
        raise FrameDecodeError(DropReason.IPV6_BAD_LENGTH)
    if next_header != IPPROTO_ICMPV6:
        raise FrameDecodeError(DropReason.NOT_ICMPV6)
    if length < _ICMP_HEAD.size:
        raise FrameDecodeError(DropReason.TRUNCATED)
    icmp_type, code, _ = _ICMP_HEAD.unpack_from(data, start)
    if icmp_type not in (ICMPV6_NS, ICMPV6_NA):
        raise FrameDecodeError(DropReason.NOT_NEIGHBOR_DISCOVERY)
    src, dst = IPv6Address(src_b), IPv6Address(dst_b)
    # RFC 4861 §7.1.1 / §7.1.2 validity checks, in the RFC's order.
    if hop_limit != ND_HOP_LIMIT:
        raise FrameDecodeError(DropReason.NDP_BAD_HOP_LIMIT)
    if icmpv6_checksum(src, dst, data[start:end]) != 0:
        raise FrameDecodeError(DropReason.ICMPV6_BAD_CHECKSUM)
    if code != 0:
        raise FrameDecodeError(DropReason.NDP_BAD_CODE)
    if length < _ICMP_HEAD.size + _ND_BODY.size:
        raise FrameDecodeError(DropReason.NDP_TOO_SHORT)
    word, target_b = _ND_BODY.unpack_from(data, start + _ICMP_HEAD.size)
    target = IPv6Address(target_b)
    if target.is_multicast:
        raise FrameDecodeError(DropReason.NDP_MULTICAST_TARGET)
    options = _options(data, start + _ICMP_HEAD.size + _ND_BODY.size, end)
    if icmp_type == ICMPV6_NS:
        slla = options.get(OPT_SOURCE_LLA)
        if src == _UNSPECIFIED:
            # RFC 4861 §7.1.1: a DAD probe goes to a solicited-node group and carries no SLLA.
            if slla is not None:
                raise FrameDecodeError(DropReason.NS_UNSPECIFIED_SOURCE_WITH_SLLA)
            if dst.packed[:13] != _SOLICITED_NODE_PREFIX:
                raise FrameDecodeError(DropReason.NS_UNSPECIFIED_SOURCE_NOT_SOLICITED_NODE)
        return NeighborSolicitation(dst_mac, src_mac, src, dst, target, slla, hop_limit)
    solicited = bool(word & (1 << 30))
    if solicited and dst.is_multicast:  # RFC 4861 §7.1.2
        raise FrameDecodeError(DropReason.NA_SOLICITED_TO_MULTICAST)
    return NeighborAdvertisement(
        dst_mac,
        src_mac,
        src,
        dst,
        target,
        options.get(OPT_TARGET_LLA),
        router=bool(word & (1 << 31)),
        solicited=solicited,
        override=bool(word & (1 << 29)),
        hop_limit=hop_limit,
    )


def decode_frame(data: bytes) -> Frame:
    """The ARP or ND message in an Ethernet frame; `FrameDecodeError` says why it is not one."""
    if len(data) < _ETH.size:
        raise FrameDecodeError(DropReason.TRUNCATED)
    ethertype = data[12:14]
    if ethertype == b"\x08\x06":  # ETH_P_ARP
        return _decode_arp(data)
    if ethertype == b"\x86\xdd":  # ETH_P_IPV6
        return _decode_ipv6(data)
    raise FrameDecodeError(DropReason.UNSUPPORTED_ETHERTYPE)
