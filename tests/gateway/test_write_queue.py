"""WriteQueue: keyed writes (latest wins, never overlapping per key, retried), then events."""

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from gateway.controller.writes import WriteOutcome, WriteQueue


def test_latest_write_per_key_wins_and_writes_of_a_key_never_overlap(
    arun: Callable[..., Any],
) -> None:
    done: list[tuple[str, int]] = []
    running: set[str] = set()
    overlaps: list[str] = []
    lock = threading.Lock()

    def write(key: str, value: int) -> Callable[[], None]:
        def run() -> None:
            with lock:
                if key in running:
                    overlaps.append(key)
                running.add(key)
            time.sleep(0.01)  # a write that takes time (a thread blocked in HTTP), so overlaps show
            with lock:
                running.discard(key)
                done.append((key, value))

        return run

    async def scenario() -> None:
        async with WriteQueue(concurrency=4) as queue:
            for value in range(5):
                for key in ("a", "b", "c"):
                    queue.put(key, write(key, value))
                await asyncio.sleep(0.004)  # new values arrive while writes are in flight
            await queue.flush()
            assert not overlaps
            for key in ("a", "b", "c"):
                values = [v for k, v in done if k == key]
                assert values == sorted(values)  # in order
                assert values[-1] == 4  # the latest one is always made
                assert len(values) < 5  # some were replaced before they started

    arun(scenario())


def test_failed_write_is_retried_unless_a_newer_one_replaced_it(
    arun: Callable[..., Any],
) -> None:
    attempts: list[str] = []

    def flaky(name: str, failures: int) -> Callable[[], None]:
        def run() -> None:
            attempts.append(name)
            if attempts.count(name) <= failures:
                raise OSError("connection refused")

        return run

    async def scenario() -> None:
        failed = asyncio.Event()

        def report(outcome: WriteOutcome) -> None:
            if outcome.error is not None:
                failed.set()

        async with WriteQueue(concurrency=2, report=report) as queue:
            queue.put("svc", flaky("first", failures=2))
            await queue.flush()  # waits through the two retries (0.2 s, then 0.4 s)
            assert attempts == ["first", "first", "first"]
            assert queue.failures == 2
            attempts.clear()
            queue.put("svc", flaky("old", failures=10))
            failed.clear()
            await failed.wait()  # it failed once and waits to be retried
            queue.put("svc", flaky("new", failures=0))
            await queue.flush()  # includes the old write's retry timer, which drops it
            assert attempts == ["old", "new"]

    arun(scenario())


def test_events_wait_for_keyed_writes_and_are_bounded(arun: Callable[..., Any]) -> None:
    order: list[str] = []

    def record(name: str, pause: float = 0.0) -> Callable[[], None]:
        def run() -> None:
            time.sleep(pause)  # a slow write (the write threads are real threads)
            order.append(name)

        return run

    async def scenario() -> None:
        async with WriteQueue(concurrency=2, max_events=3) as queue:
            for i in range(5):
                queue.event(record(f"event{i}"))
            for i in range(3):
                queue.put(f"svc{i}", record(f"status{i}", pause=0.01))
            await queue.flush()
        assert queue.dropped_events == 2
        # Status first (it makes traffic flow), then the events that fitted, in order.
        assert sorted(order[:3]) == ["status0", "status1", "status2"]
        assert order[3:] == ["event0", "event1", "event2"]

    arun(scenario())


def test_events_are_written_one_at_a_time(arun: Callable[..., Any]) -> None:
    """As client-go's recorder: however many writers, one event at a time, in order."""
    written: list[int] = []
    running = 0
    most = 0
    lock = threading.Lock()

    def event(n: int) -> Callable[[], None]:
        def run() -> None:
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
            time.sleep(0.005)  # a write that takes time, so concurrent ones overlap
            with lock:
                running -= 1
                written.append(n)

        return run

    async def scenario() -> None:
        async with WriteQueue(concurrency=4) as queue:
            for n in range(12):
                queue.event(event(n))
            await queue.flush()

    arun(scenario())
    assert written == list(range(12))
    assert most == 1


def test_many_writes_go_in_batches_and_a_failure_is_retried_alone(
    arun: Callable[..., Any],
) -> None:
    """With many writes waiting, threads take several at once; one failing write in such a
    batch is retried by itself, the others are made once."""
    attempts: dict[str, int] = {}
    lock = threading.Lock()

    def write(key: str) -> Callable[[], None]:
        def run() -> None:
            with lock:
                attempts[key] = attempts.get(key, 0) + 1
                first = attempts[key] == 1
            if key in ("k7", "k33") and first:
                raise OSError("connection reset")

        return run

    async def scenario() -> None:
        async with WriteQueue(concurrency=2) as queue:
            for n in range(64):
                queue.put(f"k{n}", write(f"k{n}"))
            await queue.flush()
            assert queue.failures == 2

    arun(scenario())
    assert attempts == {f"k{n}": 2 if n in (7, 33) else 1 for n in range(64)}


