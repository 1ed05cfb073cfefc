"""One watch mechanism for every service: snapshot, end-of-snapshot, changes, resume token.

Theory of operation
-------------------
A service records each change once, in its `ChangeLog`: an O(1) append of a `Pending` entry
whose message is built on first use, by a watch stream, then shared by every watcher. The code
that made the change builds nothing: BFD's packet path records a cheap view of the session and
moves on, because building messages there once delayed every session's packets long enough to
make more of them flap (services/bfd/service.py). Entry number n is the instance's n-th change
(counted from 0); a resume token is (instance id, number of the next change to send).

A `Watch*` RPC is `watch_stream`: in the service's owner task, one step opens a `Cursor` on the
log and captures the snapshot (so no change falls between the two); then the stream sends the
snapshot, the end-of-snapshot marker (`metallb.common.v1.EndOfSnapshot`), and the log's entries
from the cursor on, each response carrying the token of the position it leaves the stream at.

* Bounded memory, and no watcher slows anyone: the log holds at most `limit` entries. When a
  change would exceed it the oldest goes, even if a stream had not read it; that stream (a client
  that does not read) then gets a fresh snapshot on the same stream, marked
  WATCH_START_FELL_BEHIND, instead of the service queueing for it or waiting for it.
* Resuming: `retain` entries stay after every stream has read them, so a client that reconnects
  with the last token it received gets only the changes it missed (WATCH_START_RESUMED, an empty
  snapshot). A token of another instance (a restart) or older than what is kept gets a full
  snapshot, marked with the reason.
* Cheap streams: messages are built BUILD_CHUNK per loop turn and sent WATCH_BATCH per response
  (a stream write costs the server far more than an event); a lone change leaves at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from metallb.common.v1 import common_pb2

__all__ = [
    "BUILD_CHUNK",
    "WATCH_BATCH",
    "WATCH_LIMIT",
    "WATCH_RETAIN",
    "Batch",
    "ChangeLog",
    "Cursor",
    "Pending",
    "Subscription",
    "requested_token",
    "response",
    "watch_stream",
]

BUILD_CHUNK = 64  # messages one stream builds before letting the loop run (~1-3 ms of work)
WATCH_BATCH = 256  # events per Watch* response at most
WATCH_LIMIT = 100_000  # entries a log holds at most (for the slowest stream)
WATCH_RETAIN = 4_096  # entries kept after every stream read them, for resuming

Start = common_pb2.WatchStart
T = TypeVar("T")
S = TypeVar("S")
R = TypeVar("R")


class Pending(Generic[T]):
    """A change recorded cheaply; its message is built on first use, then shared."""

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
    """One stream's position in the log: the sequence number of the next entry it reads."""

    position: int
    closed: bool = False


class WatcherOverflowError(Exception):
    """Entries the stream had not read were dropped; it needs a fresh snapshot."""


@dataclass(frozen=True)
class Subscription(Generic[S]):
    """What a stream starts from: the snapshot (empty when resumed), its cursor, and how."""

    snapshot: Sequence[S]
    cursor: Cursor
    start: common_pb2.WatchStart


@dataclass(frozen=True)
class Batch(Generic[T]):
    """One Watch* response: events, and from the end of the snapshot on, the marker and token."""

    events: list[T]
    end_of_snapshot: common_pb2.EndOfSnapshot | None = None
    resume_token: common_pb2.ResumeToken | None = None


