"""Answers prepared ahead of time: the responder's decisions as a table the hot path reads.

Theory of operation
-------------------
`decide` states every rule and stays the reference. Between two changes of the announcements or
of the links, though, the answer to a well-formed ARP request depends only on the link it came in
on and the address it asks for: the reply (RFC 826 "Packet Reception": swap the fields, our
hardware address as sender, ar$op = reply, unicast to the requester) is the requester's hardware
and protocol addresses around a fixed middle — our MAC, ARP's constants, our MAC again and the
announced address. `build_replies` applies the rules once per (link, announced IPv4 address) and
keeps, per link, target -> that middle. `LinkReplies.answer(frame)` then answers such a request
with a few slices and one concatenation and creates no object; any other frame (an NS, a
malformed or unusual ARP frame) goes through `decode_frame` and `decide`, so every rule is still
written once. A property test checks that both give the same bytes, or the same `DropReason`,
for any input.

A table is immutable: the owner builds a fresh one on every change and the hot path, in its own
thread, reads whichever one is installed (one attribute assignment swaps it), so a frame is
answered entirely by the old set or entirely by the new one. Each announced address carries a
tag chosen by the builder (the adapter's counters), returned with its reply, so counting the
reply needs no lookup.
"""

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from types import MappingProxyType
from typing import Generic, TypeVar

from services.l2.core.drop import DropReason, FrameDecodeError
from services.l2.core.frames import (
    BROADCAST_MAC,
    ETH_P_ARP,
    ETH_P_IPV6,
    ArpOperation,
    NeighborAdvertisement,
    decode_frame,
)
from services.l2.core.responder import InterfaceView, Reply, Scope, announcement_reason, decide

__all__ = ["LinkReplies", "ReplyTable", "build_replies"]

IPAddress = IPv4Address | IPv6Address
T = TypeVar("T")

_ARP_HEAD = struct.Struct("!HHHBBH")  # ethertype, then ar$hrd, ar$pro, ar$hln, ar$pln, ar$op
# Octets 12..22 of an Ethernet/IPv4 ARP request: the only ARP frames `answer` handles itself.
_REQUEST_HEAD = _ARP_HEAD.pack(ETH_P_ARP, 1, 0x0800, 6, 4, ArpOperation.REQUEST)
_REPLY_HEAD = _ARP_HEAD.pack(ETH_P_ARP, 1, 0x0800, 6, 4, ArpOperation.REPLY)
_ARP_SIZE = 42  # Ethernet header + the Ethernet/IPv4 ARP packet
_ARP_ETHERTYPE = ETH_P_ARP.to_bytes(2, "big")
_IPV6_ETHERTYPE = ETH_P_IPV6.to_bytes(2, "big")
_ICMP6_TYPE = 54  # Ethernet header (14) + IPv6 header (40): the ICMPv6 type
_NA_TYPE = 136  # RFC 4861 §4.4


@dataclass(frozen=True, slots=True)
class LinkReplies(Generic[T]):
    """What the responder on one link answers, and with what."""

    view: InterfaceView
    announced: Mapping[IPAddress, Scope]
    tags: Mapping[IPAddress, T]
    # target address (4 octets) -> (reply octets 6..32, tag): source MAC, ARP header with
    # ar$op = reply, our MAC and the target as sender. The requester fills the rest.
    arp: Mapping[bytes, tuple[bytes, T]]
    arp_elsewhere: frozenset[bytes]  # announced, but not on this link

    def answer(self, frame: bytes) -> tuple[bytes, T] | DropReason:
        """The reply to `frame` and its address's tag, or why it is not answered; the same
        outcome as `decide` on the decoded frame (tests/l2/test_core.py checks it)."""
        if frame[12:22] == _REQUEST_HEAD and len(frame) >= _ARP_SIZE and self.view.arp:
            destination = frame[:6]
            if destination not in (BROADCAST_MAC, self.view.mac):
                return DropReason.ETHERNET_DESTINATION
            target = frame[38:42]
            entry = self.arp.get(target)
            if entry is None:
                if target in self.arp_elsewhere:
                    return DropReason.NOT_MATCH_INTERFACE
                return DropReason.ANNOUNCE_IP
            middle, tag = entry
            # To the requester's hardware address, then ours; target = the requester.
            return frame[22:28] + middle + frame[22:32], tag
        return self._general(frame)

    def announced_elsewhere(self, frame: bytes) -> tuple[IPAddress, bytes] | None:
        """(address, MAC) if `frame` is another host announcing an address this link answers
        for: an ARP Announcement (RFC 5227 §3: sender and target protocol address equal, as
        every gratuitous ARP) or an unsolicited Neighbor Advertisement (RFC 4861 §7.2.6), with a
        hardware address other than ours. A hand-off's old owner waits for it (the new owner
        announces as it starts answering); any other is a conflict."""
        if frame[12:14] == _ARP_ETHERTYPE:
            if len(frame) < _ARP_SIZE or frame[28:32] != frame[38:42]:
                return None
            mac = frame[22:28]
            if mac == self.view.mac or frame[28:32] not in self.arp:
                return None
            return IPv4Address(frame[28:32]), mac
        if (
            frame[12:14] != _IPV6_ETHERTYPE
            or len(frame) <= _ICMP6_TYPE
            or (frame[_ICMP6_TYPE] != _NA_TYPE)
        ):
            return None
        try:
            decoded = decode_frame(frame)
        except FrameDecodeError:
            return None
        if not isinstance(decoded, NeighborAdvertisement) or decoded.solicited:
            return None
        mac = decoded.target_lla or decoded.eth_src
        if mac == self.view.mac or announcement_reason(decoded.target, self.view, self.announced):
            return None
        return decoded.target, mac

    def _general(self, frame: bytes) -> tuple[bytes, T] | DropReason:
        try:
            decoded = decode_frame(frame)
        except FrameDecodeError as err:
            return err.reason
        result = decide(decoded, self.view, self.announced)
        if not isinstance(result, Reply):
            return result
        return result.frame.encode(), self.tags[result.ip]


@dataclass(frozen=True, slots=True)
class ReplyTable(Generic[T]):
    """`LinkReplies` by link index, for every link the snapshot answers on."""

    links: Mapping[int, LinkReplies[T]]


def build_replies(
    views: Mapping[int, InterfaceView],
    announced: Mapping[IPAddress, Scope],
    tag: Callable[[IPAddress], T],
) -> ReplyTable[T]:
    """The answers of `views` for `announced`, each address tagged with `tag(address)`."""
    tags = MappingProxyType({ip: tag(ip) for ip in announced})
    ipv4 = [ip for ip in announced if isinstance(ip, IPv4Address)]
    links: dict[int, LinkReplies[T]] = {}
    for index, view in views.items():
        arp: dict[bytes, tuple[bytes, T]] = {}
        elsewhere: set[bytes] = set()
        for ip in ipv4:
            reason = announcement_reason(ip, view, announced)
            if reason is None:
                arp[ip.packed] = (view.mac + _REPLY_HEAD + view.mac + ip.packed, tags[ip])
            elif reason is DropReason.NOT_MATCH_INTERFACE:
                elsewhere.add(ip.packed)
        links[index] = LinkReplies(
            view, announced, tags, MappingProxyType(arp), frozenset(elsewhere)
        )
    return ReplyTable(MappingProxyType(links))