def test_a_write_that_fails_for_good_is_dropped_and_holds_nothing_up(
    arun: Callable[..., Any],
) -> None:
    """Issue 14: one status write the API refuses (422), or a full disk in folder mode, was
    retried forever and every full pass waited for it in `flush()`, so allocation stalled."""
    from kubernetes.client.exceptions import ApiException

    attempts: list[str] = []

    def refused(name: str, error: Exception) -> Callable[[], None]:
        def run() -> None:
            attempts.append(name)
            raise error

        return run

    def fine(name: str) -> Callable[[], None]:
        return lambda: attempts.append(name)

    async def scenario() -> None:
        async with WriteQueue(concurrency=2) as queue:
            queue.put("svc-a", refused("a", ApiException(status=422, reason="Unprocessable")))
            queue.put("svc-b", refused("b", OSError(28, "No space left on device")))
            queue.put("svc-c", fine("c"))
            await asyncio.wait_for(queue.flush(), 30)
            assert attempts.count("a") == attempts.count("b") == 3
            assert "c" in attempts
            assert queue.dropped_writes == 2
            queue.put("svc-a", fine("a-later"))  # the key is usable again
            await asyncio.wait_for(queue.flush(), 30)
            assert attempts[-1] == "a-later"

    arun(scenario())


def test_conflicts_and_throttling_are_retried_not_dropped(arun: Callable[..., Any]) -> None:
    from kubernetes.client.exceptions import ApiException

    attempts: list[int] = []

    def throttled() -> None:
        attempts.append(1)
        if len(attempts) <= 4:
            raise ApiException(status=429 if len(attempts) % 2 else 409)

    async def scenario() -> None:
        async with WriteQueue(concurrency=1) as queue:
            queue.put("svc", throttled)
            await asyncio.wait_for(queue.flush(), 30)
            assert len(attempts) == 5 and queue.dropped_writes == 0

    arun(scenario())


def test_each_failed_try_a_drop_and_the_success_after_failures_are_reported(
    arun: Callable[..., Any],
) -> None:
    """What the controller reports from (tests/gateway/test_write_failures.py): every failure,
    the drop, the first success after failures (a success that follows none costs nothing);
    an API error's text is its status, reason and message, one bounded line."""
    from kubernetes.client.exceptions import ApiException

    reports: list[WriteOutcome] = []
    refusal = ApiException(status=422, reason="Unprocessable Entity")
    refusal.body = json.dumps({"kind": "Status", "message": "x" * 5000})

    def refused() -> None:
        raise refusal

    async def scenario() -> None:
        async with WriteQueue(concurrency=1, report=reports.append) as queue:
            queue.put("ok", lambda: None)
            queue.put("svc", refused)
            await asyncio.wait_for(queue.flush(), 30)
            queue.put("svc", lambda: None)
            await asyncio.wait_for(queue.flush(), 30)

    arun(scenario())
    assert [(r.key, r.failures, r.dropped, r.error is None) for r in reports] == [
        ("svc", 1, False, False),
        ("svc", 2, False, False),
        ("svc", 3, False, False),
        ("svc", 3, True, False),
        ("svc", 0, False, True),
    ]
    text = reports[0].error
    assert text is not None and text.startswith("422 Unprocessable Entity: xxx")
    assert "\n" not in text and len(text) < 400


def test_a_flush_with_a_timeout_abandons_writes_that_keep_failing(
    arun: Callable[..., Any],
) -> None:
    """Issue 14: an API answering 500 to one object's status for good is retried forever (a
    retry could cure a 500), and a full pass's flush waited for it forever. With a timeout,
    the flush abandons it (reported as dropped, never tried again: a stale write landing
    after the pass would overwrite what the pass decides); other writes are made."""
    from kubernetes.client.exceptions import ApiException

    attempts: list[str] = []
    reports: list[WriteOutcome] = []

    def broken() -> None:
        attempts.append("broken")
        raise ApiException(status=500, reason="Internal Server Error")

    async def scenario() -> None:
        async with WriteQueue(concurrency=2, report=reports.append) as queue:
            queue.put("broken", broken)
            queue.put("fine", lambda: attempts.append("fine"))
            loop = asyncio.get_running_loop()
            started = loop.time()
            await asyncio.wait_for(queue.flush(timeout=1.0), 30)
            assert loop.time() - started < 10
            tries = attempts.count("broken")
            assert tries >= 2  # it was retried until the timeout
            assert queue.dropped_writes == 1
            assert [(r.key, r.dropped) for r in reports][-1] == ("broken", True)
            assert "fine" in attempts
            # Nothing is left to retry it: a second flush is immediate and tries nothing.
            await asyncio.wait_for(queue.flush(), 5)
            assert attempts.count("broken") == tries

    arun(scenario())
