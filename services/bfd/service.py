"""The BFD gRPC service: a thin servicer over the `Speaker`, owned by one asyncio task.

RPC handlers convert the request, submit one command to the state owner and convert the result
back. The speaker itself runs as event-loop callbacks (sockets and its one timer); commands and
callbacks are synchronous, so neither ever sees the other half-done. Speaker events are
recorded for the watchers in the callback that produced them (a detected Down is in the watch
log in the same loop iteration), but as plain `convert.SessionView`s: the messages are built by
the watch streams, outside the packet path (see `metallb_runtime/watch.py`). Likewise
ListSessions and a watch's snapshot take the views in one command and build the messages a chunk
per loop turn.
"""

import asyncio
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import NamedTuple, TypeVar

import grpc
from google.protobuf.field_mask_pb2 import FieldMask
from prometheus_client import CollectorRegistry

from metallb.bfd.v1 import bfd_pb2, bfd_pb2_grpc
from metallb.common.v1 import common_pb2
from metallb_rules.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    ResourceExhaustedError,
    UnavailableError,
)
from metallb_runtime.instance import new_instance_id
from metallb_runtime.server import ServiceBinding, state_binding
from metallb_runtime.state_owner import StateOwner
from metallb_runtime.watch import (
    BUILD_CHUNK,
    WATCH_LIMIT,
    ChangeLog,
    Pending,
    Subscription,
    requested_token,
    response,
    watch_stream,
)
from services.bfd import convert
from services.bfd.core.events import PollSequenceCompleted, StateChanged
from services.bfd.core.session import Session
from services.bfd.core.table import KeyedEvent, SessionKey
from services.bfd.metrics import BFDCollector
from services.bfd.model import SessionSpec
from services.bfd.speaker import DEFAULT_PORTS, Ports, Speaker

SERVICE_NAME = bfd_pb2.DESCRIPTOR.services_by_name["BFDService"].full_name

HISTORY = 16  # transitions kept per session
# Sessions one service runs at most (issue 15: bounded counts). MetalLB runs one per BGP peer
# with a bfdProfile; 4,096 at 50 ms is ~160,000 packets a second, more than one process serves.
MAX_SESSIONS = 4_096

T = TypeVar("T")

_E = bfd_pb2.SessionEventType


class Captured(NamedTuple):
    """Everything a `Session` message shows, taken at one instant without building it."""

    conf: bfd_pb2.SessionConf
    seen: convert.SessionView
    transitions: tuple[StateChanged, ...]
    polls: int


