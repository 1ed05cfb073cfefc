"""The L2 gRPC service: a thin servicer over the engine, whose state one asyncio task owns.

RPC handlers and the netlink follower submit commands to the state owner; each command applies
a change to the table through the engine (which re-syncs sockets, groups and gratuitous timers)
and publishes the resulting events to the watchers.
"""

import gc
from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial
from ipaddress import IPv4Address, IPv6Address
from typing import TypeVar

import grpc
from prometheus_client import CollectorRegistry

from metallb.common.v1 import common_pb2
from metallb.l2.v1 import l2_pb2, l2_pb2_grpc
from metallb_runtime.instance import new_instance_id
from metallb_runtime.server import ServiceBinding, state_binding
from metallb_runtime.state_owner import StateOwner
from metallb_runtime.watch import (
    ChangeLog,
    Pending,
    Subscription,
    requested_token,
    response,
    watch_stream,
)
from services.l2 import convert
from services.l2.core.frames import format_mac
from services.l2.core.interfaces import compile_excludes
from services.l2.core.table import AnnouncementSpec, AnnouncementState, Event, InterfaceState
from services.l2.engine import DEFAULT_PRIORITY, Engine
from services.l2.metrics import L2Metrics
from services.l2.netlink import link_events, read_links

IPAddress = IPv4Address | IPv6Address
SERVICE_NAME = l2_pb2.DESCRIPTOR.services_by_name["L2Service"].full_name


T = TypeVar("T")


def _event(event: Event) -> l2_pb2.Event:
    kind = convert.EVENT_TYPES[event.type]
    if event.announcement is not None:
        return l2_pb2.Event(
            type=kind, announcement=convert.announcement_to_proto(event.announcement)
        )
    assert event.interface is not None
    return l2_pb2.Event(type=kind, interface=convert.interface_to_proto(event.interface))


def _snapshot_event(item: AnnouncementState | InterfaceState) -> l2_pb2.Event:
    if isinstance(item, AnnouncementState):
        return l2_pb2.Event(
            type=l2_pb2.EVENT_TYPE_SNAPSHOT, announcement=convert.announcement_to_proto(item)
        )
    return l2_pb2.Event(type=l2_pb2.EVENT_TYPE_SNAPSHOT, interface=convert.interface_to_proto(item))


class L2State:
    """The engine, its owner task, the netlink follower and the watchers."""

    def __init__(
        self,
        registry: CollectorRegistry,
        excludes: Sequence[str],
        hot_path: str = "thread",
        priority: int = DEFAULT_PRIORITY,
    ) -> None:
        self.metrics = L2Metrics(registry)
        self.engine = Engine(compile_excludes(excludes), self.metrics, hot_path, priority)
        self.owner = StateOwner("l2")
        self.links = link_events(self.rescan)
        self.instance_id = new_instance_id()
        self.watchers: ChangeLog[l2_pb2.Event] = ChangeLog(self.instance_id)
        self.desired: list[AnnouncementSpec] = []  # as the last SetAnnouncements gave it
        self.engine.on_announced_elsewhere = self.announced_elsewhere

    async def start(self) -> None:
        self.engine.start()  # raises, naming CAP_NET_RAW, if raw sockets are not allowed
        self.owner.start()
        try:
            await self.links.start()
            await self.rescan()
        except BaseException:
            await self.stop()
            raise
        # Everything allocated so far (modules, gRPC, protobuf descriptors) lives as long as
        # the process: keep it out of later collections. A full collection holds the GIL, which
        # the hot-path thread needs to answer; docs/l2.md has the before/after figures.
        gc.freeze()

    async def stop(self) -> None:
        await self.links.stop()
        await self.owner.stop()
        self.engine.close()
        self.watchers.close_all()

    async def rescan(self) -> None:
        links = await read_links()
        await self.owner.submit(lambda: self.publish(self.engine.apply_links(links)))

    def publish(self, events: Sequence[Event]) -> None:
        for event in events:
            self.watchers.append(Pending(partial(_event, event)))  # built by the streams

    def announced_elsewhere(self, ip: IPAddress, mac: bytes, link: str) -> None:
        """Another host announced `ip`, which we answer for (on the loop, between commands)."""
        foreign = l2_pb2.ForeignAnnouncement(ip=str(ip), mac=format_mac(mac), interface=link)
        event = l2_pb2.Event(type=l2_pb2.EVENT_TYPE_ANNOUNCED_ELSEWHERE, foreign=foreign)
        self.watchers.record(event)

    def subscribe(
        self, token: common_pb2.ResumeToken | None
    ) -> Subscription[AnnouncementState | InterfaceState]:
        """Runs in the owner task: the snapshot and the subscription are one atomic step."""
        table = self.engine.table

        def capture() -> list[AnnouncementState | InterfaceState]:
            return [*table.announcements(), *table.interfaces()]

        return self.watchers.subscribe(token, capture)


