"""The node's announcement table: what it answers for, on which links, and what changed.

Theory of operation
-------------------
The caller (the gateway's L2 role, which ran MetalLB's election) owns the whole set of
announcements and sends it declaratively; `set_announcements` applies only the difference. Each
entry is {address, interfaces or all, owner}; entries of one address with different owners (the
services sharing it) are merged — MetalLB's `ipRefcnt` — and the address is announced while any
owner remains. The interface scope of a merged address is the union of its entries' scopes, with
"all" winning, as MetalLB builds one `IPAdvertisement` from all matching L2Advertisements.

Links come from the adapter (pyroute2) through `set_links`, each judged by `eligibility`. From
the two the table derives, as immutable values the adapter installs:
- `snapshot()`: per eligible link the `InterfaceView`, and address -> `Scope`, for `decide`;
- `groups()`: per NDP link the solicited-node groups of the IPv6 addresses it answers for
  (RFC 4861 §7.2.1: a node joins the solicited-node group of every address it answers for);
- `gratuitous_due(now)`: the frames of the gratuitous rounds that are due (RFC 5227 §3 ARP
  Announcement, RFC 4861 §7.2.6 unsolicited NA), per link.
Every mutation returns the `Event`s that describe it, for WatchEvents.
"""

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from types import MappingProxyType

from metallb_rules.errors import InvalidArgumentError
from services.l2.core.frames import gratuitous_arp, solicited_node, unsolicited_na
from services.l2.core.gratuitous import GratuitousSchedule
from services.l2.core.interfaces import Eligibility, Link, eligibility
from services.l2.core.responder import InterfaceView, Scope

__all__ = [
    "Announcement",
    "AnnouncementSpec",
    "AnnouncementState",
    "AnnouncementStatus",
    "Event",
    "EventType",
    "InterfaceState",
    "L2Table",
    "ResponderSnapshot",
    "SetResult",
]

IPAddress = IPv4Address | IPv6Address


class InvalidAnnouncementsError(InvalidArgumentError):
    """The announcement set is malformed (a bad address, no interfaces, a duplicate entry)."""


@dataclass(frozen=True, slots=True)
class AnnouncementSpec:
    """One entry of the desired set: answer for `ip` on `scope`, on behalf of `owner`."""

    ip: IPAddress
    scope: Scope
    owner: str = ""


@dataclass(frozen=True, slots=True)
class Announcement:
    """An address this node answers for: the merged entries of every owner."""

    ip: IPAddress
    scope: Scope
    owners: tuple[str, ...]


class AnnouncementStatus(enum.Enum):
    ANNOUNCING = "announcing"  # answered on at least one link
    NO_INTERFACE = "no_interface"  # no eligible link in its scope (MetalLB: announceFailed)


@dataclass(frozen=True, slots=True)
class AnnouncementState:
    announcement: Announcement
    answering_on: tuple[str, ...]

    @property
    def status(self) -> AnnouncementStatus:
        if self.answering_on:
            return AnnouncementStatus.ANNOUNCING
        return AnnouncementStatus.NO_INTERFACE


@dataclass(frozen=True, slots=True)
class InterfaceState:
    link: Link
    eligibility: Eligibility


class EventType(enum.Enum):
    ANNOUNCED = "announced"
    WITHDRAWN = "withdrawn"
    ANNOUNCEMENT_UPDATED = "announcement_updated"  # owners, scope or answering links changed
    INTERFACE_ADDED = "interface_added"
    INTERFACE_CHANGED = "interface_changed"
    INTERFACE_REMOVED = "interface_removed"


@dataclass(frozen=True, slots=True)
class Event:
    type: EventType
    announcement: AnnouncementState | None = None
    interface: InterfaceState | None = None


@dataclass(frozen=True, slots=True)
class SetResult:
    announced: tuple[IPAddress, ...]
    withdrawn: tuple[IPAddress, ...]
    updated: tuple[IPAddress, ...]
    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class ResponderSnapshot:
    """What the hot path reads: eligible links by index, and address -> scope."""

    views: Mapping[int, InterfaceView]
    announced: Mapping[IPAddress, Scope]


def merge(specs: Sequence[AnnouncementSpec]) -> dict[IPAddress, Announcement]:
    """The desired set by address; an (address, owner) pair given twice is an error."""
    merged: dict[IPAddress, Announcement] = {}
    seen: set[tuple[IPAddress, str]] = set()
    for i, spec in enumerate(specs):
        if (spec.ip, spec.owner) in seen:
            raise InvalidAnnouncementsError(
                f"{spec.ip} is listed twice for owner {spec.owner!r}", f"announcements[{i}]"
            )
        seen.add((spec.ip, spec.owner))
        current = merged.get(spec.ip)
        if current is None:
            merged[spec.ip] = Announcement(spec.ip, spec.scope, (spec.owner,))
        else:
            merged[spec.ip] = Announcement(
                spec.ip,
                current.scope.union(spec.scope),
                tuple(sorted((*current.owners, spec.owner))),
            )
    return merged


