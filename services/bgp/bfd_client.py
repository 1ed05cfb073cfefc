"""The BGP service's client of the BFD service (`metallb.bfd.v1`), behind the `BfdClient` seam.

A peer with a bfdProfile gets a BFD session (single hop, or multihop for ebgpMultiHop) once its
BGP session is Established, with the profile's settings from its PeerConf. A session that goes
from Up to Down tears the BGP session down at once with BFD's diagnostic as the reason. If the BFD
service is unreachable nothing is torn down; when it comes back (its watch stream reconnects) every
session is added again.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import grpc

from metallb.bfd.v1 import bfd_pb2, bfd_pb2_grpc
from metallb.bgp.v1 import bgp_pb2
from metallb_grpc.addresses import IPAddress
from metallb_grpc.channel import service_channel

log = logging.getLogger(__name__)


@dataclass
class _Registered:
    conf: bfd_pb2.SessionConf
    on_down: Callable[[str], None]

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.conf.peer_address, self.conf.interface, self.conf.vrf)


class GrpcBfdClient:
    def __init__(self, address: str) -> None:
        self._address = address
        self._channel: grpc.aio.Channel | None = None
        self._stub: bfd_pb2_grpc.BFDServiceStub | None = None
        self._peers: dict[str, bgp_pb2.PeerConf] = {}
        self._sessions: dict[str, _Registered] = {}
        self._watch: asyncio.Task[None] | None = None

    def remember(self, conf: bgp_pb2.PeerConf) -> None:
        """The peer's configuration, for the profile settings, hop mode and VRF."""
        self._peers[conf.name] = conf

    def _connect(self) -> bfd_pb2_grpc.BFDServiceStub:
        if self._stub is None:
            self._channel = service_channel(self._address)
            self._stub = bfd_pb2_grpc.BFDServiceStub(self._channel)
        return self._stub

    async def register(
        self,
        peer: str,
        peer_address: IPAddress,
        local_address: IPAddress,
        profile: str,
        on_down: Callable[[str], None],
    ) -> None:
        conf = self._peers.get(peer)
        session = bfd_pb2.SessionConf(
            peer_address=str(peer_address),
            local_address=str(local_address),
            vrf=conf.vrf if conf else "",
            hop_mode=(
                bfd_pb2.HOP_MODE_MULTIHOP
                if conf is not None and conf.ebgp_multihop
                else bfd_pb2.HOP_MODE_SINGLE_HOP
            ),
        )
        if conf is not None and conf.HasField("bfd_profile_settings"):
            session.profile.CopyFrom(conf.bfd_profile_settings)
        session.profile.name = profile
        entry = _Registered(session, on_down)
        await self._add(entry)
        self._sessions[peer] = entry
        if self._watch is None or self._watch.done():
            self._watch = asyncio.get_running_loop().create_task(self._follow(), name="bfd-watch")

    async def _add(self, entry: _Registered) -> None:
        try:
            await self._connect().AddSession(bfd_pb2.AddSessionRequest(session=entry.conf))
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise

    async def unregister(self, peer: str) -> None:
        entry = self._sessions.pop(peer, None)
        if entry is None:
            return
        address, interface, vrf = entry.key
        with contextlib.suppress(grpc.aio.AioRpcError):
            await self._connect().DeleteSession(
                bfd_pb2.DeleteSessionRequest(
                    key=bfd_pb2.SessionKey(peer_address=address, interface=interface, vrf=vrf)
                )
            )
        if not self._sessions and self._watch is not None:
            self._watch.cancel()
            self._watch = None

    async def _follow(self) -> None:
        """Watch sessions; on Up → Down tell the peer; after a BFD restart add them again."""
        backoff = 0.1
        while self._sessions:
            try:
                stream = self._connect().WatchSessions(
                    bfd_pb2.WatchSessionsRequest(), wait_for_ready=True
                )
                resync = True
                async for reply in stream:
                    if resync:
                        resync = False
                        for entry in list(self._sessions.values()):
                            await self._add(entry)
                    for event in reply.events:
                        self._handle(event)
                    backoff = 0.1
            except grpc.aio.AioRpcError as err:
                log.info("BFD watch ended (%s); sessions are kept", err.code().name)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 0.5)

    def _handle(self, event: bfd_pb2.SessionEvent) -> None:
        if event.type != bfd_pb2.SESSION_EVENT_TYPE_STATE_CHANGED:
            return
        transition = event.transition
        if getattr(transition, "from") != bfd_pb2.STATE_UP or transition.to == bfd_pb2.STATE_UP:
            return
        conf = event.session.conf
        key = (conf.peer_address, conf.interface, conf.vrf)
        for entry in list(self._sessions.values()):
            if entry.key == key:
                reason = bfd_pb2.Diagnostic.Name(transition.diagnostic)
                entry.on_down(f"BFD down ({reason})")

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        if self._channel is not None:
            await self._channel.close()
