"""The BGP gRPC service in-process: a server on port 0 and a scripted BGP peer on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import grpc
import pytest
from google.rpc import code_pb2
from prometheus_client import CollectorRegistry, generate_latest

from metallb.bgp.v1 import bgp_pb2, bgp_pb2_grpc
from metallb.common.v1 import common_pb2
from metallb_runtime.server import Server
from services.bgp.codec import (
    CeaseSubcode,
    ErrorCode,
    Framer,
    Keepalive,
    Negotiated,
    Notification,
    Open,
    Update,
    negotiate,
)
from services.bgp.codec.prefixes import prefix_text
from services.bgp.service import bgp_binding
from tests.conftest import ROOT

from .fsm_harness import remote_open
from .routes import request


@asynccontextmanager
async def bgp_server_at(bfd: Any = None) -> AsyncIterator[tuple[CollectorRegistry, str, Any]]:
    """A BGP service on a free port: its registry, its address and a stub."""
    registry = CollectorRegistry()
    server = Server([bgp_binding(registry, bfd)], "127.0.0.1:0", registry=registry, grace=0.5)
    address = await server.start()
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            yield registry, address, bgp_pb2_grpc.BGPServiceStub(channel)
    finally:
        await server.stop()


@asynccontextmanager
async def bgp_server(bfd: Any = None) -> AsyncIterator[tuple[CollectorRegistry, Any]]:
    async with bgp_server_at(bfd) as (registry, _, stub):
        yield registry, stub


class ScriptedPeer:
    """A BGP peer written with the codec: answers OPEN, records what it receives."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.received = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.port = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.tasks: list[asyncio.Task[Any]] = []

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        task = asyncio.current_task()
        if task is not None:
            self.tasks.append(task)
        framer = Framer(Negotiated())
        mine = remote_open(asn=65002, bgp_id="192.0.2.254")
        writer.write(mine.encode(Negotiated()) + Keepalive().encode(Negotiated()))
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while data := await reader.read(65536):
                for message in framer.feed(data):
                    if isinstance(message, Open):
                        framer.negotiated = negotiate(mine, message)
                    self.messages.append(message)
                    self.received.set()
        writer.close()

    async def wait_for(self, predicate: Callable[[Any], bool], timeout: float = 10) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                found = next((m for m in self.messages if predicate(m)), None)
                if found is not None:
                    return found
                self.received.clear()
                await self.received.wait()

    async def close(self) -> None:
        for writer in self.writers:
            writer.close()
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


def conf(name: str = "p1", **kw: Any) -> bgp_pb2.PeerConf:
    args: dict[str, Any] = dict(name=name, my_asn=64512, peer_asn=65002, peer_address="127.0.0.1")
    args.update(kw)
    return bgp_pb2.PeerConf(**args)


