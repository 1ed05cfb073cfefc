"""The watch mechanism every service shares (metallb_runtime/watch.py), without gRPC.

Snapshot, end-of-snapshot marker, then changes in order; a resume token gets only what was
missed; a token of another instance or one too old gets a full snapshot saying why; a reader
that does not read costs bounded memory and gets a fresh snapshot when it reads again; entries
are shared between streams and built by them a chunk per loop turn; a stop ends the streams.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from typing import Any

from metallb.common.v1 import common_pb2
from metallb_runtime.watch import (
    BUILD_CHUNK,
    WATCH_BATCH,
    Batch,
    ChangeLog,
    Pending,
    Subscription,
    watch_stream,
)

Start = common_pb2.WatchStart


class Model:
    """A service in miniature: a set of numbers, each change logged (as in the real ones)."""

    def __init__(self, limit: int = 1000, retain: int = 100, instance: str = "a") -> None:
        self.items: list[int] = []
        self.log: ChangeLog[int] = ChangeLog(instance, limit=limit, retain=retain)

    def add(self, *values: int) -> None:
        for value in values:
            self.items.append(value)
            self.log.append(Pending(message=value))

    async def subscribe(self, token: common_pb2.ResumeToken | None) -> Subscription[int]:
        # A real service runs this in its owner task; here nothing else runs meanwhile.
        return self.log.subscribe(token, lambda: list(self.items))

    def stream(self, token: common_pb2.ResumeToken | None = None) -> AsyncGenerator[Batch[int]]:
        return watch_stream(self.log, self.subscribe, lambda x: -x, token)


async def until_marker(stream: AsyncGenerator[Batch[int]]) -> tuple[list[int], Batch[int]]:
    """The snapshot's events (snapshot items come as -x) and the marker's batch."""
    events: list[int] = []
    while True:
        batch = await anext(stream)
        if batch.end_of_snapshot is not None:
            assert not batch.events
            return events, batch
        assert batch.resume_token is None  # no token in the middle of a snapshot
        events += batch.events


def test_snapshot_then_marker_then_changes_in_order(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        model = Model()
        model.add(1, 2)
        stream = model.stream()
        snapshot, marker = await until_marker(stream)
        assert snapshot == [-1, -2]
        assert marker.end_of_snapshot is not None
        assert marker.end_of_snapshot.start == Start.WATCH_START_SNAPSHOT
        assert marker.resume_token == common_pb2.ResumeToken(instance_id="a", sequence=2)
        model.add(3)
        model.add(4, 5)
        batch = await anext(stream)
        assert batch.events == [3, 4, 5]  # what accumulated travels in one response
        assert batch.resume_token == common_pb2.ResumeToken(instance_id="a", sequence=5)
        await stream.aclose()
        assert not model.log.cursors

    arun(scenario())


def test_resume_gets_only_what_was_missed(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        model = Model()
        model.add(1, 2)
        first = model.stream()
        await until_marker(first)
        model.add(3)
        token = (await anext(first)).resume_token
        await first.aclose()  # the client goes away ...
        model.add(4, 5)  # ... misses these ...
        second = model.stream(token)  # ... and comes back
        snapshot, marker = await until_marker(second)
        assert snapshot == []
        assert marker.end_of_snapshot is not None
        assert marker.end_of_snapshot.start == Start.WATCH_START_RESUMED
        assert (await anext(second)).events == [4, 5]
        await second.aclose()

    arun(scenario())


def test_resume_with_nothing_missed_waits_for_the_next_change(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        model = Model()
        model.add(1)
        first = model.stream()
        _, marker = await until_marker(first)
        await first.aclose()
        second = model.stream(marker.resume_token)
        _, again = await until_marker(second)
        assert again.end_of_snapshot is not None
        assert again.end_of_snapshot.start == Start.WATCH_START_RESUMED
        assert again.resume_token == marker.resume_token
        model.add(2)
        assert (await anext(second)).events == [2]
        await second.aclose()

    arun(scenario())


def test_foreign_too_old_or_future_token_gets_a_full_snapshot(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        model = Model(retain=3)
        model.add(1, 2, 3, 4, 5, 6)  # nobody watches: only the last 3 changes are kept
        assert len(model.log) == 3
        cases = [
            (common_pb2.ResumeToken(instance_id="b", sequence=6), Start.WATCH_START_OTHER_INSTANCE),
            (common_pb2.ResumeToken(instance_id="a", sequence=2), Start.WATCH_START_TOKEN_EXPIRED),
            (common_pb2.ResumeToken(instance_id="a", sequence=7), Start.WATCH_START_TOKEN_EXPIRED),
        ]
        for token, start in cases:
            stream = model.stream(token)
            snapshot, marker = await until_marker(stream)
            assert snapshot == [-1, -2, -3, -4, -5, -6], token
            assert marker.end_of_snapshot is not None
            assert marker.end_of_snapshot.start == start, token
            assert marker.resume_token == common_pb2.ResumeToken(instance_id="a", sequence=6)
            await stream.aclose()
        # The oldest change still kept is a valid place to resume from.
        stream = model.stream(common_pb2.ResumeToken(instance_id="a", sequence=3))
        _, marker = await until_marker(stream)
        assert marker.end_of_snapshot is not None
        assert marker.end_of_snapshot.start == Start.WATCH_START_RESUMED
        assert (await anext(stream)).events == [4, 5, 6]
        await stream.aclose()

    arun(scenario())


def test_a_reader_that_stops_reading_is_bounded_and_gets_a_fresh_snapshot(
    arun: Callable[..., Any],
) -> None:
    async def scenario() -> None:
        model = Model(limit=10, retain=5)
        stuck, live = model.stream(), model.stream()
        await until_marker(stuck)
        await until_marker(live)
        for i in range(25):
            model.add(i)
            assert len(model.log) <= 10  # whatever `stuck` does
            if i % 5 == 4:
                assert len((await anext(live)).events) == 5  # `live` is not held back
        # `stuck` reads again: what it missed is gone, so the stream starts over.
        snapshot, marker = await until_marker(stuck)
        assert snapshot == [-i for i in range(25)]
        assert marker.end_of_snapshot is not None
        assert marker.end_of_snapshot.start == Start.WATCH_START_FELL_BEHIND
        assert marker.resume_token == common_pb2.ResumeToken(instance_id="a", sequence=25)
        assert len(model.log.cursors) == 2  # the old cursor went, the new one is there
        model.add(99)
        assert (await anext(stuck)).events == [99]
        assert (await anext(live)).events == [99]
        await stuck.aclose()
        await live.aclose()

    arun(scenario())


def test_the_log_shares_entries_and_keeps_only_retain_once_read(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        log: ChangeLog[int] = ChangeLog("a", limit=100, retain=2)
        for i in range(5):
            log.append(Pending(message=i))
        assert len(log) == 2  # nobody watches: the last `retain` only, for resuming
        a, _ = log.open(None)
        b, _ = log.open(None)
        for i in range(5, 10):
            log.append(Pending(message=i))
        assert [e.message() for e in await log.read(a, 3)] == [5, 6, 7]
        assert len(log) == 5  # b has read none of 5..9: all kept; 3 and 4 went
        assert [e.message() for e in await log.read(b, 10)] == [5, 6, 7, 8, 9]
        assert [e.message() for e in await log.read(a, 10)] == [8, 9]
        assert len(log) == 2  # read by both: back to `retain`
        log.unsubscribe(a)
        log.unsubscribe(b)

    arun(scenario())


def test_cancelling_one_waiting_stream_leaves_the_others_waiting(
    arun: Callable[..., Any],
) -> None:
    async def scenario() -> None:
        log: ChangeLog[int] = ChangeLog("a", limit=10)
        a, _ = log.open(None)
        b, _ = log.open(None)
        loop = asyncio.get_running_loop()
        read_a = loop.create_task(log.read(a, 10))
        read_b = loop.create_task(log.read(b, 10))
        await asyncio.sleep(0)  # both wait
        read_a.cancel()
        await asyncio.gather(read_a, return_exceptions=True)
        log.append(Pending(message=1))
        assert [e.message() for e in await read_b] == [1]
        log.close_all()
        assert await log.read(a, 10) == []  # closed: the streams end

    arun(scenario())


def test_close_all_ends_every_stream_and_later_ones_at_their_marker(
    arun: Callable[..., Any],
) -> None:
    async def scenario() -> None:
        model = Model()
        stream = model.stream()
        await until_marker(stream)
        waiting = asyncio.get_running_loop().create_task(anext(stream))
        await asyncio.sleep(0)  # the stream waits for a change
        model.log.close_all()
        try:
            await waiting
            raise AssertionError("the stream should have ended")
        except StopAsyncIteration:
            pass
        assert not model.log.cursors
        late = model.stream()
        await until_marker(late)
        assert [b async for b in late] == []

    arun(scenario())


def test_watch_batches_queued_events_into_one_message(arun: Callable[..., Any]) -> None:
    async def scenario() -> list[list[int]]:
        model = Model(limit=10_000)
        model.items = list(range(WATCH_BATCH + 1))
        stream = model.stream()
        got = [(await anext(stream)).events]  # subscribed
        for i in range(1000, 1000 + WATCH_BATCH + 3):  # a burst, logged before it is read
            model.log.append(Pending(message=i))
        async for batch in stream:
            got.append(batch.events)
            if len(got) == 5:
                model.log.append(Pending(message=7))  # a lone change, later
            if len(got) == 6:
                model.log.close_all()
        assert not model.log.cursors
        return got

    got = arun(scenario())
    assert [len(b) for b in got] == [WATCH_BATCH, 1, 0, WATCH_BATCH, 3, 1]
    assert got[5] == [7]


def test_a_stream_builds_at_most_a_chunk_of_messages_per_loop_turn(
    arun: Callable[..., Any],
) -> None:
    """A burst becomes short steps: the loop runs between chunks (here: a counter ticks)."""

    async def scenario() -> None:
        model = Model(limit=10_000)
        stream = model.stream()
        await until_marker(stream)
        builds: list[int] = []  # turn number of each build
        turn = 0
        done = False

        def ticker() -> None:
            nonlocal turn
            turn += 1
            if not done:
                loop.call_soon(ticker)

        loop = asyncio.get_running_loop()
        loop.call_soon(ticker)

        def build(i: int) -> Callable[[], int]:
            def message() -> int:
                builds.append(turn)
                return i

            return message

        for i in range(WATCH_BATCH):
            model.log.append(Pending(build(i)))
        batch = await anext(stream)
        assert batch.events == list(range(WATCH_BATCH))
        per_turn = [builds.count(t) for t in sorted(set(builds))]
        assert max(per_turn) <= BUILD_CHUNK
        assert len(per_turn) >= WATCH_BATCH // BUILD_CHUNK
        done = True
        await stream.aclose()

    arun(scenario())


def test_a_stream_cancelled_while_subscribing_leaves_no_cursor(arun: Callable[..., Any]) -> None:
    """The client goes away just as the owner task has opened its cursor (the result is there,
    the stream has not resumed yet): the cursor must not stay behind, or it would keep the log
    at its limit for ever."""

    async def scenario() -> None:
        model = Model()
        loop = asyncio.get_running_loop()

        async def subscribe(token: common_pb2.ResumeToken | None) -> Subscription[int]:
            # As StateOwner.submit: the command runs in another task, which sets the result.
            result: asyncio.Future[Subscription[int]] = loop.create_future()

            def owner() -> None:
                result.set_result(model.log.subscribe(token, lambda: list(model.items)))
                reader.cancel()  # the client's cancellation arrives in the same iteration

            loop.call_soon(owner)
            return await result

        stream = watch_stream(model.log, subscribe, lambda x: -x, None)
        reader = loop.create_task(anext(stream))
        await asyncio.gather(reader, return_exceptions=True)
        for _ in range(3):
            await asyncio.sleep(0)  # let the subscription's done-callback run
        assert reader.cancelled()
        assert not model.log.cursors

    arun(scenario())
