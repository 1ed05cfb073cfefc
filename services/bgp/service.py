"""The BGP gRPC service: a thin servicer over the speaker, commands serialised by one task.

Each handler converts the request to domain types (convert.py, which validates with MetalLB's
rules), submits one command to the state owner, and converts the result back. Peer state
changes (from RPCs and from the protocol itself) are published to WatchPeers streams as they
happen. SetAdvertisements reports a peer whose routes it refuses as a `google.rpc.Status` in
that peer's result; the other peers' routes are applied.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.rpc import code_pb2, status_pb2
from prometheus_client import CollectorRegistry

from metallb.bgp.v1 import bgp_pb2, bgp_pb2_grpc
from metallb.common.v1 import common_pb2
from metallb_rules.errors import AlreadyExistsError, DomainError, NotFoundError
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
from services.bgp import convert, metrics
from services.bgp.codec.prefixes import Prefix, prefix_family, prefix_length, prefix_network
from services.bgp.fsm import InvalidPeerError, RouteAttrs
from services.bgp.limits import DEFAULT_LIMITS, BGPLimits, routes_in
from services.bgp.speaker import BfdClient, Speaker

SERVICE_NAME = bgp_pb2.DESCRIPTOR.services_by_name["BGPService"].full_name
WATCH_QUEUE_LIMIT = 10_000

T = TypeVar("T")


class PeerNotFoundError(NotFoundError):
    """No peer of that name."""


class PeerExistsError(AlreadyExistsError):
    """A peer of that name exists already."""


class BGPState:
    """The speaker, its owner task, its watchers."""

    def __init__(self, registry: CollectorRegistry, bfd: BfdClient | None = None) -> None:
        self.speaker = Speaker(self._changed, bfd=bfd)
        # Per peer, the BfdSettings it was given (the speaker core has no use for them).
        self.bfd_settings: dict[str, bgp_pb2.BfdSettings] = {}
        self.owner = StateOwner("bgp")
        self.instance_id = new_instance_id()
        # Core time (the loop's monotonic clock) to wall time, fixed once: a peer's times then
        # read the same in every response (measured at each read they moved by microseconds).
        self.wall_offset = time.time() - time.monotonic()
        self.watchers: ChangeLog[bgp_pb2.PeerEvent] = ChangeLog(self.instance_id, WATCH_QUEUE_LIMIT)
        # Per peer, its CHANGED entry not yet built: (entry, its sequence number, the driver).
        self._unread: dict[str, tuple[Pending[bgp_pb2.PeerEvent], int, object]] = {}
        metrics.register(registry, lambda: [d.peer for d in self.speaker.drivers.values()])

    async def start(self) -> None:
        self.owner.start()

    async def stop(self) -> None:
        await self.speaker.close()
        if self.speaker.bfd is not None:
            await self.speaker.bfd.close()
        await self.owner.stop()
        self.watchers.close_all()

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def peer_proto(self, name: str) -> bgp_pb2.Peer:
        driver = self.speaker.drivers.get(name)
        if driver is None:
            raise PeerNotFoundError(f"peer {name!r} not found", "name")
        return self._proto(driver)

    def _proto(self, driver: Any) -> bgp_pb2.Peer:
        return convert.peer_to_proto(
            driver.peer,
            self.now(),
            driver.bfd_status,
            self.bfd_settings.get(driver.peer.config.name),
            self.wall_offset,
            link=driver.link_state(),
        )

    def _publish(self, kind: bgp_pb2.PeerEventType, peer: bgp_pb2.Peer) -> None:
        self._unread.pop(peer.conf.name, None)
        self.watchers.record(bgp_pb2.PeerEvent(type=kind, peer=peer))

    def _changed(self, name: str) -> None:
        """A peer changed (its FSM, its counters, its BFD status): O(1), no message built.

        A Peer message costs 100-250 µs and sending routes changes a peer at every flush, so
        the CHANGED entry is built when a stream first reads it, from the peer's state then
        (newer than at the change, never older); until then it covers the peer's later changes
        too, so a peer has at most one unread CHANGED entry in the log however busy it is.
        """
        driver = self.speaker.drivers.get(name)
        if driver is None:
            return
        unread = self._unread.get(name)
        if unread is not None:
            entry, sequence, of = unread
            if of is driver and not entry.built and sequence >= self.watchers.first:
                return  # still to be read (and built): it will show this change

        def build() -> bgp_pb2.PeerEvent:
            peer = self._proto(driver)  # BFD settings included, as GetPeer shows them
            return bgp_pb2.PeerEvent(type=bgp_pb2.PEER_EVENT_TYPE_CHANGED, peer=peer)

        entry = Pending(build)
        self._unread[name] = (entry, self.watchers.end, driver)
        self.watchers.append(entry)

    def subscribe(self, token: common_pb2.ResumeToken | None) -> Subscription[bgp_pb2.Peer]:
        """Runs in the owner task: the snapshot and the subscription are one atomic step."""
        return self.watchers.subscribe(
            token, lambda: [self.peer_proto(name) for name in sorted(self.speaker.drivers)]
        )


class BGPServicer(bgp_pb2_grpc.BGPServiceServicer):
    def __init__(self, state: BGPState, limits: BGPLimits = DEFAULT_LIMITS) -> None:
        self._state = state
        self._limits = limits
        self._speaker = state.speaker
        # Per peer, the routes of the last SetAdvertisements and their conversion: a caller
        # re-sends the whole set on every change, and a peer's unchanged routes (compared as
        # messages, ~5 ms for 100,000) are not converted again.
        self._converted: dict[str, tuple[bgp_pb2.PeerAdvertisements, dict[Prefix, RouteAttrs]]] = {}
        # Adding, updating and deleting a peer await socket set-up and tear-down; this keeps them
        # whole with respect to one another (the StateOwner runs synchronous commands only).
        self._peer_changes = asyncio.Lock()

    async def _run(self, command: Callable[[], T]) -> T:
        return await self._state.owner.submit(command)

    async def _run_async(self, command: Callable[[], Awaitable[T]]) -> T:
        """An async command: started by the owner task, one such command at a time.

        Synchronous commands (SetAdvertisements, GetPeer...) may run at its await points; they
        see the peer either absent or present, never half-built (the speaker registers a peer
        before its first await and forgets it before its last).
        """
        async with self._peer_changes:
            future = await self._run(lambda: asyncio.ensure_future(command()))
            return await future

    def _require(self, name: str) -> None:
        if name not in self._speaker.drivers:
            raise PeerNotFoundError(f"peer {name!r} not found", "name")

    def _remember_bfd_settings(self, conf: bgp_pb2.PeerConf) -> None:
        if conf.HasField("bfd"):
            self._state.bfd_settings[conf.name] = conf.bfd
        else:
            self._state.bfd_settings.pop(conf.name, None)
        remember = getattr(self._state.speaker.bfd, "remember", None)
        if remember is not None:
            remember(conf)

    async def AddPeer(
        self, request: bgp_pb2.AddPeerRequest, context: grpc.aio.ServicerContext
    ) -> bgp_pb2.AddPeerResponse:
        cfg = convert.peer_conf_from_proto(request.peer)

        async def command() -> bgp_pb2.AddPeerResponse:
            if cfg.name in self._speaker.drivers:
                raise PeerExistsError(f"peer {cfg.name} already exists", "peer.name")
            self._limits.check_new_peer(len(self._speaker.drivers))
            self._remember_bfd_settings(request.peer)
            await self._speaker.add_peer(cfg)
            peer = self._state.peer_proto(cfg.name)
            self._state._publish(bgp_pb2.PEER_EVENT_TYPE_ADDED, peer)
            return bgp_pb2.AddPeerResponse(peer=peer)

        return await self._run_async(command)

    async def UpdatePeer(
        self, request: bgp_pb2.UpdatePeerRequest, context: grpc.aio.ServicerContext
    ) -> bgp_pb2.UpdatePeerResponse:
        async def command() -> bgp_pb2.UpdatePeerResponse:
            name = request.peer.name
            if name not in self._speaker.drivers:
                raise PeerNotFoundError(f"peer {name!r} not found", "peer.name")
            current = self._speaker.drivers[name].peer.config.password
            conf = convert.updated_conf(self._state.peer_proto(name).conf, request, current)
            cfg = convert.peer_conf_from_proto(conf)
            self._remember_bfd_settings(conf)
            restarted = await self._speaker.update_peer(cfg)
            return bgp_pb2.UpdatePeerResponse(
                peer=self._state.peer_proto(name), restarted=restarted
            )

        return await self._run_async(command)

    async def DeletePeer(
        self, request: bgp_pb2.DeletePeerRequest, context: grpc.aio.ServicerContext
    ) -> bgp_pb2.DeletePeerResponse:
        async def command() -> bgp_pb2.DeletePeerResponse:
            self._require(request.name)
            last = self._state.peer_proto(request.name)
            await self._speaker.delete_peer(request.name)
            self._state.bfd_settings.pop(request.name, None)
            self._state._publish(bgp_pb2.PEER_EVENT_TYPE_DELETED, last)
            return bgp_pb2.DeletePeerResponse()

        return await self._run_async(command)

    async def GetPeer(
        self, request: bgp_pb2.GetPeerRequest, context: grpc.aio.ServicerContext
    ) -> bgp_pb2.GetPeerResponse:
        return await self._run(
            lambda: bgp_pb2.GetPeerResponse(peer=self._state.peer_proto(request.name))
        )

    async def ListPeers(
        self, request: bgp_pb2.ListPeersRequest, context: grpc.aio.ServicerContext
    ) -> bgp_pb2.ListPeersResponse:
        return await self._run(
            lambda: bgp_pb2.ListPeersResponse(
                peers=[self._state.peer_proto(n) for n in sorted(self._speaker.drivers)]
            )
        )

    async def ResetPeer(
        self, request: bgp_pb2.ResetPeerRequest, context: grpc.aio.ServicerContext
    ) -> bgp_pb2.ResetPeerResponse:
        def command() -> bgp_pb2.ResetPeerResponse:
            self._require(request.name)
            self._speaker.reset_peer(request.name)
            return bgp_pb2.ResetPeerResponse(peer=self._state.peer_proto(request.name))

        return await self._run(command)

    async def SetAdvertisements(
        self, request: bgp_pb2.SetAdvertisementsRequest, context: grpc.aio.ServicerContext
    ) -> bgp_pb2.SetAdvertisementsResponse:
        self._limits.check_advertisements(
            len(request.advertisements), routes_in(request, self._limits.routes)
        )
        routes: dict[str, dict[Prefix, RouteAttrs]] = {}
        refused: dict[str, status_pb2.Status] = {}
        last, self._converted = self._converted, {}
        for i, ads in enumerate(request.advertisements):
            where = f"advertisements[{i}]"
            try:
                if not ads.peer:
                    raise InvalidPeerError("missing peer name", f"{where}.peer")
                if ads.peer in routes or ads.peer in refused:
                    raise InvalidPeerError(f"peer {ads.peer} given twice", f"{where}.peer")
                held = last.get(ads.peer)
                if held is not None and held[0] == ads:
                    routes[ads.peer] = held[1]
                else:
                    routes[ads.peer] = convert.peer_routes_from_proto(ads, where)
                self._converted[ads.peer] = (ads, routes[ads.peer])
            except DomainError as err:
                refused[ads.peer] = _status(err)

        def command() -> bgp_pb2.SetAdvertisementsResponse:
            for name in refused:  # a refused peer keeps what it had
                routes[name] = dict(self._speaker.routes.get(name, {}))
            changes = {
                name: bgp_pb2.PeerAdvertisementChange(peer=name, announced=a, withdrawn=w)
                for name, a, w in self._speaker.set_routes(routes)
            }
            for name, status in refused.items():
                changes.setdefault(name, bgp_pb2.PeerAdvertisementChange(peer=name))
                changes[name].status.CopyFrom(status)
            return bgp_pb2.SetAdvertisementsResponse(
                changes=[changes[name] for name in sorted(changes)]
            )

        return await self._run(command)

    async def ListAdvertisements(
        self, request: bgp_pb2.ListAdvertisementsRequest, context: grpc.aio.ServicerContext
    ) -> bgp_pb2.ListAdvertisementsResponse:
        def command() -> bgp_pb2.ListAdvertisementsResponse:
            if request.peer:
                self._require(request.peer)
            out = []
            for name in sorted(self._speaker.drivers):
                if request.peer and name != request.peer:
                    continue
                rib = self._speaker.drivers[name].peer.rib
                routes = [
                    convert.route_to_proto(prefix, attrs, rib.sent.get(prefix) == attrs)
                    for prefix, attrs in sorted(rib.desired.items(), key=_address_order)
                ]
                out.append(bgp_pb2.PeerAdvertisements(peer=name, routes=routes))
            return bgp_pb2.ListAdvertisementsResponse(peers=out)

        return await self._run(command)

    async def WatchPeers(
        self, request: bgp_pb2.WatchPeersRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bgp_pb2.WatchPeersResponse]:
        state = self._state

        async def subscribe(token: common_pb2.ResumeToken | None) -> Subscription[bgp_pb2.Peer]:
            return await self._run(lambda: state.subscribe(token))

        stream = watch_stream(state.watchers, subscribe, _snapshot_event, requested_token(request))
        async for batch in stream:
            yield response(bgp_pb2.WatchPeersResponse, batch)

    async def GetStatus(
        self, request: bgp_pb2.GetStatusRequest, context: grpc.aio.ServicerContext
    ) -> bgp_pb2.GetStatusResponse:
        return bgp_pb2.GetStatusResponse(instance_id=self._state.instance_id)


def _address_order(route: tuple[Prefix, RouteAttrs]) -> tuple[int, int, int]:
    """ListAdvertisements' order: IPv4 first, then by address, then by length."""
    prefix = route[0]
    return prefix_family(prefix), prefix_network(prefix), prefix_length(prefix)


def _snapshot_event(peer: bgp_pb2.Peer) -> bgp_pb2.PeerEvent:
    return bgp_pb2.PeerEvent(type=bgp_pb2.PEER_EVENT_TYPE_SNAPSHOT, peer=peer)


def _status(err: DomainError) -> status_pb2.Status:
    """A per-item failure as `google.rpc.Status` (STYLE.md §10)."""
    return status_pb2.Status(code=getattr(code_pb2, err.status), message=err.describe())


def bgp_binding(
    registry: CollectorRegistry,
    bfd: BfdClient | None = None,
    limits: BGPLimits = DEFAULT_LIMITS,
) -> ServiceBinding:
    """The BGP service, ready for `metallb_runtime.server.Server`."""
    state = BGPState(registry, bfd)

    def register(server: grpc.aio.Server) -> None:
        bgp_pb2_grpc.add_BGPServiceServicer_to_server(BGPServicer(state, limits), server)

    return state_binding(SERVICE_NAME, register, state)
