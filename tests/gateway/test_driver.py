"""The shared driver (gateway/driver.py) and the virtual-time harness, on a small reconciler:
commands run and their results come back under their request ids, an exception comes back as a
`Failure`, the timer fires at the deadline on the loop's clock, and stopping or cancelling leaves
nothing running (`arun` fails on a leaked task)."""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from gateway.driver import Driver, Failure, IdSequence
from tests.gateway.virtual_time import Advance, Change, Check, Expect, Reply, VirtualTime, play

RETRY = 0.1


@dataclass(frozen=True)
class Do:
    request_id: int
    what: str


@dataclass
class Retrier:
    """Issues `Do(what)` for each change; a failed one is issued again RETRY seconds later."""

    ids: IdSequence = field(default_factory=IdSequence)
    pending: list[Do] = field(default_factory=list)
    in_flight: dict[int, str] = field(default_factory=dict)
    done: list[tuple[str, object]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    retry: list[tuple[float, str]] = field(default_factory=list)
    timers: list[float] = field(default_factory=list)
    on_result: Callable[[], None] = lambda: None

    def handle(self, change: str, now: float) -> None:
        self.pending.append(Do(self.ids(), change))

    def handle_result(self, request_id: int, result: object, now: float) -> None:
        what = self.in_flight.pop(request_id)
        if isinstance(result, Failure):
            self.failed.append((what, type(result.error).__name__))
            self.retry.append((now + RETRY, what))
        else:
            self.done.append((what, result))
        self.on_result()

    def commands(self) -> Iterable[Do]:
        out, self.pending = self.pending, []
        for command in out:
            self.in_flight[command.request_id] = command.what
        return out

    def next_deadline(self) -> float | None:
        return min((at for at, _ in self.retry), default=None)

    def handle_timer(self, now: float) -> None:
        self.timers.append(now)
        due = [what for at, what in self.retry if at <= now]
        self.retry = [(at, what) for at, what in self.retry if at > now]
        for what in due:
            self.pending.append(Do(self.ids(), what))


async def changes(*items: str) -> AsyncIterator[str]:
    for item in items:
        yield item


async def run_until(
    driver: Driver[Any, Any], reconciler: Retrier, predicate: Callable[[], bool]
) -> None:
    """Run the driver until `predicate` holds after a result was handled."""
    stop = asyncio.Event()
    reconciler.on_result = lambda: stop.set() if predicate() else None
    async with asyncio.timeout(5):
        await driver.run(stop)


def test_commands_run_and_their_results_come_back(arun: Callable[..., Any]) -> None:
    async def main() -> None:
        reconciler = Retrier()
        executed: list[Do] = []

        async def execute(command: Do) -> str:
            executed.append(command)
            return command.what.upper()

        driver = Driver(reconciler, execute, [changes("a", "b")])
        await run_until(driver, reconciler, lambda: len(reconciler.done) == 2)
        assert sorted(reconciler.done) == [("a", "A"), ("b", "B")]
        assert sorted(c.what for c in executed) == ["a", "b"]
        assert len({c.request_id for c in executed}) == 2

    arun(main())


def test_an_exception_comes_back_as_a_failure_and_the_retry_fires_on_the_loop_clock(
    arun: Callable[..., Any],
) -> None:
    async def main() -> None:
        reconciler = Retrier()
        calls = 0

        async def execute(command: Do) -> str:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise ConnectionError("service down")
            return "ok"

        loop = asyncio.get_running_loop()
        started = loop.time()
        driver = Driver(reconciler, execute)
        driver.put("x")
        await run_until(driver, reconciler, lambda: bool(reconciler.done))
        assert reconciler.failed == [("x", "ConnectionError")]
        assert reconciler.done == [("x", "ok")]
        # The timer fired once, not before its deadline (RETRY after the failure).
        assert len(reconciler.timers) == 1
        assert reconciler.timers[0] >= started + RETRY

    arun(main())


def test_stop_cancels_running_commands_and_sources(arun: Callable[..., Any]) -> None:
    async def main() -> None:
        reconciler = Retrier()
        started = asyncio.Event()
        cancelled = asyncio.Event()

        async def execute(command: Do) -> str:
            started.set()
            try:
                await asyncio.Event().wait()  # never answers
            except asyncio.CancelledError:
                cancelled.set()
                raise
            return ""

        async def endless() -> AsyncIterator[str]:
            yield "x"
            await asyncio.Event().wait()
            yield "never"

        stop = asyncio.Event()
        task = asyncio.create_task(Driver(reconciler, execute, [endless()]).run(stop))
        await started.wait()
        stop.set()
        await task
        assert cancelled.is_set()
        assert reconciler.in_flight  # never answered, and nothing leaked (arun checks)

    arun(main())


def test_cancelling_run_cancels_what_it_started(arun: Callable[..., Any]) -> None:
    async def main() -> None:
        started = asyncio.Event()

        async def execute(command: Do) -> str:
            started.set()
            await asyncio.Event().wait()
            return ""

        driver = Driver(Retrier(), execute)
        driver.put("x")
        task = asyncio.create_task(driver.run())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    arun(main())


def test_a_broken_source_ends_the_run(arun: Callable[..., Any]) -> None:
    async def main() -> None:
        async def broken() -> AsyncIterator[str]:
            yield "x"
            raise RuntimeError("watch lost")

        async def execute(command: Do) -> str:
            return ""

        with pytest.raises(RuntimeError, match="watch lost"):
            await Driver(Retrier(), execute, [broken()]).run()

    arun(main())


def test_the_same_reconciler_on_virtual_time() -> None:
    reconciler = Retrier()
    vt = VirtualTime(reconciler, lambda c: ("do", c.what))
    play(
        vt,
        [
            Change("a"),
            Expect(("do", "a")),
            Reply("do", Failure(ConnectionError())),
            Expect(),
            Advance(RETRY - 0.01),
            Expect(),
            Advance(0.01),
            Expect(("do", "a")),
            Check(lambda: reconciler.timers == [pytest.approx(RETRY)]),
            Reply("do", "ok"),
            Check(lambda: reconciler.done == [("a", "ok")]),
        ],
    )
