"""Many BFD sessions behind one socket and one timer: demultiplexing and batched timers.

Theory of operation
-------------------
The asyncio adapter owns one UDP socket per port (3784 single hop, 4784 multihop, 3785 echo) and
one `loop.call_at` timer for the whole table. `SessionTable` gives it:

* session selection for received control packets (RFC 5880 §6.8.6): a nonzero Your
  Discriminator selects the session by bfd.LocalDiscr, and is accepted only from that session's
  peer address; a zero one (allowed only in Down and AdminDown) selects it by (peer address,
  interface). Packets that fit no session become
  `PacketDropped` events keyed by their source and are counted in `drops`;
* returning echo payloads go to the session whose discriminator they carry;
* discriminators that are nonzero, random and unique (§6.8.1);
* batched timers: a heap of (deadline, discriminator) entries. Every call that touches a session
  pushes its current `next_timer()`; entries whose deadline no longer matches are stale and are
  skipped lazily, so `next_timer()` and `handle_timer()` cost O(log n) per due session instead
  of a scan of hundreds of sessions.

Adapter loop: after `receive_packet`/`receive_echo`/`add`/`remove`/`handle_timer`, call
`datagrams_to_send(now)` and re-arm the single timer at `next_timer()`. Drive sessions only
through the table, otherwise the heap does not learn their new deadlines.
"""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from services.bfd.core.drop import DropReason, PacketDecodeError
from services.bfd.core.echo import decode_echo
from services.bfd.core.events import Event, PacketDropped
from services.bfd.core.session import Session, SessionParams
from services.bfd.core.validate import parse_control

__all__ = ["DiscriminatorAllocator", "KeyedEvent", "Outgoing", "SessionKey", "SessionTable"]

_MAX_U32 = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class SessionKey:
    """A session's identity: peer address and interface ("" for multihop or unbound)."""

    peer: IPv4Address | IPv6Address
    interface: str = ""


@dataclass(frozen=True, slots=True)
class KeyedEvent:
    key: SessionKey
    event: Event


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A datagram to send for session `key`: a control packet, or an echo payload."""

    key: SessionKey
    data: bytes
    echo: bool = False


class DiscriminatorAllocator:
    """Random, nonzero, unique 32-bit local discriminators (RFC 5880 §6.8.1)."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._in_use: set[int] = set()

    def allocate(self) -> int:
        if len(self._in_use) >= _MAX_U32:
            raise RuntimeError("all BFD discriminators are in use")
        while True:
            value = self._rng.randint(1, _MAX_U32)  # §6.8.1: nonzero, "SHOULD be random"
            if value not in self._in_use:
                self._in_use.add(value)
                return value

    def release(self, value: int) -> None:
        self._in_use.discard(value)


