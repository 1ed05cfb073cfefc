"""Per-peer routes and the Adj-RIB-Out.

Theory of operation: the caller owns, per peer, the whole set of routes it should hold
(STYLE.md §4, MetalLB's `Session.Set`), already decided by MetalLB's rules (which peer, which
communities, which LOCAL_PREF: metallb_rules.announce.bgp). `AdjRibOut` keeps, per peer and per
session, what the peer was sent (`sent`) beside what it should hold (`desired`); `updates()`
sends the difference in the fewest UPDATEs: announcements grouped by identical attributes and
handed to the codec's packer (4,096-octet limit), withdrawals packed likewise. When a session
goes down `sent` is forgotten, so the next session sends everything.

Attributes (RFC 4271 §5.1): ORIGIN IGP; AS_PATH empty to an internal peer, [our AS] to an
external one; NEXT_HOP / MP next hop given by the session; LOCAL_PREF only to an internal peer
(§5.1.5, where it is required: the rules' default 100 when the route has none); COMMUNITIES
(RFC 1997); LARGE_COMMUNITY (RFC 8092).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from itertools import repeat
from operator import is_

from metallb_rules.announce.bgp import DEFAULT_LOCAL_PREF
from services.bgp.codec import AFI, IPV4_UNICAST, IPV6_UNICAST, Family, Negotiated, Update
from services.bgp.codec.attributes import (
    AsPath,
    Communities,
    LargeCommunities,
    LargeCommunity,
    LocalPref,
    Origin,
    PathAttribute,
)
from services.bgp.codec.attributes.mp_reach import ipv4_over_ipv6
from services.bgp.codec.packer import pack_announcements, pack_withdrawals
from services.bgp.codec.prefixes import Prefix


@dataclass(frozen=True)
class RouteAttrs:
    """What distinguishes two announcements of a prefix to one peer."""

    communities: tuple[int, ...] = ()
    large_communities: tuple[LargeCommunity, ...] = ()
    local_pref: int | None = None


def family_of(prefix: Prefix) -> Family:
    return IPV4_UNICAST if prefix[0] == AFI.IPV4 else IPV6_UNICAST


def families_of(prefixes: Collection[Prefix]) -> frozenset[Family]:
    """The families present: a Prefix's first octet is its family, so the least and the
    greatest prefix name them all (two C loops, not a Python step per prefix)."""
    if not prefixes:
        return frozenset()
    return frozenset({family_of(min(prefixes)), family_of(max(prefixes))})


@dataclass(frozen=True)
class SessionRoutingInfo:
    """What the session decides about how routes are sent."""

    ctx: Negotiated
    local_as: int
    internal: bool
    next_hop4: IPv4Address | None
    next_hop6: IPv6Address | None
    #: RFC 2545 §3: a link-local next hop sent after the global `next_hop6` (unnumbered
    #: sessions with a global address on the interface).
    next_hop6_link_local: IPv6Address | None = None

    def mp_next_hops(self) -> tuple[IPv6Address, ...]:
        """The MP_REACH_NLRI next hop: global (or link-local alone), then link-local."""
        if self.next_hop6 is None:
            return ()
        if self.next_hop6_link_local is None:
            return (self.next_hop6,)
        return (self.next_hop6, self.next_hop6_link_local)

    def can_send(self, family: Family) -> bool:
        if family not in self.ctx.families:
            return False  # RFC 4760 §6
        if family == IPV4_UNICAST:
            return self.next_hop4 is not None or (
                self.next_hop6 is not None and ipv4_over_ipv6(self.ctx)  # RFC 8950 §4
            )
        return self.next_hop6 is not None

    def attributes(self, attrs: RouteAttrs) -> list[PathAttribute]:
        out: list[PathAttribute] = [
            Origin(),
            AsPath.sequence() if self.internal else AsPath.sequence(self.local_as),
        ]
        if self.internal:  # RFC 4271 §5.1.5: LOCAL_PREF only to internal peers
            lp = attrs.local_pref if attrs.local_pref is not None else DEFAULT_LOCAL_PREF
            out.append(LocalPref(lp))
        if attrs.communities:
            out.append(Communities(attrs.communities))
        if attrs.large_communities:
            out.append(LargeCommunities(attrs.large_communities))
        return out


def _grouped(routes: Mapping[Prefix, RouteAttrs]) -> dict[RouteAttrs, list[Prefix]]:
    """The prefixes per attributes. Routes that all share one RouteAttrs object (the API's
    routes without attributes do) are recognised by a C loop comparing identities, before a
    Python-level hash of a RouteAttrs is paid per route."""
    if routes:
        first = next(iter(routes.values()))
        if all(map(is_, routes.values(), repeat(first))):
            return {first: list(routes)}
    groups: dict[RouteAttrs, list[Prefix]] = {}
    for prefix, attrs in routes.items():
        group = groups.get(attrs)
        if group is None:
            groups[attrs] = group = []
        group.append(prefix)
    return groups


@dataclass
class AdjRibOut:
    desired: dict[Prefix, RouteAttrs] = field(default_factory=dict)
    sent: dict[Prefix, RouteAttrs] = field(default_factory=dict)

    def set_desired(self, routes: Mapping[Prefix, RouteAttrs]) -> None:
        self.desired = dict(routes)

    def session_down(self) -> None:
        self.sent = {}

    def pending(self) -> int:
        """Desired prefixes the peer does not hold as desired (the pending-prefixes gauge)."""
        if not self.sent:
            return len(self.desired)
        return sum(1 for p, a in self.desired.items() if self.sent.get(p) != a)

    def updates(self, info: SessionRoutingInfo) -> list[Update]:
        """The UPDATEs that bring the peer from `sent` to `desired`; `sent` is updated."""
        if not self.sent and all(map(info.can_send, families_of(self.desired))):
            return self._full(info)
        withdraw = [p for p in self.sent if p not in self.desired]
        groups: dict[RouteAttrs, list[Prefix]] = {}
        for prefix, attrs in self.desired.items():
            if self.sent.get(prefix) == attrs:
                continue
            if not info.can_send(family_of(prefix)):
                if prefix in self.sent:
                    withdraw.append(prefix)
                continue
            groups.setdefault(attrs, []).append(prefix)
        out: list[Update] = []
        if withdraw:
            out += pack_withdrawals(withdraw, info.ctx)
            for prefix in withdraw:
                del self.sent[prefix]
        for attrs, prefixes in groups.items():
            out += self._announce(prefixes, attrs, info)
            for prefix in prefixes:
                self.sent[prefix] = attrs
        return out

    def _full(self, info: SessionRoutingInfo) -> list[Update]:
        """A new session: everything, without per-prefix lookups (200,000 routes at start)."""
        out: list[Update] = []
        for attrs, prefixes in _grouped(self.desired).items():
            out += self._announce(prefixes, attrs, info)
        self.sent = self.desired.copy()  # copies the stored hashes: no re-hashing
        return out

    def resend(self, family: Family, info: SessionRoutingInfo) -> list[Update]:
        """Everything sent for `family` again (answering a ROUTE-REFRESH, RFC 2918 §4)."""
        groups: dict[RouteAttrs, list[Prefix]] = {}
        for prefix, attrs in self.sent.items():
            if family_of(prefix) == family:
                groups.setdefault(attrs, []).append(prefix)
        out: list[Update] = []
        for attrs, prefixes in groups.items():
            out += self._announce(prefixes, attrs, info)
        return out

    @staticmethod
    def _announce(
        prefixes: list[Prefix], attrs: RouteAttrs, info: SessionRoutingInfo
    ) -> list[Update]:
        return pack_announcements(
            prefixes,
            info.attributes(attrs),
            info.ctx,
            next_hop=info.next_hop4,
            next_hop6=info.mp_next_hops(),
        )


__all__ = [
    "AdjRibOut",
    "RouteAttrs",
    "SessionRoutingInfo",
    "families_of",
    "family_of",
]
