"""Watch streams shared by every service: a snapshot, an end-of-snapshot marker, then changes.

A `Watcher` is one subscriber's bounded queue; a subscriber more than `limit` events behind is
dropped with RESOURCE_EXHAUSTED and must watch again (it then gets a fresh snapshot), so a slow
client can never grow a service's memory without bound. `WatchHub` holds the subscribers of one
service; `stream()` is the body of every `Watch*` RPC.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Generic, TypeVar

from metallb_rules.errors import ResourceExhaustedError

T = TypeVar("T")

WATCH_QUEUE_LIMIT = 100_000


class Watcher(Generic[T]):
    def __init__(self, limit: int = WATCH_QUEUE_LIMIT) -> None:
        self.queue: asyncio.Queue[T | None] = asyncio.Queue()
        self.overflowed = False
        self._limit = limit

    def push(self, event: T) -> None:
        if self.overflowed:
            return
        if self.queue.qsize() >= self._limit:
            self.overflowed = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(event)

    def close(self) -> None:
        self.queue.put_nowait(None)


class WatchHub(Generic[T]):
    """The subscribers of one service."""

    def __init__(self, limit: int = WATCH_QUEUE_LIMIT) -> None:
        self.watchers: set[Watcher[T]] = set()
        self._limit = limit

    def __bool__(self) -> bool:
        return bool(self.watchers)

    def subscribe(self) -> Watcher[T]:
        watcher: Watcher[T] = Watcher(self._limit)
        self.watchers.add(watcher)
        return watcher

    def unsubscribe(self, watcher: Watcher[T]) -> None:
        self.watchers.discard(watcher)

    def publish(self, event: T) -> None:
        for watcher in self.watchers:
            watcher.push(event)

    def close_all(self) -> None:
        for watcher in self.watchers:
            watcher.close()


async def stream(
    snapshot: Iterable[T],
    end_of_snapshot: T,
    watcher: Watcher[T],
    unsubscribe: Callable[[Watcher[T]], None],
) -> AsyncIterator[T]:
    """Yield the snapshot, the marker, then every change until the service closes the stream."""
    try:
        for event in snapshot:
            yield event
        yield end_of_snapshot
        while True:
            item = await watcher.queue.get()
            if item is None:
                if watcher.overflowed:
                    raise ResourceExhaustedError(
                        f"watcher fell more than {watcher._limit} events behind; watch again"
                    )
                return
            yield item
    finally:
        with contextlib.suppress(RuntimeError):
            unsubscribe(watcher)
