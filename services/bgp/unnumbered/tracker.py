"""The neighbour on one link, sans-I/O: which IPv6 link-local address an unnumbered BGP
session goes to, and when to send our Router Advertisements.

Theory of operation (STYLE.md §1, the aioquic shape). The adapter feeds a `LinkTracker` what
it sees on its interface — `link_changed` (netlink: up, index, MAC, our addresses),
`router_advertisement` / `router_solicitation` (the raw ICMPv6 socket), `neighbour_cache`
(the kernel's usable link-local entries), `incoming_connection` (a BGP connection from the
link), `session_state` (a session to the current neighbour is Established) — and after each call
takes `take_actions()` (RAs and RSs to send) and re-arms one timer at `next_deadline()`.
`view()` is what the sessions depend on; `session_action(before, after)` says what a change
means for them. Time is an argument; nothing here reads a clock or touches a socket.

Learning, as FRR's zebra does it and a little more: the neighbour is the source of a Router
Advertisement received on the link (RFC 4861 §6.1.2), else of a BGP connection it opened to us,
else a link-local entry of the neighbour cache (router-flagged first). A link is point to point
in these fabrics; if a second address shows up, it replaces the current one only while no
session to the current one is Established (otherwise it waits until that session goes down),
and a weaker source never displaces a stronger one. Nothing expires by time alone: a neighbour
that goes away is noticed by its session (hold timer, BFD, TCP), and its successor's RA takes
over. The link going down (or losing its link-local address) forgets the neighbour.

Sending, as FRR does for `neighbor IFACE interface` (so the neighbour learns us): an RA with
router lifetime 0 (we are not a default router for anyone, RFC 4861 §6.2.3) and our link-layer
address, to all-nodes, when the link comes up and every `ra_interval` (FRR's 10 s), at once when
a new neighbour is learned or an RS arrives, never two within MIN_DELAY_BETWEEN_RAS (§10: 3 s);
and one Router Solicitation when the link comes up, so a router answers with its RA at once
instead of at its next period (§6.3.7).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from ipaddress import IPv6Address

from .ra import ALL_NODES, ALL_ROUTERS, RouterAdvertisement, RouterSolicitation, lladdr_option

#: FRR's BGP_UNNUM_DEFAULT_RA_INTERVAL (bgpd enables RAs at this period on such interfaces).
RA_INTERVAL = 10.0
#: RFC 4861 §10 MIN_DELAY_BETWEEN_RAS.
MIN_DELAY_BETWEEN_RAS = 3.0


class Source(Enum):
    """How the neighbour's address was learned (the API's NeighborSource)."""

    ROUTER_ADVERTISEMENT = "router_advertisement"
    INCOMING_CONNECTION = "incoming_connection"
    NEIGHBOR_CACHE = "neighbor_cache"


_STRENGTH = {
    Source.NEIGHBOR_CACHE: 1,
    Source.INCOMING_CONNECTION: 2,
    Source.ROUTER_ADVERTISEMENT: 3,
}


@dataclass(frozen=True)
class Link:
    """What netlink says of the interface."""

    index: int
    up: bool
    mac: bytes | None
    link_local: IPv6Address | None
    #: Our global IPv6 addresses there (the RFC 2545 global next hop, if any).
    globals: tuple[IPv6Address, ...] = ()

    @property
    def usable(self) -> bool:
        return self.up and self.index > 0 and self.link_local is not None


@dataclass(frozen=True)
class Neighbour:
    address: IPv6Address
    source: Source
    learned_at: float


@dataclass(frozen=True)
class View:
    """What the sessions over this link depend on."""

    link_up: bool = False
    index: int = 0
    link_local: IPv6Address | None = None
    globals: tuple[IPv6Address, ...] = ()
    neighbour: Neighbour | None = None

    @property
    def neighbour_address(self) -> IPv6Address | None:
        return self.neighbour.address if self.neighbour is not None else None


@dataclass(frozen=True)
class Send:
    """Send `message` on the link to `destination` (hop limit 255, from our link-local)."""

    destination: IPv6Address
    message: RouterAdvertisement | RouterSolicitation


class LinkEvent(Enum):
    """What a change of the view means for the sessions over the link."""

    LINK_DOWN = "link_down"  # stop, wait for the link
    NEIGHBOR_CHANGED = "neighbor_changed"  # restart towards the new neighbour (or wait)
    ADDRESS_CHANGED = "address_changed"  # restart: our source / next hops changed


def session_action(before: View, after: View) -> LinkEvent | None:
    """The event a session over the link must follow, or None (nothing it depends on moved).
    A session runs while the link is up and a neighbour is known."""
    if before.link_up and not after.link_up:
        return LinkEvent.LINK_DOWN
    if before.neighbour_address != after.neighbour_address:
        return LinkEvent.NEIGHBOR_CHANGED
    if after.neighbour is not None and (
        (before.link_local, before.globals, before.index)
        != (after.link_local, after.globals, after.index)
    ):
        return LinkEvent.ADDRESS_CHANGED
    return None


@dataclass
class LinkCounters:
    ra_sent: int = 0
    rs_sent: int = 0
    ra_received: int = 0
    rs_received: int = 0


@dataclass
class LinkTracker:
    """One interface's link, neighbour and RA schedule."""

    interface: str
    ra_interval: float = RA_INTERVAL
    link: Link | None = None
    neighbour: Neighbour | None = None
    counters: LinkCounters = field(default_factory=LinkCounters)
    #: A different address offered while a session to the current one was Established.
    _pending: Neighbour | None = None
    _session_up: bool = False
    _next_ra: float | None = None
    _last_ra: float | None = None
    _actions: list[Send] = field(default_factory=list)

    # ---- what the sessions see -------------------------------------------------------------

    def view(self) -> View:
        link = self.link
        if link is None or not link.usable:
            return View()
        return View(True, link.index, link.link_local, link.globals, self.neighbour)

    # ---- events ----------------------------------------------------------------------------

    def link_changed(self, link: Link | None, now: float) -> None:
        """The interface as netlink now shows it (None: it does not exist)."""
        was_usable = self.link is not None and self.link.usable
        self.link = link
        if link is None or not link.usable:
            self.neighbour = self._pending = None
            self._session_up = False
            self._next_ra = None
            return
        if not was_usable:
            self._next_ra = now  # §6.2.4: advertise when the interface becomes an advertiser
            self._actions.append(Send(ALL_ROUTERS, self._solicitation()))
            self.counters.rs_sent += 1

    def router_advertisement(self, source: IPv6Address, now: float) -> None:
        """A valid RA (ra.decode + ra.check_source passed) from `source` on the link."""
        self.counters.ra_received += 1
        self._offer(source, Source.ROUTER_ADVERTISEMENT, now)

    def router_solicitation(self, source: IPv6Address, now: float) -> None:
        """§6.2.6: answer with an RA (to all-nodes, within the rate limit)."""
        self.counters.rs_received += 1
        self._advertise_soon(now)

    def incoming_connection(self, source: IPv6Address, now: float) -> None:
        self._offer(source, Source.INCOMING_CONNECTION, now)

    def neighbour_cache(self, entries: dict[IPv6Address, bool], now: float) -> None:
        """The usable link-local entries of the kernel's neighbour cache on this interface
        (address -> router flag), in full."""
        current = self.neighbour
        if (
            current is not None
            and current.source is Source.NEIGHBOR_CACHE
            and current.address not in entries
        ):
            self.neighbour = None
            self._session_up = False
        pending = self._pending
        if (
            pending is not None
            and pending.source is Source.NEIGHBOR_CACHE
            and pending.address not in entries
        ):
            self._pending = None
        if self.neighbour is None and entries:
            best = sorted(entries, key=lambda a: (not entries[a], int(a)))[0]
            self._offer(best, Source.NEIGHBOR_CACHE, now)

    def session_state(self, established: bool, now: float) -> None:
        """Whether a session to the current neighbour is Established; when it goes down, a
        neighbour offered meanwhile takes over."""
        self._session_up = established and self.neighbour is not None
        if not self._session_up and self._pending is not None:
            pending, self._pending = self._pending, None
            self._switch(pending.address, pending.source, now)

    # ---- time and actions ------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        return self._next_ra

    def handle_timer(self, now: float) -> None:
        if self._next_ra is not None and self._next_ra <= now:
            self._send_ra(now)

    def take_actions(self) -> list[Send]:
        out, self._actions = self._actions, []
        return out

    # ---- internals -------------------------------------------------------------------------

    def _offer(self, address: IPv6Address, source: Source, now: float) -> None:
        if self.link is None or not self.link.usable or address == self.link.link_local:
            return
        current = self.neighbour
        if current is not None and current.address == address:
            if _STRENGTH[source] > _STRENGTH[current.source]:
                self.neighbour = replace(current, source=source)
            if self._pending is not None and _STRENGTH[self._pending.source] <= _STRENGTH[source]:
                self._pending = None  # the current one spoke again: keep it
            return
        if current is not None and _STRENGTH[source] < _STRENGTH[current.source]:
            return
        if current is not None and self._session_up:
            self._pending = Neighbour(address, source, now)
            return
        self._switch(address, source, now)

    def _switch(self, address: IPv6Address, source: Source, now: float) -> None:
        self.neighbour = Neighbour(address, source, now)
        self._session_up = False
        self._advertise_soon(now)  # so the new neighbour learns us at once

    def _advertise_soon(self, now: float) -> None:
        if self.link is None or not self.link.usable:
            return
        earliest = now if self._last_ra is None else self._last_ra + MIN_DELAY_BETWEEN_RAS
        at = max(now, earliest)
        if self._next_ra is None or at < self._next_ra:
            self._next_ra = at

    def _send_ra(self, now: float) -> None:
        self._actions.append(Send(ALL_NODES, self._advertisement()))
        self.counters.ra_sent += 1
        self._last_ra = now
        self._next_ra = now + self.ra_interval

    def _options(self) -> tuple[tuple[int, bytes], ...]:
        mac = self.link.mac if self.link is not None else None
        return (lladdr_option(mac),) if mac is not None and len(mac) == 6 else ()

    def _advertisement(self) -> RouterAdvertisement:
        return RouterAdvertisement(options=self._options())

    def _solicitation(self) -> RouterSolicitation:
        return RouterSolicitation(options=self._options())


__all__ = [
    "MIN_DELAY_BETWEEN_RAS",
    "RA_INTERVAL",
    "Link",
    "LinkEvent",
    "LinkTracker",
    "Neighbour",
    "Send",
    "Source",
    "View",
    "session_action",
]
