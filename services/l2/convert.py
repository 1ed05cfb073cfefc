"""Converting between `metallb.l2.v1` messages and the L2 core's types."""

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address

from metallb.l2.v1 import l2_pb2
from services.l2.core.frames import format_mac
from services.l2.core.interfaces import Ineligible, LinkFlag
from services.l2.core.responder import ALL, Scope
from services.l2.core.table import (
    AnnouncementSpec,
    AnnouncementState,
    AnnouncementStatus,
    EventType,
    InterfaceState,
    InvalidAnnouncementsError,
)

IPAddress = IPv4Address | IPv6Address

# Bounds on one SetAnnouncements (issue 15: bounded counts per request). A node announces one
# entry per service IP it owns: 100,000 is well above any cluster MetalLB supports, and what
# the default 4 MiB message carries (~40 bytes each). An announcement names the interfaces of an
# L2Advertisement's selector: 1,024 is more than a host has links worth naming.
MAX_ANNOUNCEMENTS = 100_000
MAX_INTERFACES = 1_024

_STATUS = {
    AnnouncementStatus.ANNOUNCING: l2_pb2.ANNOUNCEMENT_STATUS_ANNOUNCING,
    AnnouncementStatus.NO_INTERFACE: l2_pb2.ANNOUNCEMENT_STATUS_NO_INTERFACE,
}

_REASON = {
    None: l2_pb2.INELIGIBLE_REASON_UNSPECIFIED,
    Ineligible.EXCLUDED: l2_pb2.INELIGIBLE_REASON_EXCLUDED,
    Ineligible.DOWN: l2_pb2.INELIGIBLE_REASON_DOWN,
    Ineligible.ENSLAVED: l2_pb2.INELIGIBLE_REASON_ENSLAVED,
    Ineligible.NOARP: l2_pb2.INELIGIBLE_REASON_NOARP,
    Ineligible.NOT_ETHERNET: l2_pb2.INELIGIBLE_REASON_NOT_ETHERNET,
    Ineligible.NOT_BROADCAST: l2_pb2.INELIGIBLE_REASON_NOT_BROADCAST,
    Ineligible.NO_IPV6_LINK_LOCAL: l2_pb2.INELIGIBLE_REASON_NO_IPV6_LINK_LOCAL,
}

EVENT_TYPES = {
    EventType.ANNOUNCED: l2_pb2.EVENT_TYPE_ANNOUNCED,
    EventType.WITHDRAWN: l2_pb2.EVENT_TYPE_WITHDRAWN,
    EventType.ANNOUNCEMENT_UPDATED: l2_pb2.EVENT_TYPE_ANNOUNCEMENT_UPDATED,
    EventType.INTERFACE_ADDED: l2_pb2.EVENT_TYPE_INTERFACE_ADDED,
    EventType.INTERFACE_CHANGED: l2_pb2.EVENT_TYPE_INTERFACE_CHANGED,
    EventType.INTERFACE_REMOVED: l2_pb2.EVENT_TYPE_INTERFACE_REMOVED,
}


def _address(text: str, field: str) -> IPAddress:
    try:
        ip = ip_address(text)
    except ValueError:
        raise InvalidAnnouncementsError(f"{text!r} is not an IP address", field) from None
    if (
        ip.is_multicast
        or ip.is_unspecified
        or ip.is_loopback
        or ip == IPv4Address("255.255.255.255")
    ):
        raise InvalidAnnouncementsError(f"{ip} cannot be answered for on a link", field)
    return ip


def specs_from_proto(
    messages: Sequence[l2_pb2.AnnouncementSpec],
) -> list[AnnouncementSpec]:
    if len(messages) > MAX_ANNOUNCEMENTS:
        raise InvalidAnnouncementsError(
            f"{len(messages)} announcements, at most {MAX_ANNOUNCEMENTS} per request",
            "announcements",
        )
    specs = []
    for i, msg in enumerate(messages):
        field = f"announcements[{i}]"
        ip = _address(msg.ip, f"{field}.ip")
        names = list(msg.interfaces)
        if len(names) > MAX_INTERFACES:
            raise InvalidAnnouncementsError(
                f"{len(names)} interfaces, at most {MAX_INTERFACES}", f"{field}.interfaces"
            )
        if msg.all_interfaces and names:
            raise InvalidAnnouncementsError(
                "give all_interfaces or interfaces, not both", f"{field}.interfaces"
            )
        if not msg.all_interfaces and not names:
            raise InvalidAnnouncementsError(
                "name at least one interface, or set all_interfaces", f"{field}.interfaces"
            )
        for j, name in enumerate(names):
            if not name or len(name) > 15 or "/" in name or name.strip() != name:
                raise InvalidAnnouncementsError(
                    f"{name!r} is not an interface name", f"{field}.interfaces[{j}]"
                )
        scope = ALL if msg.all_interfaces else Scope(False, frozenset(names))
        specs.append(AnnouncementSpec(ip, scope, msg.owner))
    return specs


def spec_to_proto(spec: AnnouncementSpec) -> l2_pb2.AnnouncementSpec:
    """The inverse of `specs_from_proto` for one entry."""
    return l2_pb2.AnnouncementSpec(
        ip=str(spec.ip),
        all_interfaces=spec.scope.all,
        interfaces=sorted(spec.scope.names),
        owner=spec.owner,
    )


def announcement_to_proto(state: AnnouncementState) -> l2_pb2.Announcement:
    a = state.announcement
    return l2_pb2.Announcement(
        ip=str(a.ip),
        all_interfaces=a.scope.all,
        interfaces=sorted(a.scope.names),
        owners=list(a.owners),
        answering_on=list(state.answering_on),
        status=_STATUS[state.status],
    )


def interface_to_proto(state: InterfaceState) -> l2_pb2.Interface:
    link, elig = state.link, state.eligibility
    return l2_pb2.Interface(
        name=link.name,
        index=link.index,
        mac=format_mac(link.mac) if link.mac is not None else "",
        up=bool(link.flags & LinkFlag.UP),
        master_index=link.master or 0,
        ipv6_link_local=str(link.link_local) if link.link_local is not None else "",
        arp_eligible=elig.arp is None,
        arp_reason=_REASON[elig.arp],
        ndp_eligible=elig.ndp is None,
        ndp_reason=_REASON[elig.ndp],
    )
