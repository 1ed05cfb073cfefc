"""WatchPeers on the shared watch log: a busy peer costs O(1) per change and no message.

Sending routes changes a peer at every flush; building a Peer message each time (100-250 µs)
would put the watch on the route path even with nobody watching. A peer has at most one unread
CHANGED entry, built when first read, from the state then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from metallb.bgp.v1 import bgp_pb2
from services.bgp import convert
from services.bgp.service import BGPServicer, BGPState
from tests.bgp.test_service import conf


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """One entry per Peer message built."""
    calls: list[str] = []
    real = convert.peer_to_proto

    def counting(*args: Any, **kwargs: Any) -> bgp_pb2.Peer:
        calls.append("built")
        return real(*args, **kwargs)

    monkeypatch.setattr(convert, "peer_to_proto", counting)
    yield calls


def test_a_busy_peer_has_one_unread_entry_built_when_read(
    arun: Callable[..., Any], builds: list[str]
) -> None:
    async def scenario() -> None:
        state = BGPState(CollectorRegistry())
        await state.start()
        try:
            servicer = BGPServicer(state)
            await servicer.AddPeer(bgp_pb2.AddPeerRequest(peer=conf(peer_port=1)), None)
            cursor, _ = state.watchers.open(None)
            builds.clear()
            before = state.watchers.end
            for _ in range(1000):
                state._changed("p1")  # as a flush of routes does
            assert builds == []  # nothing built on the route path
            assert state.watchers.end - before == 1  # one entry for the burst
            driver = state.speaker.drivers["p1"]
            driver.bfd_status = "up"  # a change after the entry was logged...
            state._changed("p1")
            (entry,) = await state.watchers.read(cursor, 10)
            event = entry.message()
            assert event.type == bgp_pb2.PEER_EVENT_TYPE_CHANGED
            assert event.peer.state.bfd_status == "up"  # ...is in it: built when read
            assert builds == ["built"]
            state._changed("p1")  # read: the next change gets an entry of its own
            assert state.watchers.end - before == 2
            await asyncio.wait_for(state.watchers.read(cursor, 10), 1)
            state.watchers.unsubscribe(cursor)
        finally:
            await state.stop()

    arun(scenario())