async def _error(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value


def test_bad_configuration_is_invalid_argument_naming_the_field(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        async with bgp_server() as (_, stub):
            cases = [
                (conf(my_asn=0), "peer.my_asn: parsing peer p1 missing local ASN"),
                (
                    conf(hold_time=timedelta(seconds=2)),
                    'peer.hold_time: parsing peer p1 invalid BGPPeer timers: invalid hold time '
                    '"2s": must be 0 or >=3s',
                ),
                (conf(peer_address="300.1.1.1"),
                 'peer.peer_address: parsing peer p1 invalid BGPPeer address "300.1.1.1"'),
                # Go's Duration.String(): below a second it prints milliseconds.
                (conf(hold_time=timedelta(seconds=0.4), keepalive_time=timedelta(seconds=0.5)),
                 'peer.keepalive_time: parsing peer p1 invalid BGPPeer timers: invalid '
                 'keepaliveTime "500ms", must be lower than holdTime "400ms"'),
                (conf(gtsm=True, ebgp_multihop=True),
                 "peer.gtsm: peer p1: gtsm is for directly connected peers, not with "
                 "ebgp_multihop"),
            ]  # fmt: skip
            for peer, text in cases:
                err = await _error(stub.AddPeer(bgp_pb2.AddPeerRequest(peer=peer)))
                assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert err.details() == text
            # Routes: a peer's bad route refuses that peer's set only (google.rpc.Status).
            bad = bgp_pb2.Route(prefix="192.0.2.1/32")
            bad.communities.add(asn=1, value=70000)
            reply = await stub.SetAdvertisements(
                bgp_pb2.SetAdvertisementsRequest(
                    advertisements=[
                        bgp_pb2.PeerAdvertisements(peer="x", routes=[bad]),
                        bgp_pb2.PeerAdvertisements(
                            peer="y", routes=[bgp_pb2.Route(prefix="192.0.2.300/32")]
                        ),
                        bgp_pb2.PeerAdvertisements(
                            peer="z", routes=[bgp_pb2.Route(prefix="192.0.2.1/32")]
                        ),
                    ]
                )
            )
            assert [(c.peer, c.status.code, c.status.message) for c in reply.changes] == [
                (
                    "x",
                    code_pb2.INVALID_ARGUMENT,
                    "advertisements[0].routes[0].communities[0]: community 1:70000: each half "
                    "is 16 bits (RFC 1997)",
                ),
                (
                    "y",
                    code_pb2.INVALID_ARGUMENT,
                    "advertisements[1].routes[0].prefix: invalid prefix '192.0.2.300/32'",
                ),
            ]
            err = await _error(stub.GetPeer(bgp_pb2.GetPeerRequest(name="nope")))
            assert err.code() == grpc.StatusCode.NOT_FOUND

    arun(scenario())


def test_session_advertisements_watch_metrics_and_delete(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        remote = ScriptedPeer()
        await remote.start()
        try:
            async with bgp_server() as (registry, stub):
                watch = stub.WatchPeers(bgp_pb2.WatchPeersRequest())
                first = await watch.read()
                assert first.end_of_snapshot.start == common_pb2.WATCH_START_SNAPSHOT
                peer = conf(peer_port=remote.port, hold_time=timedelta(seconds=9))
                await stub.AddPeer(bgp_pb2.AddPeerRequest(peer=peer))
                err = await _error(stub.AddPeer(bgp_pb2.AddPeerRequest(peer=peer)))
                assert err.code() == grpc.StatusCode.ALREADY_EXISTS
                async with asyncio.timeout(10):
                    while not any(
                        event.peer.state.session_state == bgp_pb2.SESSION_STATE_ESTABLISHED
                        for event in (await watch.read()).events
                    ):
                        pass
                got = (await stub.GetPeer(bgp_pb2.GetPeerRequest(name="p1"))).peer.state
                assert got.negotiated_hold_time.seconds == 9 and got.capabilities.four_octet_as
                assert got.peer_router_id == "192.0.2.254"
                ads = request(["p1"], ["203.0.113.10/32"], communities=["65000:1", "large:1:2:3"])
                ads.advertisements.add(peer="other").routes.add(prefix="203.0.113.11/32")
                changes = await stub.SetAdvertisements(ads)
                assert [(c.peer, c.announced) for c in changes.changes] == [("p1", 1)]
                update = await remote.wait_for(lambda m: isinstance(m, Update) and bool(m.nlri))
                assert [prefix_text(p) for p in update.nlri] == ["203.0.113.10/32"]
                await remote.wait_for(lambda m: m == Update())  # End-of-RIB
                listed = await stub.ListAdvertisements(bgp_pb2.ListAdvertisementsRequest())
                (routes,) = listed.peers
                assert [r.prefix for r in routes.routes] == ["203.0.113.10/32"]
                (got_route,) = routes.routes
                assert got_route.sent
                assert [(c.asn, c.value) for c in got_route.communities] == [(65000, 1)]
                (large,) = got_route.large_communities
                assert (large.global_administrator, large.local_data_1, large.local_data_2) == (
                    1, 2, 3,
                )  # fmt: skip
                text = generate_latest(registry).decode()
                assert 'metallb_bgp_session_up{peer="127.0.0.1",vrf=""} 1.0' in text
                assert 'metallb_bgp_announced_prefixes_total{peer="127.0.0.1",vrf=""} 1.0' in text
                assert 'metallb_bgp_opens_sent{peer="127.0.0.1",vrf=""} 1.0' in text
                await stub.DeletePeer(bgp_pb2.DeletePeerRequest(name="p1"))
                cease = await remote.wait_for(lambda m: isinstance(m, Notification))
                assert (cease.code, cease.subcode) == (
                    ErrorCode.CEASE,
                    CeaseSubcode.PEER_DECONFIGURED,
                )
                async with asyncio.timeout(5):
                    while bgp_pb2.PEER_EVENT_TYPE_DELETED not in [
                        event.type for event in (await watch.read()).events
                    ]:
                        pass
                watch.cancel()
        finally:
            await remote.close()

    arun(scenario())


def test_reset_peer_sends_administrative_reset(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        remote = ScriptedPeer()
        await remote.start()
        try:
            async with bgp_server() as (_, stub):
                await stub.AddPeer(bgp_pb2.AddPeerRequest(peer=conf(peer_port=remote.port)))
                await remote.wait_for(lambda m: isinstance(m, Keepalive))
                await stub.ResetPeer(bgp_pb2.ResetPeerRequest(name="p1"))
                cease = await remote.wait_for(lambda m: isinstance(m, Notification))
                assert (cease.code, cease.subcode) == (6, CeaseSubcode.ADMINISTRATIVE_RESET)
                state = (await stub.GetPeer(bgp_pb2.GetPeerRequest(name="p1"))).peer.state
                assert state.last_error.reason == bgp_pb2.STATE_REASON_ADMIN_RESET
                assert state.last_error.notification.sent
        finally:
            await remote.close()

    arun(scenario())


def test_cli_has_the_bgp_subcommand() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "metallb_cli", "bgp", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": f"{ROOT}:{ROOT / 'protos'}", "PATH": "/usr/bin:/bin"},
    )
    assert "metallb.bgp.v1.BGPService" in out.stdout and "127.0.0.1:50052" in out.stdout


class FakeBfd:
    """A stand-in for the BFD client seam (test_bfd_client.py runs the real one)."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.registered: list[tuple[str, str, str]] = []
        self.on_down: Callable[[str], None] | None = None

    async def register(
        self,
        peer: str,
        peer_address: Any,
        local_address: Any,
        profile: str,
        on_down: Any,
        *,
        on_status: Any,
    ) -> None:
        if self.fail:
            raise ConnectionError("BFD service unreachable")
        self.registered.append((peer, str(peer_address), profile))
        self.on_down = on_down

    async def unregister(self, peer: str) -> None:
        pass

    async def close(self) -> None:
        pass


def test_bfd_down_tears_the_session_down_and_unreachable_bfd_does_not(
    arun: Callable[..., Any],
) -> None:
    async def scenario(fail: bool) -> None:
        remote = ScriptedPeer()
        await remote.start()
        bfd = FakeBfd(fail=fail)
        try:
            async with bgp_server(bfd) as (_, stub):
                peer = conf(peer_port=remote.port, bfd_profile="fast")
                await stub.AddPeer(bgp_pb2.AddPeerRequest(peer=peer))
                await remote.wait_for(lambda m: isinstance(m, Keepalive))
                async with asyncio.timeout(5):
                    while True:
                        got = (await stub.GetPeer(bgp_pb2.GetPeerRequest(name="p1"))).peer
                        if got.state.bfd_status not in ("", "not registered", "registering"):
                            break
                        await asyncio.sleep(0.02)
                if fail:
                    assert got.state.bfd_status.startswith("BFD service unreachable")
                    await asyncio.sleep(0.2)
                    state = (await stub.GetPeer(bgp_pb2.GetPeerRequest(name="p1"))).peer.state
                    assert state.session_state == bgp_pb2.SESSION_STATE_ESTABLISHED
                    return
                assert bfd.registered == [("p1", "127.0.0.1", "fast")]
                assert bfd.on_down is not None
                bfd.on_down("detection time expired")
                cease = await remote.wait_for(lambda m: isinstance(m, Notification))
                assert (cease.code, cease.subcode) == (ErrorCode.CEASE, 10)  # RFC 9384 BFD Down
                state = (await stub.GetPeer(bgp_pb2.GetPeerRequest(name="p1"))).peer.state
                assert state.last_error.reason == bgp_pb2.STATE_REASON_BFD_DOWN
                assert state.last_error.message == "detection time expired"
        finally:
            await remote.close()

    arun(scenario(False))
    arun(scenario(True))


def test_server_shutdown_sends_cease_administrative_shutdown(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        remote = ScriptedPeer()
        await remote.start()
        try:
            async with bgp_server() as (_, stub):
                await stub.AddPeer(bgp_pb2.AddPeerRequest(peer=conf(peer_port=remote.port)))
                await remote.wait_for(lambda m: isinstance(m, Keepalive))
            cease = await remote.wait_for(lambda m: isinstance(m, Notification))
            assert (cease.code, cease.subcode) == (6, CeaseSubcode.ADMINISTRATIVE_SHUTDOWN)
        finally:
            await remote.close()

    arun(scenario())


def test_update_peer_restarts_only_on_change(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        remote = ScriptedPeer()
        await remote.start()
        try:
            async with bgp_server() as (_, stub):
                peer = conf(peer_port=remote.port)
                await stub.AddPeer(bgp_pb2.AddPeerRequest(peer=peer))
                await remote.wait_for(lambda m: isinstance(m, Keepalive))
                same = await stub.UpdatePeer(bgp_pb2.UpdatePeerRequest(peer=peer))
                assert not same.restarted
                changed = conf(peer_port=remote.port, hold_time=timedelta(seconds=30))
                reply = await stub.UpdatePeer(bgp_pb2.UpdatePeerRequest(peer=changed))
                assert reply.restarted and reply.peer.conf.hold_time.seconds == 30
                cease = await remote.wait_for(lambda m: isinstance(m, Notification))
                assert (cease.code, cease.subcode) == (6, CeaseSubcode.OTHER_CONFIGURATION_CHANGE)
                err = await _error(
                    stub.UpdatePeer(bgp_pb2.UpdatePeerRequest(peer=conf(name="nope")))
                )
                assert err.code() == grpc.StatusCode.NOT_FOUND
        finally:
            await remote.close()

    arun(scenario())
