"""The one asyncio driver of the gateway's roles (aioquic's connection and its adapter, STYLE §9).

Theory of operation. A role is a `Reconciler` (gateway/reconciler.py, re-exported here): a
sans-I/O object that is told what changed (`handle(change, now)`), what its requests returned
(`handle_result(request_id, result, now)`) and that a deadline it asked for has come
(`handle_timer(now)`); it says what to do (`commands()`: RPCs and writes, each carrying a request
id) and when it next wants the timer (`next_deadline()`). It never awaits, sleeps or reads a
clock: `now` is always an argument, in seconds of the driver's monotonic clock (the event loop's
`time()`), so batching, backoff, deferral and restart detection are plain code, tested on
virtual time (tests/gateway/virtual_time.py) with no asyncio at all.

`Driver` is the only I/O. It feeds the reconciler the changes of its sources (async iterables),
starts every command at once as its own task through the `execute` function it is given, feeds
each command's outcome back under the command's request id (a raised exception as `Failure`),
and between steps sleeps until the next change, result or deadline (`loop.call_at` semantics:
the deadline is on the loop's clock). Commands that must not overlap are ordered by the
reconciler itself: it issues the next one when the previous one's result has arrived. An error
raised by a source or by the reconciler itself ends `run` (after cancelling what it started).
"""

import asyncio
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from gateway.reconciler import Command, Failure, IdSequence, Reconciler

__all__ = ["Command", "Driver", "Failure", "IdSequence", "Reconciler", "queue_changes"]


ChangeT = TypeVar("ChangeT")
CommandT = TypeVar("CommandT", bound=Command)


async def queue_changes(queue: "asyncio.Queue[ChangeT]") -> AsyncIterator[ChangeT]:
    """An `asyncio.Queue` as a change source (the sources' `changes` queue)."""
    while True:
        yield await queue.get()


@dataclass(frozen=True)
class _Change(Generic[ChangeT]):
    change: ChangeT


@dataclass(frozen=True)
class _Result:
    request_id: int
    result: object


class Driver(Generic[ChangeT, CommandT]):
    """Runs one reconciler: its changes in, its commands out, its results back, its timer.

    `execute(command)` performs a command and returns its result (or raises). `put(change)`
    feeds a change from a callback, as the sources do from their iteration. `on_step` is
    called after each step (what tests and metrics synchronise on, instead of sleeping)."""

    def __init__(
        self,
        reconciler: Reconciler[ChangeT, CommandT],
        execute: Callable[[CommandT], Awaitable[object]],
        sources: Iterable[AsyncIterable[ChangeT]] = (),
        on_step: Callable[[], None] = lambda: None,
    ) -> None:
        self._reconciler = reconciler
        self._execute = execute
        self._sources = list(sources)
        self._on_step = on_step
        # Changes and results not yet handed to the reconciler, in arrival order.
        self._inbox: deque[_Change[ChangeT] | _Result] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._error: BaseException | None = None
        self.steps = 0  # passes of the loop (for tests and metrics)

    def put(self, change: ChangeT) -> None:
        self._inbox.append(_Change(change))
        self._wake_up()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Drive until `stop` is set (or the task is cancelled); then cancel what is running."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        feeders = [asyncio.create_task(self._feed(source)) for source in self._sources]
        stopped = asyncio.create_task(stop.wait())
        stopped.add_done_callback(lambda _: self._wake_up())
        try:
            while not stop.is_set():
                self._step(loop.time())
                if self._error is not None:
                    raise self._error
                if self._inbox:
                    continue
                deadline = self._reconciler.next_deadline()
                if deadline is not None and deadline <= loop.time():
                    continue
                # Sleep until a change or result arrives (`_wake_up`) or the deadline: one
                # future and at most one timer handle per sleep (a burst wakes the loop often).
                self._waiter = loop.create_future()
                timer = None if deadline is None else loop.call_at(deadline, self._wake_up)
                try:
                    await self._waiter
                finally:
                    self._waiter = None
                    if timer is not None:
                        timer.cancel()
        finally:
            tasks = [*feeders, stopped, *self._running]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _wake_up(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _step(self, now: float) -> None:
        """Hand over what arrived, fire the timer if due, issue the commands."""
        self.steps += 1
        reconciler = self._reconciler
        while self._inbox:
            item = self._inbox.popleft()
            if isinstance(item, _Result):
                reconciler.handle_result(item.request_id, item.result, now)
            else:
                reconciler.handle(item.change, now)
        deadline = reconciler.next_deadline()
        if deadline is not None and deadline <= now:
            reconciler.handle_timer(now)
        for command in reconciler.commands():
            task = asyncio.create_task(self._run_command(command))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        self._on_step()

    async def _run_command(self, command: CommandT) -> None:
        try:
            result: object = await self._execute(command)
        except Exception as err:  # every failure goes back to the reconciler, which decides
            result = Failure(err)
        self._inbox.append(_Result(command.request_id, result))
        self._wake_up()

    async def _feed(self, source: AsyncIterable[ChangeT]) -> None:
        try:
            async for change in source:
                self.put(change)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a broken source ends the run: nothing would see its changes
            self._error = err
            self._wake_up()