class L2Servicer(l2_pb2_grpc.L2ServiceServicer):
    def __init__(self, state: L2State) -> None:
        self._state = state
        self._table = state.engine.table

    async def _run(self, command: Callable[[], T]) -> T:
        return await self._state.owner.submit(command)

    def _announcements(self) -> list[l2_pb2.Announcement]:
        return [convert.announcement_to_proto(a) for a in self._table.announcements()]

    async def SetAnnouncements(
        self, request: l2_pb2.SetAnnouncementsRequest, context: grpc.aio.ServicerContext
    ) -> l2_pb2.SetAnnouncementsResponse:
        specs = convert.specs_from_proto(request.announcements)

        def command() -> l2_pb2.SetAnnouncementsResponse:
            result = self._state.engine.set_announcements(specs)
            self._state.desired = specs
            self._state.publish(result.events)
            return l2_pb2.SetAnnouncementsResponse(
                announced=[str(ip) for ip in result.announced],
                withdrawn=[str(ip) for ip in result.withdrawn],
                updated=[str(ip) for ip in result.updated],
                announcements=self._announcements(),
            )

        return await self._run(command)

    async def ListAnnouncements(
        self, request: l2_pb2.ListAnnouncementsRequest, context: grpc.aio.ServicerContext
    ) -> l2_pb2.ListAnnouncementsResponse:
        return await self._run(
            lambda: l2_pb2.ListAnnouncementsResponse(
                announcements=self._announcements(),
                desired=[convert.spec_to_proto(spec) for spec in self._state.desired],
            )
        )

    async def ListInterfaces(
        self, request: l2_pb2.ListInterfacesRequest, context: grpc.aio.ServicerContext
    ) -> l2_pb2.ListInterfacesResponse:
        return await self._run(
            lambda: l2_pb2.ListInterfacesResponse(
                interfaces=[convert.interface_to_proto(i) for i in self._table.interfaces()]
            )
        )

    async def WatchEvents(
        self, request: l2_pb2.WatchEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[l2_pb2.WatchEventsResponse]:
        state = self._state

        async def subscribe(
            token: common_pb2.ResumeToken | None,
        ) -> Subscription[AnnouncementState | InterfaceState]:
            return await self._run(lambda: state.subscribe(token))

        stream = watch_stream(state.watchers, subscribe, _snapshot_event, requested_token(request))
        async for batch in stream:
            yield response(l2_pb2.WatchEventsResponse, batch)

    async def GetStatus(
        self, request: l2_pb2.GetStatusRequest, context: grpc.aio.ServicerContext
    ) -> l2_pb2.GetStatusResponse:
        return l2_pb2.GetStatusResponse(instance_id=self._state.instance_id)


def l2_binding(
    registry: CollectorRegistry,
    excludes: Sequence[str],
    hot_path: str = "thread",
    priority: int = DEFAULT_PRIORITY,
) -> ServiceBinding:
    """The L2 service, ready for `metallb_runtime.server.Server`."""
    state = L2State(registry, excludes, hot_path, priority)

    def register(server: grpc.aio.Server) -> None:
        l2_pb2_grpc.add_L2ServiceServicer_to_server(L2Servicer(state), server)

    return state_binding(SERVICE_NAME, register, state)