@dataclass
class L2Table:
    exclude: re.Pattern[str] | None
    schedule: GratuitousSchedule = field(default_factory=GratuitousSchedule)
    _links: dict[int, InterfaceState] = field(default_factory=dict)
    _announcements: dict[IPAddress, Announcement] = field(default_factory=dict)

    # --- reading ---

    def interfaces(self) -> list[InterfaceState]:
        return sorted(self._links.values(), key=lambda s: s.link.index)

    def announcements(self) -> list[AnnouncementState]:
        return [self.state_of(ip) for ip in sorted(self._announcements, key=_ip_key)]

    def state_of(self, ip: IPAddress) -> AnnouncementState:
        announcement = self._announcements[ip]
        return AnnouncementState(announcement, tuple(v.name for v in self._views_for(ip)))

    def _views_for(self, ip: IPAddress) -> list[InterfaceView]:
        scope = self._announcements[ip].scope
        views = []
        for state in self.interfaces():
            link, elig = state.link, state.eligibility
            usable = elig.arp is None if ip.version == 4 else elig.ndp is None
            if usable and scope.matches(link.name):
                views.append(_view(state))
        return views

    def snapshot(self) -> ResponderSnapshot:
        views = {
            s.link.index: _view(s)
            for s in self._links.values()
            if s.eligibility.arp is None or s.eligibility.ndp is None
        }
        announced = {ip: a.scope for ip, a in self._announcements.items()}
        return ResponderSnapshot(MappingProxyType(views), MappingProxyType(announced))

    def groups(self) -> dict[int, frozenset[IPv6Address]]:
        """Solicited-node groups to hold, per NDP-eligible link (RFC 4861 §7.2.1)."""
        wanted: dict[int, set[IPv6Address]] = {
            s.link.index: set() for s in self._links.values() if s.eligibility.ndp is None
        }
        for ip in self._announcements:
            if isinstance(ip, IPv6Address):
                for view in self._views_for(ip):
                    wanted[view.index].add(solicited_node(ip))
        return {index: frozenset(groups) for index, groups in wanted.items()}

    # --- changing ---

    def set_announcements(self, specs: Sequence[AnnouncementSpec], now: float) -> SetResult:
        """Make `specs` the whole set; returns what changed. Validation happens first, so a
        refused set changes nothing."""
        desired = merge(specs)
        old = self._announcements
        withdrawn = sorted(set(old) - set(desired), key=_ip_key)
        announced = sorted(set(desired) - set(old), key=_ip_key)
        updated = sorted(
            (ip for ip in desired if ip in old and desired[ip] != old[ip]), key=_ip_key
        )
        events = [Event(EventType.WITHDRAWN, self.state_of(ip)) for ip in withdrawn]
        before = {ip: self.state_of(ip) for ip in updated}
        self._announcements = desired
        for ip in withdrawn:
            self.schedule.cancel(ip)  # nothing is sent on withdraw (reference §3.4)
        for ip in announced:
            self.schedule.enqueue(ip, now)
            events.append(Event(EventType.ANNOUNCED, self.state_of(ip)))
        for ip in updated:
            if desired[ip].scope != before[ip].announcement.scope:
                self.schedule.enqueue(ip, now)  # tell the links newly in scope
            events.append(Event(EventType.ANNOUNCEMENT_UPDATED, self.state_of(ip)))
        return SetResult(tuple(announced), tuple(withdrawn), tuple(updated), tuple(events))

    def set_links(self, links: Iterable[Link]) -> list[Event]:
        """Replace the discovered links; returns interface events, then the announcements whose
        answering links changed."""
        before = {ip: self.state_of(ip).answering_on for ip in self._announcements}
        fresh = {
            link.index: InterfaceState(link, eligibility(link, self.exclude)) for link in links
        }
        events: list[Event] = []
        for index in sorted(set(self._links) | set(fresh)):
            old, new = self._links.get(index), fresh.get(index)
            if new is None and old is not None:
                events.append(Event(EventType.INTERFACE_REMOVED, interface=old))
            elif old is None and new is not None:
                events.append(Event(EventType.INTERFACE_ADDED, interface=new))
            elif new is not None and new != old:
                events.append(Event(EventType.INTERFACE_CHANGED, interface=new))
        self._links = fresh
        for ip in sorted(self._announcements, key=_ip_key):
            state = self.state_of(ip)
            if state.answering_on != before[ip]:
                events.append(Event(EventType.ANNOUNCEMENT_UPDATED, state))
        return events

    def gratuitous_due(self, now: float) -> list[tuple[InterfaceView, IPAddress, list[bytes]]]:
        """The frames of every round due at `now`: per address, per link in scope."""
        rounds = []
        for ip in self.schedule.due(now):
            if ip not in self._announcements:
                continue
            for view in self._views_for(ip):
                if isinstance(ip, IPv4Address):
                    frames = [f.encode() for f in gratuitous_arp(view.mac, ip)]
                else:
                    frames = [unsolicited_na(view.mac, ip).encode()]
                rounds.append((view, ip, frames))
        return rounds


def _view(state: InterfaceState) -> InterfaceView:
    link = state.link
    assert link.mac is not None  # eligibility requires an Ethernet address
    return InterfaceView(
        index=link.index,
        name=link.name,
        mac=link.mac,
        link_local=link.link_local,
        arp=state.eligibility.arp is None,
        ndp=state.eligibility.ndp is None,
    )


def _ip_key(ip: IPAddress) -> tuple[int, int]:
    return ip.version, int(ip)
