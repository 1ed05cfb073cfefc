"""WatchSessions' publisher: O(1) per change on the packet path, whatever the watchers do.

The cause of the 100-800 ms event-loop stalls and flap storms seen at 50 ms with a watcher
connected: every state change built its protobuf message inside the callback that handled the
packets (tens to hundreds of microseconds each), so a burst of a few hundred flaps kept the loop
from sending for long enough to make more sessions flap. These tests pin down the fix: the
packet path records cheap views in one shared log and builds nothing; streams build the messages,
a bounded number per loop turn, once per entry; a reader that never reads costs no work. (The
log and the streams themselves, shared by every service, are tested in tests/test_watch.py.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from ipaddress import ip_address
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from metallb.bfd.v1 import bfd_pb2
from metallb.common.v1 import common_pb2
from metallb_rules.bfd_profile import BFDProfile
from metallb_runtime.watch import BUILD_CHUNK
from services.bfd import convert
from services.bfd import service as service_module
from services.bfd.core.events import PollSequenceCompleted, StateChanged
from services.bfd.core.packet import Diagnostic, State
from services.bfd.core.table import KeyedEvent, SessionKey
from services.bfd.model import SessionSpec
from services.bfd.service import BFDServicer, BFDState
from tests.bfd.test_service import free_ports

E = bfd_pb2.SessionEventType
SESSIONS = 200


# ---------------------------------------------------------------------------------- the service


@pytest.fixture
def protobuf_builds(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """One entry per SessionState message built."""
    calls: list[str] = []
    real = convert.fill_session_state

    def counting(*args: Any, **kwargs: Any) -> None:
        calls.append("built")
        real(*args, **kwargs)

    monkeypatch.setattr(convert, "fill_session_state", counting)
    yield calls


async def _state_with_sessions() -> tuple[BFDState, list[SessionKey]]:
    state = BFDState(CollectorRegistry(), free_ports(), free_ports())
    await state.start()
    profile = BFDProfile(receive_interval=50, transmit_interval=50)
    keys = []
    for i in range(SESSIONS):
        spec = SessionSpec(
            peer=ip_address(f"127.0.{1 + i // 250}.{1 + i % 250}"),
            local=ip_address("127.0.0.1"),
            profile=profile,
        )
        state.add(spec)
        keys.append(spec.key)
    return state, keys


def _storm(keys: list[SessionKey], at: float) -> list[KeyedEvent]:
    """Every session goes Down, then Init: what a loop stall of > 150 ms does at 50 ms."""
    down = StateChanged(State.UP, State.DOWN, Diagnostic.CONTROL_DETECTION_TIME_EXPIRED, at)
    init = StateChanged(State.DOWN, State.INIT, Diagnostic.CONTROL_DETECTION_TIME_EXPIRED, at)
    return [KeyedEvent(k, down) for k in keys] + [KeyedEvent(k, init) for k in keys]


def test_a_burst_of_flaps_builds_no_message_on_the_packet_path(
    arun: Callable[..., Any], protobuf_builds: list[str]
) -> None:
    """The regression test for the stalls: per change, O(1) work and no protobuf."""

    async def scenario() -> None:
        state, keys = await _state_with_sessions()
        try:
            readers = [state.watchers.open(None)[0] for _ in range(3)]  # none of them reads
            protobuf_builds.clear()
            before = state.watchers.end
            storm = _storm(keys, 1.0)
            state._on_events(storm)
            state._on_events([KeyedEvent(keys[0], PollSequenceCompleted(50_000, 50_000, 1.0))])
            assert protobuf_builds == []  # nothing built where packets are handled
            assert state.watchers.end - before == len(storm) + 1  # one shared entry per change
            # The watchers then build each message once between them, not once each.
            for cursor in readers:
                entries = await state.watchers.read(cursor, 10_000)
                assert [e.message().type for e in entries[-2:]] == [
                    E.SESSION_EVENT_TYPE_STATE_CHANGED,
                    E.SESSION_EVENT_TYPE_INTERVALS_CHANGED,
                ]
                for entry in entries:
                    entry.message()
            assert len(protobuf_builds) == len(storm) + 1
        finally:
            await state.stop()

    arun(scenario())


def test_watch_events_show_the_session_as_it_was_when_it_changed(
    arun: Callable[..., Any], protobuf_builds: list[str]
) -> None:
    """Built late, a message still shows the state recorded at the change, not a later one."""

    async def scenario() -> None:
        state, keys = await _state_with_sessions()
        try:
            cursor, _ = state.watchers.open(None)
            session = state.speaker.session(keys[0])
            session.state = State.DOWN  # as the core leaves it when it detects a failure
            state._on_events(_storm(keys[:1], 1.0)[:1])
            session.state = State.UP  # later changes must not leak into the event
            session.counters.down_events = 5
            (entry,) = await state.watchers.read(cursor, 10)
            event = entry.message()
            assert event.session.state.local_state == bfd_pb2.STATE_DOWN
            assert event.session.state.counters.down_transitions == 0
            assert event.transition.to == bfd_pb2.STATE_DOWN
            assert getattr(event.transition, "from") == bfd_pb2.STATE_UP
            assert event.session.state.last_transition == event.transition
            assert not event.session.state.recent_transitions
            assert event.session.conf.peer_address == str(keys[0].peer)
        finally:
            await state.stop()

    arun(scenario())


def test_snapshot_and_list_capture_in_one_step_and_build_between_loop_turns(
    arun: Callable[..., Any], protobuf_builds: list[str]
) -> None:
    async def scenario() -> None:
        state, _keys = await _state_with_sessions()
        servicer = BFDServicer(state)
        context: Any = None
        try:
            protobuf_builds.clear()
            subscription = await state.owner.submit(lambda: state.subscribe(None))
            assert protobuf_builds == []  # the owner's command only took views
            assert len(subscription.snapshot) == SESSIONS
            state.watchers.unsubscribe(subscription.cursor)

            turns = 0

            def ticker() -> None:
                nonlocal turns
                turns += 1
                if not listed.done():
                    loop.call_soon(ticker)

            loop = asyncio.get_running_loop()
            listed = loop.create_task(servicer.ListSessions(bfd_pb2.ListSessionsRequest(), context))
            loop.call_soon(ticker)
            response = await listed
            assert len(response.sessions) == SESSIONS
            assert len(protobuf_builds) == SESSIONS
            assert turns >= SESSIONS // BUILD_CHUNK  # the loop ran between the chunks
        finally:
            await state.stop()

    arun(scenario())


def test_a_watcher_that_does_not_read_gets_a_fresh_snapshot_over_grpc(
    arun: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that stops reading costs bounded memory; when it reads again, it starts over."""
    from tests.bfd.test_service import bfd_server

    monkeypatch.setattr(service_module, "WATCH_LIMIT", 50)

    async def scenario() -> None:
        async with bfd_server(free_ports(), free_ports()) as (server, stub):
            call = stub.WatchSessions(bfd_pb2.WatchSessionsRequest())
            first = await call.read()
            assert first.end_of_snapshot.start == common_pb2.WATCH_START_SNAPSHOT
            state = _state_of(server)
            assert state.watchers.limit == 50
            key = SessionKey(ip_address("127.0.0.2"))
            await stub.AddSession(
                bfd_pb2.AddSessionRequest(
                    session=bfd_pb2.SessionConf(peer_address="127.0.0.2", local_address="127.0.0.1")
                )
            )
            storm = _storm([key], 1.0) * 100  # 200 changes, none read yet
            state._on_events(storm)
            assert len(state.watchers) <= 50
            kinds = []
            while not (reply := await call.read()).HasField("end_of_snapshot"):
                kinds += [e.type for e in reply.events]
            # The ADDED may have left before the storm; none of the storm's changes did.
            assert kinds[-1] == E.SESSION_EVENT_TYPE_SNAPSHOT
            assert E.SESSION_EVENT_TYPE_STATE_CHANGED not in kinds
            assert reply.end_of_snapshot.start == common_pb2.WATCH_START_FELL_BEHIND
            assert reply.resume_token.sequence == state.watchers.end
            call.cancel()

    arun(scenario())


def _state_of(server: Any) -> BFDState:
    for binding in server.bindings:
        owner = getattr(binding.start, "__self__", None)
        if isinstance(owner, BFDState):
            return owner
    raise AssertionError("no BFDState in the server")
