"""The asyncio adapter of unnumbered links: one `LinkTracker` per interface some peer uses,
fed from netlink, its raw ICMPv6 socket and the speaker, with one timer each.

Theory of operation (STYLE.md §1, layer 4): every event goes to the interface's tracker, then
`_flush` sends what it asks (ra.py encodes), re-arms its timer at `next_deadline()`, and when
its `view()` changed calls `on_change(interface, before, after)`, synchronously, so the speaker
moves its sessions before anything else happens (an incoming connection that taught us the
neighbour is then accepted by the session it restarted). Received packets are decoded and
checked by the codec; what fails is counted per drop reason and goes no further.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from ipaddress import IPv6Address

from metallb_runtime.netlink_events import NetlinkEvents

from . import netlink
from .ra import RADrop, RADropError, RouterAdvertisement, check_source, decode
from .radv import NDSocket
from .tracker import LinkTracker, View

log = logging.getLogger(__name__)

OnChange = Callable[[str, View, View], None]


class _LinkRunner:
    def __init__(self, owner: UnnumberedLinks, interface: str) -> None:
        self.owner = owner
        self.tracker = LinkTracker(interface, ra_interval=owner.ra_interval)
        self.users: set[str] = set()
        self.socket: NDSocket | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at: float | None = None
        self.drops: Counter[RADrop] = Counter()
        self.seen = View()

    @property
    def interface(self) -> str:
        return self.tracker.interface

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def on_packet(self, data: bytes, source: IPv6Address, hop_limit: int) -> None:
        try:
            message = decode(data)
            check_source(message, source, hop_limit)
        except RADropError as err:
            self.drops[err.reason] += 1
            return
        if isinstance(message, RouterAdvertisement):
            self.tracker.router_advertisement(source, self.now())
        else:
            self.tracker.router_solicitation(source, self.now())
        self.flush()

    def apply(self, state: netlink.LinkState) -> None:
        link = state.link
        index = link.index if link is not None and link.usable else 0
        if self.socket is not None and self.socket.index != index:
            self.socket.close()
            self.socket = None
        if index and self.socket is None:
            try:
                self.socket = NDSocket(self.interface, index, self.on_packet)
            except OSError as err:
                log.warning("unnumbered %s: no ICMPv6 socket: %s", self.interface, err)
        now = self.now()
        self.tracker.link_changed(link, now)
        self.tracker.neighbour_cache(state.neighbours, now)
        self.flush()

    def flush(self) -> None:
        for action in self.tracker.take_actions():
            if self.socket is not None:
                self.socket.send(action.message.encode(), action.destination)
        deadline = self.tracker.next_deadline()
        if deadline != self.timer_at:
            if self.timer is not None:
                self.timer.cancel()
            loop = asyncio.get_running_loop()
            self.timer = loop.call_at(deadline, self._fire) if deadline is not None else None
            self.timer_at = deadline
        view = self.tracker.view()
        if view != self.seen:
            before, self.seen = self.seen, view
            self.owner.on_change(self.interface, before, view)

    def _fire(self) -> None:
        due = self.timer_at
        self.timer = self.timer_at = None
        self.tracker.handle_timer(max(self.now(), due or 0.0))
        self.flush()

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.socket is not None:
            self.socket.close()
            self.socket = None


class UnnumberedLinks:
    """The interfaces unnumbered peers use; `attach` / `detach` per peer."""

    def __init__(self, on_change: OnChange, *, ra_interval: float = 10.0) -> None:
        self.on_change = on_change
        self.ra_interval = ra_interval
        self.runners: dict[str, _LinkRunner] = {}
        self._events: NetlinkEvents | None = None

    async def attach(self, interface: str, peer: str) -> View:
        runner = self.runners.get(interface)
        if runner is None:
            runner = self.runners[interface] = _LinkRunner(self, interface)
        runner.users.add(peer)
        if self._events is None:
            self._events = netlink.link_events(self.refresh)
            try:
                await self._events.start()
            except OSError as err:
                log.warning("unnumbered: no netlink events (%s): links are read once", err)
        await self.refresh()
        return runner.tracker.view()

    async def detach(self, interface: str, peer: str) -> None:
        runner = self.runners.get(interface)
        if runner is None:
            return
        runner.users.discard(peer)
        if not runner.users:
            runner.close()
            del self.runners[interface]
        if not self.runners and self._events is not None:
            await self._events.stop()
            self._events = None

    async def refresh(self) -> None:
        """Read every followed interface again and feed the trackers."""
        if not self.runners:
            return
        try:
            states = await netlink.read(list(self.runners))
        except OSError as err:
            log.warning("unnumbered: reading links failed: %s", err)
            return
        for name, state in states.items():
            runner = self.runners.get(name)
            if runner is not None:
                runner.apply(state)

    def view(self, interface: str) -> View:
        runner = self.runners.get(interface)
        return runner.tracker.view() if runner is not None else View()

    def runner(self, interface: str) -> _LinkRunner | None:
        return self.runners.get(interface)

    def incoming_connection(self, interface: str, source: IPv6Address) -> None:
        runner = self.runners.get(interface)
        if runner is not None:
            runner.tracker.incoming_connection(source, runner.now())
            runner.flush()

    def session_state(self, interface: str, established: bool) -> None:
        runner = self.runners.get(interface)
        if runner is not None:
            runner.tracker.session_state(established, runner.now())
            runner.flush()

    async def close(self) -> None:
        for runner in self.runners.values():
            runner.close()
        self.runners.clear()
        if self._events is not None:
            with contextlib.suppress(Exception):
                await self._events.stop()
            self._events = None