class BFDState:
    """The speaker, per-session history, watchers and metrics."""

    def __init__(
        self,
        registry: CollectorRegistry,
        ports: Ports = DEFAULT_PORTS,
        peer_ports: Ports | None = None,
        rng: random.Random | None = None,
        max_sessions: int = MAX_SESSIONS,
    ) -> None:
        self.max_sessions = max_sessions
        self._ports = ports
        self._peer_ports = peer_ports
        self._rng = rng
        self._speaker: Speaker | None = None
        self.owner = StateOwner("bfd")
        self._history: dict[SessionKey, deque[StateChanged]] = {}
        self._polls: dict[SessionKey, int] = {}
        self.instance_id = new_instance_id()
        self.watchers: ChangeLog[bfd_pb2.SessionEvent] = ChangeLog(self.instance_id, WATCH_LIMIT)
        self._offset = 0.0  # wall clock minus loop clock
        self._adding: SessionKey | None = None
        self._confs: dict[SessionKey, bfd_pb2.SessionConf] = {}  # conf protos, per key
        registry.register(
            BFDCollector(self._metric_sessions, self._metric_drops, self._metric_send_errors)
        )

    @property
    def speaker(self) -> Speaker:
        if self._speaker is None:
            raise UnavailableError("the BFD service is not running")
        return self._speaker

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._offset = time.time() - loop.time()
        self._speaker = Speaker(
            self._on_events, ports=self._ports, peer_ports=self._peer_ports, rng=self._rng
        )
        self.owner.start()

    async def stop(self) -> None:
        await self.owner.stop()
        if self._speaker is not None:
            self._speaker.close()
        self.watchers.close_all()

    # ------------------------------------------------------------------ views

    def _conf(self, key: SessionKey) -> bfd_pb2.SessionConf:
        conf = self._confs.get(key)
        if conf is None:
            conf = self._confs[key] = convert.spec_to_proto(self.speaker.specs[key])
        return conf

    def capture(self, key: SessionKey) -> Captured:
        session = self.speaker.session(key)  # NOT_FOUND for an unknown key
        return Captured(
            self._conf(key),
            convert.view(session),
            tuple(self._history.get(key, ())),
            self._polls.get(key, 0),
        )

    def capture_all(self) -> list[Captured]:
        """O(sessions) attribute reads in one command; the messages are built afterwards."""
        return [self.capture(key) for key in self.speaker.specs]

    def fill(self, msg: bfd_pb2.Session, captured: Captured, *, with_history: bool = True) -> None:
        """Write `captured` into an empty `msg` in place (no copies of whole messages)."""
        msg.conf.CopyFrom(captured.conf)
        convert.fill_session_state(
            msg.state,
            captured.seen,
            self._offset,
            captured.transitions,
            captured.polls,
            with_history=with_history,
        )

    def message(self, captured: Captured) -> bfd_pb2.Session:
        msg = bfd_pb2.Session()
        self.fill(msg, captured)
        return msg

    def session_proto(self, key: SessionKey) -> bfd_pb2.Session:
        return self.message(self.capture(key))

    def snapshot_event(self, captured: Captured) -> bfd_pb2.SessionEvent:
        event = bfd_pb2.SessionEvent(type=_E.SESSION_EVENT_TYPE_SNAPSHOT)
        self.fill(event.session, captured)
        return event

    def _metric_sessions(self) -> list[tuple[SessionSpec, Session]]:
        if self._speaker is None:
            return []
        table = self._speaker.table
        return [
            (spec, session)
            for key, spec in self._speaker.specs.items()
            if (session := table.get(key)) is not None
        ]

    def _metric_drops(self) -> dict[str, int]:
        if self._speaker is None:
            return {}
        return {reason.value: n for reason, n in self._speaker.drops.items()}

    def _metric_send_errors(self) -> int:
        return 0 if self._speaker is None else self._speaker.send_errors

    # ------------------------------------------------------------------ commands

    def add(self, spec: SessionSpec) -> bfd_pb2.Session:
        key = spec.key
        speaker = self.speaker
        if key not in speaker.specs and len(speaker.specs) >= self.max_sessions:
            raise ResourceExhaustedError(
                f"{len(speaker.specs)} sessions exist, at most {self.max_sessions} "
                "(--max-sessions)",
                "session",
            )
        if key not in speaker.specs:
            self._history[key] = deque(maxlen=HISTORY)
            self._polls[key] = 0
        self._confs.pop(key, None)
        self._adding = key  # its AdminDown (admin_down=true) is part of ADDED, not an event
        try:
            speaker.add(spec)
        except OSError as err:
            self._history.pop(key, None)
            self._polls.pop(key, None)
            raise FailedPreconditionError(
                f"cannot open the BFD sockets: {err}", "session.interface" if spec.device else None
            ) from None
        except Exception:
            if key not in speaker.specs:
                self._history.pop(key, None)
                self._polls.pop(key, None)
            raise
        finally:
            self._adding = None
        session = self.session_proto(key)
        self._publish(_E.SESSION_EVENT_TYPE_ADDED, session)
        return session

    def update_conf(self, conf: bfd_pb2.SessionConf, mask: FieldMask | None) -> bfd_pb2.Session:
        """UpdateSession: with a mask, the masked fields of `conf` over the current ones."""
        if mask is not None:
            key = convert.key_from_proto(
                bfd_pb2.SessionKey(
                    peer_address=conf.peer_address, interface=conf.interface, vrf=conf.vrf
                ),
                "session",
            )
            self.speaker.session(key)  # NOT_FOUND for an unknown key
            conf = convert.merge_update(self._conf(key), conf, mask)
        return self.update(convert.spec_from_proto(conf))

    def update(self, spec: SessionSpec) -> bfd_pb2.Session:
        old = self.speaker.specs.get(spec.key)
        if old is not None and not old.same_binding(spec):
            raise InvalidArgumentError(
                "only the profile and admin_down of a session can change; delete and add it",
                "session",
            )
        self._confs.pop(spec.key, None)
        self.speaker.update(spec)
        self._confs.pop(spec.key, None)
        session = self.session_proto(spec.key)
        self._publish(_E.SESSION_EVENT_TYPE_UPDATED, session)
        return session

    def delete(self, key: SessionKey) -> None:
        speaker = self.speaker
        speaker.session(key)  # NOT_FOUND before anything changes
        last = self.session_proto(key)
        speaker.remove(key)
        self._confs.pop(key, None)
        self._history.pop(key, None)
        self._polls.pop(key, None)
        self._publish(_E.SESSION_EVENT_TYPE_DELETED, last)

    def subscribe(self, token: common_pb2.ResumeToken | None) -> Subscription[Captured]:
        """Runs in the owner task: the snapshot and the subscription are one atomic step."""
        return self.watchers.subscribe(token, self.capture_all)

    # ------------------------------------------------------------------ events

    def _publish(self, kind: bfd_pb2.SessionEventType, session: bfd_pb2.Session) -> None:
        self.watchers.record(bfd_pb2.SessionEvent(type=kind, session=session))

    def _on_events(self, events: list[KeyedEvent]) -> None:
        """Called by the speaker, in the loop iteration that produced the events.

        This runs between reading packets and sending them, for every session of the speaker,
        so it does O(1) cheap work per event: the history, and for watchers (present, or
        resuming later) a `SessionView` in the shared log. Building the message here (tens to
        hundreds of microseconds each) once made a burst of flaps delay every session's packets
        by up to half a second, which made more sessions flap.
        """
        specs = self.speaker.specs
        for item in events:
            key, event = item.key, item.event
            if key not in specs:
                continue  # a deleted session still saying AdminDown
            if isinstance(event, StateChanged):
                history = self._history.get(key)
                if history is None:
                    history = self._history[key] = deque(maxlen=HISTORY)
                history.append(event)
                if key != self._adding:
                    self._record(_E.SESSION_EVENT_TYPE_STATE_CHANGED, key, event, (event,))
            elif isinstance(event, PollSequenceCompleted):
                self._polls[key] = self._polls.get(key, 0) + 1
                history = self._history.get(key)
                last = (history[-1],) if history else ()
                self._record(_E.SESSION_EVENT_TYPE_INTERVALS_CHANGED, key, None, last)

    def _record(
        self,
        kind: bfd_pb2.SessionEventType,
        key: SessionKey,
        change: StateChanged | None,
        last: tuple[StateChanged, ...],
    ) -> None:
        session = self.speaker.table.get(key)
        if session is None:
            return
        captured = Captured(self._conf(key), convert.view(session), last, self._polls.get(key, 0))

        def build() -> bfd_pb2.SessionEvent:
            # Without the transition history: the event carries its transition (which is the
            # session's last one), GetSession has the rest.
            event = bfd_pb2.SessionEvent(type=kind)
            self.fill(event.session, captured, with_history=False)
            if change is not None:
                event.transition.CopyFrom(event.session.state.last_transition)
            return event

        self.watchers.append(Pending(build))