class ChangeLog(Generic[T]):
    """The changes of one service instance, read by every watch stream; see the module doc."""

    def __init__(self, instance_id: str, limit: int = WATCH_LIMIT, retain: int = WATCH_RETAIN):
        self.instance_id = instance_id
        self.limit = limit
        self.retain = min(retain, limit)
        self._items: list[Pending[T] | None] = []
        self._head = 0  # index in _items of the oldest entry kept
        self.first = 0  # its sequence number
        self.cursors: set[Cursor] = set()
        self._waiting: list[asyncio.Future[None]] = []  # one per stream waiting for entries
        self._closed = False

    def __bool__(self) -> bool:
        """Whether a stream is open."""
        return bool(self.cursors)

    def __len__(self) -> int:
        return len(self._items) - self._head

    @property
    def end(self) -> int:
        """The sequence number the next change gets."""
        return self.first + len(self)

    def append(self, entry: Pending[T]) -> None:
        """O(1) (amortised); wakes the waiting streams, once until they wait again."""
        self._items.append(entry)
        if len(self) > self.limit or (not self.cursors and len(self) > self.retain):
            self._drop_oldest(1)
        if self._waiting:
            waiting, self._waiting = self._waiting, []
            for future in waiting:
                if not future.done():
                    future.set_result(None)

    def record(self, message: T) -> None:
        """Append a message built already."""
        self.append(Pending(message=message))

    def _drop_oldest(self, count: int) -> None:
        for i in range(self._head, self._head + count):
            self._items[i] = None  # the entry (and its message) can go now
        self._head += count
        self.first += count
        if self._head > 1024 and self._head * 2 > len(self._items):
            del self._items[: self._head]  # amortised: each entry is moved at most once
            self._head = 0

    def token(self, position: int) -> common_pb2.ResumeToken:
        return common_pb2.ResumeToken(instance_id=self.instance_id, sequence=position)

    def open(self, token: common_pb2.ResumeToken | None) -> tuple[Cursor, common_pb2.WatchStart]:
        """A cursor after `token` if the changes since it are all kept, else at the end."""
        if token is None:
            start = Start.WATCH_START_SNAPSHOT
        elif token.instance_id != self.instance_id:
            start = Start.WATCH_START_OTHER_INSTANCE
        elif not self.first <= token.sequence <= self.end:
            start = Start.WATCH_START_TOKEN_EXPIRED
        else:
            start = Start.WATCH_START_RESUMED
        position = (
            token.sequence if token is not None and start == Start.WATCH_START_RESUMED else self.end
        )
        cursor = Cursor(position, closed=self._closed)
        self.cursors.add(cursor)
        return cursor, start

    def subscribe(
        self, token: common_pb2.ResumeToken | None, capture: Callable[[], Sequence[S]]
    ) -> Subscription[S]:
        """Run in the service's owner task: the cursor and the snapshot are one atomic step."""
        cursor, start = self.open(token)
        try:
            snapshot = () if start == Start.WATCH_START_RESUMED else capture()
        except BaseException:
            self.unsubscribe(cursor)
            raise
        return Subscription(snapshot, cursor, start)

    def unsubscribe(self, cursor: Cursor) -> None:
        self.cursors.discard(cursor)
        self._trim()

    def close_all(self) -> None:
        """The service is stopping: every stream ends after what it is sending."""
        self._closed = True
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
        """Forget what every stream has read, but the last `retain` entries (for resuming)."""
        oldest = min((c.position for c in self.cursors), default=self.end)
        keep_from = min(oldest, self.end - self.retain)
        if keep_from > self.first:
            self._drop_oldest(keep_from - self.first)


class _WatchRequest(Protocol):
    @property
    def resume_token(self) -> common_pb2.ResumeToken: ...

    def HasField(self, field_name: str) -> bool: ...  # noqa: N802 - protobuf's name


def requested_token(request: _WatchRequest) -> common_pb2.ResumeToken | None:
    """The request's resume token, None when absent."""
    return request.resume_token if request.HasField("resume_token") else None


async def watch_stream(
    log: ChangeLog[T],
    subscribe: Callable[[common_pb2.ResumeToken | None], Awaitable[Subscription[S]]],
    snapshot_message: Callable[[S], T],
    token: common_pb2.ResumeToken | None,
) -> AsyncGenerator[Batch[T], None]:
    """The body of every Watch* RPC: snapshot, marker, then every change, in batches.

    `subscribe(token)` must run `log.subscribe` in the service's owner task. Snapshot items are
    turned into messages here, BUILD_CHUNK at a time between loop turns, as are log entries.
    """
    subscription = await _subscribed(log, subscribe(token))
    start = subscription.start
    while True:
        cursor = subscription.cursor
        try:
            snapshot = subscription.snapshot
            for first in range(0, len(snapshot), WATCH_BATCH):
                events: list[T] = []
                for item in snapshot[first : first + WATCH_BATCH]:
                    if events and len(events) % BUILD_CHUNK == 0:
                        await asyncio.sleep(0)
                    events.append(snapshot_message(item))
                yield Batch(events)
            marker = common_pb2.EndOfSnapshot(start=start)
            yield Batch([], marker, log.token(cursor.position))
            while True:
                entries = await log.read(cursor, WATCH_BATCH)
                if not entries:
                    return  # the service is stopping
                events = []
                built = 0
                for entry in entries:
                    if not entry.built:
                        if built == BUILD_CHUNK:
                            await asyncio.sleep(0)
                            built = 0
                        built += 1
                    events.append(entry.message())
                yield Batch(events, None, log.token(cursor.position))
        except WatcherOverflowError:
            pass  # start over with a fresh snapshot, below
        finally:
            log.unsubscribe(cursor)
        subscription = await _subscribed(log, subscribe(None))
        start = Start.WATCH_START_FELL_BEHIND


async def _subscribed(log: ChangeLog[T], pending: Awaitable[Subscription[S]]) -> Subscription[S]:
    """`pending`'s subscription; if the stream is cancelled meanwhile (the client went away), its
    cursor is released when it arrives instead of pinning the log's entries for ever."""
    task = asyncio.ensure_future(pending)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:

        def release(done: asyncio.Future[Subscription[S]]) -> None:
            if not done.cancelled() and done.exception() is None:
                log.unsubscribe(done.result().cursor)

        task.add_done_callback(release)
        raise


def response(make: Callable[..., R], batch: Batch[T]) -> R:
    """A service's Watch* response (fields `events`, `end_of_snapshot`, `resume_token`)."""
    return make(
        events=batch.events,
        end_of_snapshot=batch.end_of_snapshot,
        resume_token=batch.resume_token,
    )
