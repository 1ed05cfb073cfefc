"""Declarative advertisements and the per-peer Adj-RIB-Out.

Theory of operation: the caller owns the whole set of advertisements (STYLE.md §4, MetalLB's
`Session.Set`). `routes_for_peer` turns that set into what one peer should hold: the ads whose
peer list is empty or names it, merged per prefix as MetalLB's native speaker does (union of
communities, LOCAL_PREF from the first). `AdjRibOut` keeps, per peer and per session, what the
peer was sent (`sent`) beside what it should hold (`desired`); `diff()` is the difference, and
`updates()` packs it into the fewest UPDATEs: announcements grouped by identical attributes and
handed to the codec's packer (4,096-octet limit), withdrawals packed likewise. When a session
goes down `sent` is forgotten, so the next session sends everything.

Attributes (RFC 4271 §5.1): ORIGIN IGP; AS_PATH empty to an internal peer, [our AS] to an
external one; NEXT_HOP / MP next hop given by the session; LOCAL_PREF only to an internal peer
(§5.1.5; 100 when the ad has none, as FRR does); COMMUNITIES (RFC 1997); LARGE_COMMUNITY
(RFC 8092).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address

from services.bgp.codec import IPV4_UNICAST, IPV6_UNICAST, Family, Negotiated, Update
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

DEFAULT_LOCAL_PREF = 100


@dataclass(frozen=True)
class RouteAttrs:
    """What distinguishes two announcements of a prefix to one peer."""

    communities: tuple[int, ...] = ()
    large_communities: tuple[LargeCommunity, ...] = ()
    local_pref: int | None = None


@dataclass(frozen=True)
class Advertisement:
    """A desired advertisement: prefix, attributes, and the peers it goes to (empty: all)."""

    prefix: Prefix
    attrs: RouteAttrs = RouteAttrs()
    peers: frozenset[str] = frozenset()


def family_of(prefix: Prefix) -> Family:
    return IPV4_UNICAST if isinstance(prefix, IPv4Network) else IPV6_UNICAST


def routes_for_peer(ads: Iterable[Advertisement], peer: str) -> dict[Prefix, RouteAttrs]:
    """What `peer` should hold, merged per prefix (§4.2: union of communities, first LOCAL_PREF)."""
    out: dict[Prefix, RouteAttrs] = {}
    for ad in ads:
        if ad.peers and peer not in ad.peers:
            continue
        have = out.get(ad.prefix)
        if have is None:
            out[ad.prefix] = ad.attrs
            continue
        out[ad.prefix] = RouteAttrs(
            tuple(sorted(set(have.communities) | set(ad.attrs.communities))),
            tuple(sorted(set(have.large_communities) | set(ad.attrs.large_communities))),
            have.local_pref if have.local_pref is not None else ad.attrs.local_pref,
        )
    return out


@dataclass(frozen=True)
class SessionRoutingInfo:
    """What the session decides about how routes are sent."""

    ctx: Negotiated
    local_as: int
    internal: bool
    next_hop4: IPv4Address | None
    next_hop6: IPv6Address | None

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
        return sum(1 for p, a in self.desired.items() if self.sent.get(p) != a)

    def updates(self, info: SessionRoutingInfo) -> list[Update]:
        """The UPDATEs that bring the peer from `sent` to `desired`; `sent` is updated."""
        if not self.sent and all(info.can_send(f) for f in map(family_of, self._families())):
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

    def _families(self) -> set[Prefix]:
        """One prefix per family present in `desired` (to ask can_send once per family)."""
        seen: dict[type, Prefix] = {}
        for prefix in self.desired:
            seen.setdefault(type(prefix), prefix)
            if len(seen) == 2:
                break
        return set(seen.values())

    def _full(self, info: SessionRoutingInfo) -> list[Update]:
        """A new session: everything, without per-prefix lookups (200,000 routes at start)."""
        groups: dict[RouteAttrs, list[Prefix]] = {}
        for prefix, attrs in self.desired.items():
            group = groups.get(attrs)
            if group is None:
                groups[attrs] = group = []
            group.append(prefix)
        out: list[Update] = []
        for attrs, prefixes in groups.items():
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
            next_hop6=(info.next_hop6,) if info.next_hop6 is not None else (),
        )


__all__ = [
    "AdjRibOut",
    "Advertisement",
    "RouteAttrs",
    "SessionRoutingInfo",
    "family_of",
    "routes_for_peer",
]
