"""Restarts reported through one seam (gateway/instance_watch.py): the instance that answers a
watch stream's first message, None when the stream breaks, and a new instance on reconnect."""

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import grpc

from gateway.instance_watch import resume_token_instance, watch_instances
from gateway.instances import InstanceTracker, ServiceInstance


def unavailable() -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "restarting"
    )


class Streams:
    """Each call opens the next scripted stream: messages, then an error or an endless wait."""

    def __init__(self, *scripts: tuple[list[object], bool]) -> None:
        self._scripts = list(scripts)
        self.opened = 0

    def __call__(self) -> AsyncIterator[object]:
        messages, breaks = self._scripts[self.opened]
        self.opened += 1

        async def stream() -> AsyncIterator[object]:
            for message in messages:
                yield message
            if breaks:
                raise unavailable()
            await asyncio.Event().wait()  # open until cancelled

        return stream()


async def first(n: int, source: AsyncGenerator[ServiceInstance, None]) -> list[ServiceInstance]:
    """The first `n` changes (the reconnect between them waits its 0.1 s backoff)."""
    out = []
    async with asyncio.timeout(5):
        async for change in source:
            out.append(change)
            if len(out) == n:
                break
    await source.aclose()
    return out


def test_each_new_stream_counts_as_a_new_instance(arun: Callable[..., Any]) -> None:
    streams = Streams((["snapshot", "change"], True), (["snapshot"], False))
    got = arun(first(3, watch_instances("bgp", streams)))
    assert got == [
        ServiceInstance("bgp", "stream-1"),
        ServiceInstance("bgp", None),
        ServiceInstance("bgp", "stream-2"),
    ]
    tracker = InstanceTracker()
    assert [tracker.observe(c) for c in got] == [False, False, True]


def test_an_id_the_service_reports_replaces_the_count(arun: Callable[..., Any]) -> None:
    # The same process answers again after a broken stream: nothing to resend.
    streams = Streams((["id-a"], True), (["id-a"], False))
    got = arun(first(3, watch_instances("l2", streams, instance_of=str)))
    assert got == [
        ServiceInstance("l2", "id-a"),
        ServiceInstance("l2", None),
        ServiceInstance("l2", "id-a"),
    ]
    tracker = InstanceTracker()
    assert [tracker.observe(c) for c in got] == [False, False, False]


def test_the_resume_token_names_the_instance_after_the_snapshot(arun: Callable[..., Any]) -> None:
    """Real watch responses: snapshot events carry no token; the end-of-snapshot response and
    every one after carry the answering process's id. A restart (another id) is a restart; a
    broken stream to the same process is not."""
    from metallb.common.v1 import common_pb2
    from metallb.l2.v1 import l2_pb2

    def token(instance: str) -> l2_pb2.WatchEventsResponse:
        return l2_pb2.WatchEventsResponse(
            end_of_snapshot=common_pb2.EndOfSnapshot(),
            resume_token=common_pb2.ResumeToken(instance_id=instance, sequence=3),
        )

    snapshot = l2_pb2.WatchEventsResponse(events=[l2_pb2.Event()])
    streams = Streams(
        ([snapshot, token("a")], True), ([snapshot, token("a")], True), ([token("b")], False)
    )
    got = arun(first(5, watch_instances("l2", streams, resume_token_instance)))
    assert got == [
        ServiceInstance("l2", "a"),
        ServiceInstance("l2", None),
        ServiceInstance("l2", "a"),
        ServiceInstance("l2", None),
        ServiceInstance("l2", "b"),
    ]
    tracker = InstanceTracker()
    assert [tracker.observe(c) for c in got] == [False, False, False, False, True]