class SessionTable:
    """All sessions of one BFD speaker. See the module docstring."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng if rng is not None else random.Random()
        self._allocator = DiscriminatorAllocator(self._rng)
        self._by_key: dict[SessionKey, Session] = {}
        self._by_discriminator: dict[int, tuple[SessionKey, Session]] = {}
        self._heap: list[tuple[float, int, int]] = []
        self._tiebreak = itertools.count()
        self._dirty: set[int] = set()
        # discriminator -> deadline of its newest heap entry (`_touched` skips re-pushing it)
        self._queued: dict[int, float] = {}
        self.drops: dict[DropReason, int] = {}

    # ------------------------------------------------------------------ membership

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def get(self, key: SessionKey) -> Session | None:
        return self._by_key.get(key)

    def items(self) -> list[tuple[SessionKey, Session]]:
        return list(self._by_key.items())

    def add(
        self, key: SessionKey, params: SessionParams, now: float, *, multihop: bool = False
    ) -> Session:
        """Create a session; raise KeyError if `key` already has one."""
        if key in self._by_key:
            raise KeyError(f"BFD session {key} already exists")
        discriminator = self._allocator.allocate()
        session = Session(discriminator, params, now, multihop=multihop, rng=self._rng)
        self._by_key[key] = session
        self._by_discriminator[discriminator] = (key, session)
        self._touched(session)
        return session

    def update(self, key: SessionKey, params: SessionParams, now: float) -> list[KeyedEvent]:
        session = self._by_key[key]
        return self._keyed(key, session, session.update_params(params, now))

    def admin_down(self, key: SessionKey, now: float) -> list[KeyedEvent]:
        session = self._by_key[key]
        return self._keyed(key, session, session.admin_down(now))

    def admin_up(self, key: SessionKey, now: float) -> list[KeyedEvent]:
        session = self._by_key[key]
        return self._keyed(key, session, session.admin_up(now))

    def remove(self, key: SessionKey, now: float) -> list[KeyedEvent]:
        """Delete: AdminDown for a few detection times (§6.8.16), then the session is dropped."""
        session = self._by_key[key]
        events = self._keyed(key, session, session.delete(now))
        self._purge_finished([session])
        return events

    def forget(self, key: SessionKey) -> None:
        """Drop a session at once, without AdminDown (process shutdown)."""
        session = self._by_key.pop(key)
        del self._by_discriminator[session.local_discriminator]
        self._allocator.release(session.local_discriminator)
        self._dirty.discard(session.local_discriminator)
        self._queued.pop(session.local_discriminator, None)

    def _purge_finished(self, sessions: list[Session]) -> None:
        """Forget the finished ones among `sessions` (only a session just handled can finish)."""
        for session in sessions:
            if session.finished:
                entry = self._by_discriminator.get(session.local_discriminator)
                if entry is not None and entry[1] is session:
                    self.forget(entry[0])

    # ------------------------------------------------------------------ input

    def _table_drop(self, key: SessionKey, reason: DropReason) -> list[KeyedEvent]:
        self.drops[reason] = self.drops.get(reason, 0) + 1
        return [KeyedEvent(key, PacketDropped(reason))]

    def receive_packet(
        self,
        data: bytes,
        ttl: int,
        peer: IPv4Address | IPv6Address,
        interface: str,
        now: float,
        *,
        multihop: bool | None = None,
    ) -> list[KeyedEvent]:
        """A control datagram from `peer` on `interface` ("" for the multihop socket).

        `multihop` says which port it came in on (4784 or 3784); a session of the other kind
        drops it (RFC 5881 §4 and RFC 5883 §5 give each its own port). None skips the check.
        """
        source = SessionKey(peer, interface)
        parsed = parse_control(data)
        if isinstance(parsed, DropReason):
            return self._table_drop(source, parsed)
        if parsed.your_discriminator != 0:
            # §6.8.6: a nonzero Your Discriminator selects the session; unknown → discard.
            entry = self._by_discriminator.get(parsed.your_discriminator)
            if entry is None:
                return self._table_drop(source, DropReason.UNKNOWN_YOUR_DISCRIMINATOR)
            key, session = entry
            if peer != key.peer:
                # RFC 5880 §6.8.6 selects by discriminator alone; we also require the session's
                # peer address, so that no other host can bring the session up or down with a
                # discriminator it guessed or saw (RFC 5881 §5's TTL 255 then keeps it to hosts
                # on the link; the session checks that next).
                return self._table_drop(source, DropReason.SOURCE_NOT_SESSION_PEER)
        else:
            # §6.8.6: Your Discriminator zero → select by source address and interface.
            found = self._by_key.get(source)
            if found is None:
                return self._table_drop(source, DropReason.NO_SESSION_FOR_PEER)
            key, session = source, found
        if multihop is not None and multihop != session.multihop:
            return self._table_drop(key, DropReason.WRONG_PORT)
        return self._keyed(key, session, session.receive_control(parsed, ttl, now))

    def receive_echo(self, data: bytes, now: float) -> list[KeyedEvent] | DropReason:
        """A looped-back echo payload; returns the owner's events, or why none owns it."""
        try:
            echo = decode_echo(data)
        except PacketDecodeError as err:
            self.drops[err.reason] = self.drops.get(err.reason, 0) + 1
            return err.reason
        entry = self._by_discriminator.get(echo.discriminator)
        if entry is None:
            self.drops[DropReason.ECHO_NOT_OURS] = self.drops.get(DropReason.ECHO_NOT_OURS, 0) + 1
            return DropReason.ECHO_NOT_OURS
        key, session = entry
        return self._keyed(key, session, session.receive_echo(data, now))

    # ------------------------------------------------------------------ timers and output

    def _touched(self, session: Session) -> None:
        discriminator = session.local_discriminator
        self._dirty.add(discriminator)
        deadline = session.next_timer()
        # Most touches (a received packet) leave the earliest deadline where it was: the heap
        # already holds an entry for it, so push only when it moved.
        if deadline is not None and self._queued.get(discriminator) != deadline:
            heapq.heappush(self._heap, (deadline, next(self._tiebreak), discriminator))
            self._queued[discriminator] = deadline
        if len(self._heap) > 4 * len(self._by_key) + 64:
            self._compact()

    def _compact(self) -> None:
        self._heap = []
        self._queued = {}
        for _key, session in self._by_discriminator.values():
            deadline = session.next_timer()
            if deadline is not None:
                self._heap.append((deadline, next(self._tiebreak), session.local_discriminator))
                self._queued[session.local_discriminator] = deadline
        heapq.heapify(self._heap)

    def _keyed(self, key: SessionKey, session: Session, events: list[Event]) -> list[KeyedEvent]:
        self._touched(session)
        return [KeyedEvent(key, event) for event in events]

    def _live_top(self) -> tuple[float, Session] | None:
        """The heap's earliest entry that still matches its session, dropping stale ones."""
        while self._heap:
            deadline, _, discriminator = self._heap[0]
            entry = self._by_discriminator.get(discriminator)
            if entry is not None and entry[1].next_timer() == deadline:
                return deadline, entry[1]
            heapq.heappop(self._heap)
        return None

    def next_timer(self) -> float | None:
        """The earliest deadline over all sessions: one asyncio timer serves the table."""
        top = self._live_top()
        return None if top is None else top[0]

    def handle_timer(self, now: float, *, detect: bool = True) -> list[KeyedEvent]:
        """Fire every session whose deadline is at or before `now`.

        With `detect=False` overdue detection timers stay pending (`Session.handle_timer`):
        `next_timer()` then stays at or before `now`, so the adapter calls again soon.
        """
        events: list[KeyedEvent] = []
        due: dict[int, Session] = {}
        while (top := self._live_top()) is not None and top[0] <= now:
            heapq.heappop(self._heap)
            self._queued.pop(top[1].local_discriminator, None)  # its entry is gone
            due[top[1].local_discriminator] = top[1]
        for session in due.values():
            key = self._by_discriminator[session.local_discriminator][0]
            events += self._keyed(key, session, session.handle_timer(now, detect=detect))
        self._purge_finished(list(due.values()))
        return events

    def datagrams_to_send(self, now: float) -> list[Outgoing]:
        """Everything due from the sessions touched since the last call."""
        out: list[Outgoing] = []
        dirty, self._dirty = self._dirty, set()
        for discriminator in sorted(dirty):
            entry = self._by_discriminator.get(discriminator)
            if entry is None:
                continue
            key, session = entry
            out += [Outgoing(key, data) for data in session.packets_to_send(now)]
            out += [Outgoing(key, data, echo=True) for data in session.echo_packets_to_send(now)]
            self._touched(session)
        self._dirty.clear()  # _touched re-marked them; nothing more is due until the next event
        return out
