"""WatchSessions without slowing the packet path: one shared log, messages built by the streams.

Theory of operation
-------------------
A state change is found by the speaker in the middle of handling packets and timers for every
session; whatever it costs there delays the next packets of all the others. Building its
`SessionEvent` costs tens of microseconds (hundreds on a busy machine), so when a loop stall made
a few hundred sessions flap together, a watcher connected meant tens to hundreds of milliseconds
more without sending, which made more sessions flap: a storm that fed itself. So:

* the packet path only records what a watcher must see — a `Pending` entry: the kind, the
  session's configuration message (cached per session), a `convert.SessionView` (plain
  attribute reads) and the transition — and appends it to ONE `WatchLog` shared by every
  watcher: O(1) per change whatever the number of watchers, and at most one wake-up of the
  waiting streams per loop iteration;
* each watch stream reads the log from its own cursor and builds the messages itself, at most
  `BUILD_CHUNK` per loop turn, so a burst becomes a sequence of short steps between which the
  loop keeps handling packets. An entry's message is built once and shared by all watchers;
* a watcher that falls `limit` entries behind (a client that does not read) loses its place
  and gets RESOURCE_EXHAUSTED ("watch again"); the log never holds more than `limit` entries,
  so a stuck client costs bounded memory and no work at all on the packet path.

Every change is kept, in order (no coalescing of transitions: a consumer counting flaps sees
each one); what is batched is the waking and the writing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from metallb_rules.errors import ResourceExhaustedError

__all__ = ["BUILD_CHUNK", "WATCH_BATCH", "Cursor", "Pending", "WatchLog", "batched_stream"]

BUILD_CHUNK = 64  # messages one stream builds before letting the loop run (~1-3 ms of work)
WATCH_BATCH = 256  # events per WatchSessions message at most

T = TypeVar("T")
S = TypeVar("S")


class Pending(Generic[T]):
    """A watch event recorded cheaply; its message is built on first use, then shared."""

    __slots__ = ("_build", "_message")

    def __init__(self, build: Callable[[], T] | None = None, message: T | None = None) -> None:
        self._build = build
        self._message = message

    @property
    def built(self) -> bool:
        return self._message is not None

    def message(self) -> T:
        if self._message is None:
            assert self._build is not None
            self._message = self._build()
            self._build = None  # and what it captured
        return self._message


@dataclass(eq=False)
class Cursor:
    """One watcher's position in the log: the sequence number of the next entry it reads."""

    position: int
    closed: bool = False


class WatcherOverflowError(Exception):
    """The watcher fell more than `limit` entries behind; it must watch again."""


class WatchLog(Generic[T]):
    """The entries every watcher reads; see the module docstring."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: list[Pending[T] | None] = []
        self._head = 0  # index in _items of the oldest entry kept
        self.first = 0  # its sequence number
        self.cursors: set[Cursor] = set()
        self._waiting: list[asyncio.Future[None]] = []  # one per stream waiting for entries

    def __bool__(self) -> bool:
        return bool(self.cursors)

    def __len__(self) -> int:
        return len(self._items) - self._head

    @property
    def end(self) -> int:
        return self.first + len(self)

    def append(self, entry: Pending[T]) -> None:
        """O(1) (amortised); wakes the waiting streams, once until they wait again."""
        if not self.cursors:
            return
        self._items.append(entry)
        if len(self) > self.limit:
            self._drop_oldest(1)
        if self._waiting:
            waiting, self._waiting = self._waiting, []
            for future in waiting:
                if not future.done():
                    future.set_result(None)

    def _drop_oldest(self, count: int) -> None:
        for i in range(self._head, self._head + count):
            self._items[i] = None  # the entry (and its message) can go now
        self._head += count
        self.first += count
        if self._head > 1024 and self._head * 2 > len(self._items):
            del self._items[: self._head]  # amortised: each entry is moved at most once
            self._head = 0

    def subscribe(self) -> Cursor:
        cursor = Cursor(self.end)
        self.cursors.add(cursor)
        return cursor

    def unsubscribe(self, cursor: Cursor) -> None:
        self.cursors.discard(cursor)
        self._trim()

    def close_all(self) -> None:
        for cursor in self.cursors:
            cursor.closed = True
        waiting, self._waiting = self._waiting, []
        for future in waiting:
            if not future.done():
                future.set_result(None)

    async def read(self, cursor: Cursor, most: int) -> list[Pending[T]]:
        """The next entries for `cursor`, waiting for one; [] once the log is closed.

        Raises `WatcherOverflowError` if entries the cursor had not read were dropped.
        """
        while cursor.position >= self.end and not cursor.closed:
            # A future per waiting stream: cancelling one stream must not wake the others.
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append(future)
            try:
                await future
            finally:
                if not future.done():
                    future.cancel()
                    self._waiting = [f for f in self._waiting if f is not future]
        if cursor.closed:
            return []
        if cursor.position < self.first:
            raise WatcherOverflowError
        start = self._head + cursor.position - self.first
        taken = [entry for entry in self._items[start : start + most] if entry is not None]
        cursor.position += len(taken)
        self._trim()
        return taken

    def _trim(self) -> None:
        """Forget the entries every watcher has read: memory follows the slowest backlog."""
        oldest = min((c.position for c in self.cursors), default=self.end)
        if oldest > self.first:
            self._drop_oldest(oldest - self.first)


async def batched_stream(
    snapshot: Sequence[S],
    snapshot_message: Callable[[S], T],
    end_of_snapshot: T,
    log: WatchLog[T],
    cursor: Cursor,
) -> AsyncGenerator[list[T], None]:
    """The body of a Watch RPC: the snapshot, the marker, then every entry, in batches.

    Each gRPC stream write costs a round trip through grpc's completion-queue thread, so every
    entry already logged goes in the same message (up to WATCH_BATCH); a lone Down still leaves
    at once. Messages are built here, BUILD_CHUNK at a time between loop turns, never in the
    callback that found the change. `snapshot` was captured atomically with `cursor`.
    """
    try:
        for start in range(0, len(snapshot), WATCH_BATCH):
            batch: list[T] = []
            for item in snapshot[start : start + WATCH_BATCH]:
                if batch and len(batch) % BUILD_CHUNK == 0:
                    await asyncio.sleep(0)
                batch.append(snapshot_message(item))
            yield batch
        yield [end_of_snapshot]
        while True:
            try:
                entries = await log.read(cursor, WATCH_BATCH)
            except WatcherOverflowError:
                raise ResourceExhaustedError(
                    f"watcher fell more than {log.limit} events behind; watch again"
                ) from None
            if not entries:
                return  # the service is stopping
            batch = []
            built = 0
            for entry in entries:
                if not entry.built:
                    if built == BUILD_CHUNK:
                        await asyncio.sleep(0)
                        built = 0
                    built += 1
                batch.append(entry.message())
            yield batch
    finally:
        log.unsubscribe(cursor)
