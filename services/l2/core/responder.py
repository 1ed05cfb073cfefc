"""The responder's decision: answer a received frame, or name why not.

Theory of operation
-------------------
`decide(frame, interface, announced)` is MetalLB's `processRequest` (arp.go, ndp.go) without the
socket: the adapter decodes a frame read on `interface`, asks `decide`, and writes the returned
reply or counts the returned `DropReason`. `announced` maps each address this node answers for
to the interfaces it is answered on (`Scope`); it is an immutable snapshot the owner replaces on
every change, so the hot path never sees a half-applied update.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from services.l2.core.drop import DropReason
from services.l2.core.frames import (
    BROADCAST_MAC,
    ArpFrame,
    ArpOperation,
    Frame,
    NeighborAdvertisement,
    NeighborSolicitation,
)

__all__ = ["ALL", "InterfaceView", "Reply", "Scope", "announcement_reason", "decide"]

IPAddress = IPv4Address | IPv6Address


@dataclass(frozen=True, slots=True)
class Scope:
    """The interfaces an address is answered on: all eligible ones, or the named ones."""

    all: bool
    names: frozenset[str] = frozenset()

    def matches(self, name: str) -> bool:
        return self.all or name in self.names

    def union(self, other: "Scope") -> "Scope":
        # MetalLB's IPAdvertisement: any AllInterfaces wins, else the union of the names.
        if self.all or other.all:
            return ALL
        return Scope(False, self.names | other.names)


ALL = Scope(True)


@dataclass(frozen=True, slots=True)
class InterfaceView:
    """What the responder on one interface needs to know about it."""

    index: int
    name: str
    mac: bytes
    link_local: IPv6Address | None
    arp: bool
    ndp: bool


@dataclass(frozen=True, slots=True)
class Reply:
    """The frame to send, and the announced address it answers for (the metric label)."""

    ip: IPAddress
    frame: ArpFrame | NeighborAdvertisement


def announcement_reason(
    ip: IPAddress, interface: InterfaceView, announced: Mapping[IPAddress, Scope]
) -> DropReason | None:
    """None if `ip` is answered on `interface`, else why not (MetalLB's `announce_ip`,
    `not_match_interface`)."""
    scope = announced.get(ip)
    if scope is None:
        return DropReason.ANNOUNCE_IP
    if not scope.matches(interface.name):
        return DropReason.NOT_MATCH_INTERFACE
    return None


def decide(
    frame: Frame, interface: InterfaceView, announced: Mapping[IPAddress, Scope]
) -> Reply | DropReason:
    """The reply to `frame` received on `interface`, or the reason not to answer it."""
    if isinstance(frame, ArpFrame):
        if not interface.arp:
            return DropReason.ARP_DISABLED
        # RFC 826 "Packet Reception": only a request (ar$op = REQUEST) is answered.
        if frame.operation != ArpOperation.REQUEST:
            return DropReason.ARP_REPLY
        if frame.eth_dst not in (BROADCAST_MAC, interface.mac):
            return DropReason.ETHERNET_DESTINATION
        reason = announcement_reason(frame.target_ip, interface, announced)
        if reason is not None:
            return reason
        return Reply(frame.target_ip, frame.reply(interface.mac))
    if isinstance(frame, NeighborAdvertisement):
        return DropReason.NOT_SOLICITATION
    if not interface.ndp or interface.link_local is None:
        return DropReason.NDP_DISABLED
    # A unicast NS must be for our MAC; a multicast one (33:33:...) for a group we may hold.
    if frame.eth_dst != interface.mac and not frame.eth_dst.startswith(b"\x33\x33"):
        return DropReason.ETHERNET_DESTINATION
    # MetalLB answers only solicitations that say where to answer (ndp.go); this also drops
    # DAD probes, which RFC 4861 §7.1.1 forbids to carry the option.
    if frame.source_lla is None:
        return DropReason.NO_SOURCE_LL
    reason = announcement_reason(frame.target, interface, announced)
    if reason is not None:
        return reason
    return Reply(frame.target, solicited_na(frame, interface))


def solicited_na(ns: NeighborSolicitation, interface: InterfaceView) -> NeighborAdvertisement:
    """The answer to `ns` (RFC 4861 §7.2.4): to the solicitation's source, Solicited=1, with the
    Target Link-Layer Address option, Override=0 as a proxy answers (§7.2.4, MetalLB's ndp.go).

    The source address is the target itself, as Linux answers for its own addresses; MetalLB
    sends from the link-local address, which RFC 4861 allows but which tools such as ndisc6
    ignore, since the answer does not come from the address they asked about."""
    assert ns.source_lla is not None
    return NeighborAdvertisement(
        eth_dst=ns.source_lla,
        eth_src=interface.mac,
        ip_src=ns.target,
        ip_dst=ns.ip_src,
        target=ns.target,
        target_lla=interface.mac,
        solicited=True,
        override=False,
    )