class BFDServicer(bfd_pb2_grpc.BFDServiceServicer):
    def __init__(self, state: BFDState) -> None:
        self._state = state

    async def _run(self, command: Callable[[], T]) -> T:
        return await self._state.owner.submit(command)

    async def AddSession(
        self, request: bfd_pb2.AddSessionRequest, context: grpc.aio.ServicerContext
    ) -> bfd_pb2.AddSessionResponse:
        spec = convert.spec_from_proto(request.session)
        return bfd_pb2.AddSessionResponse(session=await self._run(lambda: self._state.add(spec)))

    async def UpdateSession(
        self, request: bfd_pb2.UpdateSessionRequest, context: grpc.aio.ServicerContext
    ) -> bfd_pb2.UpdateSessionResponse:
        mask = request.update_mask if request.HasField("update_mask") else None
        if mask is None:
            spec = convert.spec_from_proto(request.session)  # checked before the owner runs
            session = await self._run(lambda: self._state.update(spec))
        else:
            conf = request.session
            session = await self._run(lambda: self._state.update_conf(conf, mask))
        return bfd_pb2.UpdateSessionResponse(session=session)

    async def DeleteSession(
        self, request: bfd_pb2.DeleteSessionRequest, context: grpc.aio.ServicerContext
    ) -> bfd_pb2.DeleteSessionResponse:
        key = convert.key_from_proto(request.key)
        await self._run(lambda: self._state.delete(key))
        return bfd_pb2.DeleteSessionResponse()

    async def GetSession(
        self, request: bfd_pb2.GetSessionRequest, context: grpc.aio.ServicerContext
    ) -> bfd_pb2.GetSessionResponse:
        key = convert.key_from_proto(request.key)
        session = await self._run(lambda: self._state.session_proto(key))
        return bfd_pb2.GetSessionResponse(session=session)

    async def ListSessions(
        self, request: bfd_pb2.ListSessionsRequest, context: grpc.aio.ServicerContext
    ) -> bfd_pb2.ListSessionsResponse:
        captured = await self._run(self._state.capture_all)
        response = bfd_pb2.ListSessionsResponse()
        for i, item in enumerate(captured):
            if i and i % BUILD_CHUNK == 0:
                await asyncio.sleep(0)  # let the loop handle packets between chunks
            self._state.fill(response.sessions.add(), item)
        return response

    async def WatchSessions(
        self, request: bfd_pb2.WatchSessionsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bfd_pb2.WatchSessionsResponse]:
        state = self._state

        async def subscribe(token: common_pb2.ResumeToken | None) -> Subscription[Captured]:
            return await self._run(lambda: state.subscribe(token))

        stream = watch_stream(
            state.watchers, subscribe, state.snapshot_event, requested_token(request)
        )
        async for batch in stream:
            yield response(bfd_pb2.WatchSessionsResponse, batch)

    async def GetStatus(
        self, request: bfd_pb2.GetStatusRequest, context: grpc.aio.ServicerContext
    ) -> bfd_pb2.GetStatusResponse:
        return bfd_pb2.GetStatusResponse(instance_id=self._state.instance_id)


def bfd_binding(
    registry: CollectorRegistry,
    ports: Ports = DEFAULT_PORTS,
    peer_ports: Ports | None = None,
    max_sessions: int = MAX_SESSIONS,
) -> ServiceBinding:
    """The BFD service, ready for `metallb_runtime.server.Server`."""
    state = BFDState(registry, ports, peer_ports, max_sessions=max_sessions)

    def register(server: grpc.aio.Server) -> None:
        bfd_pb2_grpc.add_BFDServiceServicer_to_server(BFDServicer(state), server)

    return state_binding(SERVICE_NAME, register, state)
