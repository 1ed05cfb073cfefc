"""GrpcBfdClient against the real BFD service, in-process over unix sockets (no root needed).

Our BFD service (`bfd_binding`, on its own free UDP ports) serves the client; the far end of
every BFD session is `ScriptedBfdPeer`, a peer written with the BFD codec on 127.0.0.2 that
answers the three-way handshake at 50 ms and can, on demand, fall silent (a path failure) or
say AdminDown (an administrative action). `UnixProxy` sits between the client and the service
when a test must break the watch stream while the service keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
from prometheus_client import CollectorRegistry

from metallb.bfd.v1 import bfd_pb2, bfd_pb2_grpc
from metallb.bgp.v1 import bgp_pb2
from metallb_runtime.server import Server
from services.bfd.core.packet import ControlPacket, Diagnostic, State, decode, encode
from services.bfd.service import bfd_binding
from services.bgp.bfd_client import BfdRegistrationError, GrpcBfdClient
from services.bgp.codec import ErrorCode, Keepalive, Notification
from tests.bfd.lab import ms
from tests.bfd.test_service import free_ports

from .test_service import ScriptedPeer, bgp_server, conf

US, PEER = "127.0.0.1", "127.0.0.2"
FAST = bgp_pb2.BfdSettings(
    receive_interval=timedelta(milliseconds=50), transmit_interval=timedelta(milliseconds=50)
)


class World:
    """Our BFD service's ports, the scripted peer's, and where the service listens."""

    def __init__(self, tmp: Path) -> None:
        self.ours, self.theirs = free_ports(), free_ports()
        self.path = tmp / "bfd.sock"

    @asynccontextmanager
    async def service(self) -> AsyncIterator[bfd_pb2_grpc.BFDServiceStub]:
        """Our BFD service on a unix socket; leaving the block stops it, as a restart would."""
        registry = CollectorRegistry()
        server = Server(
            [bfd_binding(registry, self.ours, self.theirs)],
            f"unix:{self.path}",
            registry=registry,
            grace=0.2,
        )
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"unix:{self.path}") as channel:
                yield bfd_pb2_grpc.BFDServiceStub(channel)
        finally:
            await server.stop()

    @asynccontextmanager
    async def peer(self) -> AsyncIterator[ScriptedBfdPeer]:
        peer = ScriptedBfdPeer((PEER, self.theirs.single_hop), (US, self.ours.single_hop))
        await peer.start()
        try:
            yield peer
        finally:
            peer.close()


class ScriptedBfdPeer(asyncio.DatagramProtocol):
    """The far end of a single-hop session, every 50 ms (RFC 5880 §6.2, simplified)."""

    INTERVAL = 0.05

    def __init__(self, local: tuple[str, int], remote: tuple[str, int]) -> None:
        self.local, self.remote = local, remote
        self.state = State.DOWN
        self.remote_discriminator = 0
        self.silent = False  # sends nothing and ignores everything: the path is gone
        self.admin_down = False
        self.transport: asyncio.DatagramTransport | None = None
        self.timer: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)  # RFC 5881 §5
        sock.bind(self.local)
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: self, sock=sock)
        self._tick()

    def packet(self, *, final: bool = False) -> ControlPacket:
        state = State.ADMIN_DOWN if self.admin_down else self.state
        return ControlPacket(
            state=state,
            my_discriminator=0x5EED,
            your_discriminator=self.remote_discriminator,
            detect_mult=3,
            desired_min_tx=50_000,
            required_min_rx=50_000,
            diag=Diagnostic.ADMINISTRATIVELY_DOWN if self.admin_down else 0,
            final=final,
        )

    def _send(self, *, final: bool = False) -> None:
        if self.transport is not None and not self.silent:
            self.transport.sendto(encode(self.packet(final=final)), self.remote)

    def _tick(self) -> None:
        self._send()
        self.timer = asyncio.get_running_loop().call_later(self.INTERVAL, self._tick)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if self.silent:
            return
        packet = decode(data)
        self.remote_discriminator = packet.my_discriminator
        if self.admin_down or packet.state == State.ADMIN_DOWN:
            self.state = State.DOWN
        elif packet.state == State.DOWN:
            self.state = State.INIT
        else:
            self.state = State.UP
        if packet.poll:
            self._send(final=True)  # §6.5: answer a Poll Sequence at once

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.transport is not None:
            self.transport.close()


class UnixProxy:
    """Bytes between a unix socket and another; `cut()` drops every connection and listens no
    more, `restore()` listens again: the client loses the service while it keeps running."""

    def __init__(self, listen: Path, target: Path) -> None:
        self.listen, self.target = listen, target
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []
        self.tasks: set[asyncio.Task[Any]] = set()

    async def restore(self) -> None:
        self.server = await asyncio.start_unix_server(self._handle, path=str(self.listen))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(str(self.target))
        except OSError:
            writer.close()
            return
        self.writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        for writer in self.writers:
            writer.close()
        self.writers.clear()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await task
        self.tasks.clear()
        with contextlib.suppress(FileNotFoundError):
            self.listen.unlink()


class Calls:
    """What the client told one BGP peer."""

    def __init__(self) -> None:
        self.downs: list[str] = []
        self.statuses: list[str] = []

    @property
    def status(self) -> str:
        return self.statuses[-1] if self.statuses else ""

    async def until(self, what: str, predicate: Callable[[], bool], timeout: float = 5) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}: {self.statuses}")
            await asyncio.sleep(0.01)


def fast_client(socket_path: Path | str) -> GrpcBfdClient:
    """A client for the BFD service at `socket_path` that knows peer p1 with the fast profile."""
    client = GrpcBfdClient(f"unix:{socket_path}")
    client.remember(peer_conf(bfd=FAST))
    return client


def peer_conf(name: str = "p1", **kw: Any) -> bgp_pb2.PeerConf:
    args: dict[str, Any] = dict(
        name=name, my_asn=64512, peer_asn=65002, peer_address=PEER, bfd_profile="fast"
    )
    args.update(kw)
    return bgp_pb2.PeerConf(**args)


async def register(client: GrpcBfdClient, calls: Calls, name: str = "p1", peer: str = PEER) -> None:
    from ipaddress import ip_address

    await client.register(
        name,
        ip_address(peer),
        ip_address(US),
        "fast",
        calls.downs.append,
        on_status=calls.statuses.append,
    )


async def sessions(stub: bfd_pb2_grpc.BFDServiceStub) -> dict[str, bfd_pb2.Session]:
    listed = await stub.ListSessions(bfd_pb2.ListSessionsRequest())
    return {s.conf.peer_address: s for s in listed.sessions}


async def state_of(stub: bfd_pb2_grpc.BFDServiceStub, peer: str = PEER) -> int:
    found = (await sessions(stub)).get(peer)
    return found.state.local_state if found is not None else bfd_pb2.STATE_UNSPECIFIED


async def until_state(stub: bfd_pb2_grpc.BFDServiceStub, state: int, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while await state_of(stub) != state:
        assert time.monotonic() < deadline, f"timed out waiting for {bfd_pb2.State.Name(state)}"
        await asyncio.sleep(0.01)


def test_register_adds_the_peers_profile_and_hop_mode_unregister_deletes(
    arun: Callable[..., Any], tmp_path: Path
) -> None:
    async def scenario() -> None:
        world = World(tmp_path)
        client = GrpcBfdClient(f"unix:{world.path}")
        calls = Calls()
        async with world.service() as stub:
            profile = bgp_pb2.BfdSettings(
                receive_interval=timedelta(milliseconds=50), detect_multiplier=4
            )
            client.remember(peer_conf("p1", bfd=profile))
            client.remember(peer_conf("p2", peer_address="127.0.0.3", ebgp_multihop=True))
            await register(client, calls, "p1")
            await register(client, calls, "p2", "127.0.0.3")
            got = await sessions(stub)
            single, multi = got[PEER].conf, got["127.0.0.3"].conf
            assert (single.local_address, single.hop_mode) == (US, bfd_pb2.HOP_MODE_SINGLE_HOP)
            assert (single.profile.name, single.profile.receive_interval) == ("fast", ms(50))
            assert single.profile.detect_multiplier == 4
            assert single.profile.transmit_interval == ms(300)  # absent: MetalLB's default
            assert multi.hop_mode == bfd_pb2.HOP_MODE_MULTIHOP
            assert calls.status == "down"  # from the AddSession answer: nothing heard yet
            # Registering again (our process restarted; the BFD service kept the session)
            # applies the profile of now instead of failing with ALREADY_EXISTS.
            client.remember(peer_conf("p1", bfd=FAST))
            await register(client, calls, "p1")
            assert (await sessions(stub))[PEER].conf.profile.detect_multiplier == 3
            # The BFDProfile edited: new settings for a registered peer reach the BFD service.
            client.remember(peer_conf("p1", bfd=profile))
            deadline = time.monotonic() + 5
            while (await sessions(stub))[PEER].conf.profile.detect_multiplier != 4:
                assert time.monotonic() < deadline, "the profile was not updated"
                await asyncio.sleep(0.01)
            await client.unregister("p1")
            assert list(await sessions(stub)) == ["127.0.0.3"]
            await client.unregister("p2")
            assert await sessions(stub) == {}
            assert client._watch is None  # nothing wanted, nothing watched
            await client.close()
        assert calls.downs == []

    arun(scenario())


def test_path_failure_tears_down_admin_down_does_not(
    arun: Callable[..., Any], tmp_path: Path
) -> None:
    """Up → Down (detection time expired) is reported; the peer's AdminDown and ours are not
    (RFC 5882 §3.2, see bfd_client's docstring)."""

    async def scenario() -> None:
        world = World(tmp_path)
        client = fast_client(world.path)
        calls = Calls()
        async with world.service() as stub, world.peer() as peer:
            await register(client, calls)
            await calls.until("Up", lambda: calls.status == "up")
            peer.admin_down = True  # the peer's BFD was shut down: AdminDown, diagnostic 7
            await calls.until("Down by AdminDown", lambda: "AdminDown" in calls.status)
            assert calls.status.startswith("down: the peer signalled AdminDown")
            peer.admin_down = False
            await calls.until("Up again", lambda: calls.status == "up")
            session = (await sessions(stub))[PEER].conf  # as the client added it
            session.admin_down = True
            await stub.UpdateSession(bfd_pb2.UpdateSessionRequest(session=session))
            await calls.until("our AdminDown", lambda: calls.status.startswith("admin down"))
            session.admin_down = False
            await stub.UpdateSession(bfd_pb2.UpdateSessionRequest(session=session))
            await calls.until("Up once more", lambda: calls.status == "up")
            assert calls.downs == []
            silent_at = time.monotonic()
            peer.silent = True
            await calls.until("the Down", lambda: bool(calls.downs))
            detected = time.monotonic() - silent_at
            assert calls.downs == ["BFD down: control detection time expired"]
            assert calls.status == "down: control detection time expired"
            assert detected < 0.5, detected  # 3 x 50 ms, then one watch message
            await client.close()

    arun(scenario())


def test_a_down_missed_while_the_watch_was_cut_is_reported_from_the_snapshot(
    arun: Callable[..., Any], tmp_path: Path
) -> None:
    """The stream breaks, the service lives on: on reconnecting, the snapshot's state (not its
    events) decides. Down-and-Up-again while away tears nothing down; Down while away does."""

    async def scenario() -> None:
        world = World(tmp_path)
        proxy = UnixProxy(tmp_path / "proxy.sock", world.path)
        client = fast_client(proxy.listen)
        calls = Calls()
        async with world.service() as stub, world.peer() as peer:
            await proxy.restore()
            try:
                await register(client, calls)
                await calls.until("Up", lambda: calls.status == "up")
                for comes_back in (True, False):
                    await proxy.cut()
                    await calls.until("the lost watch", lambda: "unreachable" in calls.status)
                    peer.silent = True
                    await until_state(stub, bfd_pb2.STATE_DOWN)
                    if comes_back:
                        peer.silent = False
                        await until_state(stub, bfd_pb2.STATE_UP)
                    assert calls.downs == []  # nothing seen, nothing torn down
                    await proxy.restore()
                    if comes_back:
                        await calls.until("Up from the snapshot", lambda: calls.status == "up")
                        assert calls.downs == []
                await calls.until("the missed Down", lambda: bool(calls.downs))
                assert calls.downs == [
                    "BFD down: control detection time expired (while the watch was reconnecting)"
                ]
            finally:
                await client.close()
                await proxy.cut()

    arun(scenario())


def test_bfd_service_restart_re_adds_sessions_and_tears_nothing_down(
    arun: Callable[..., Any], tmp_path: Path
) -> None:
    async def scenario() -> None:
        world = World(tmp_path)
        client = fast_client(world.path)
        calls = Calls()
        async with world.peer() as peer:
            async with world.service():
                await register(client, calls)
                await calls.until("Up", lambda: calls.status == "up")
            # Stopped: the stream ends, the channel finds nobody; nothing is torn down.
            await calls.until("unreachable", lambda: "unreachable" in calls.status)
            async with world.service() as stub:
                await until_state(stub, bfd_pb2.STATE_UP)  # re-added by the client
                got = (await sessions(stub))[PEER].conf
                assert (got.local_address, got.profile.receive_interval) == (US, ms(50))
                await calls.until("Up after the restart", lambda: calls.status == "up")
                assert "down" in calls.statuses  # the re-added session started Down...
                assert calls.downs == []  # ...which is not a transition from Up
                peer.silent = True  # and the new watch still reports a real failure
                await calls.until("the Down", lambda: bool(calls.downs))
            await client.close()

    arun(scenario())


def test_unreachable_bfd_service_tears_nothing_down_and_is_added_when_it_answers(
    arun: Callable[..., Any], tmp_path: Path
) -> None:
    async def scenario() -> None:
        world = World(tmp_path)
        client = fast_client(world.path)
        calls = Calls()
        async with world.peer():
            try:
                await register(client, calls)
            except BfdRegistrationError as err:
                assert str(err).startswith("BFD service unreachable (UNAVAILABLE: ")
            else:
                raise AssertionError("register succeeded with no BFD service")
            await asyncio.sleep(0.3)
            assert calls.downs == []
            async with world.service() as stub:
                await until_state(stub, bfd_pb2.STATE_UP)
                await calls.until("Up", lambda: calls.status == "up")
                await client.unregister("p1")
                assert await sessions(stub) == {}
            await client.close()
        assert calls.downs == []

    arun(scenario())


class ScriptedPeerOn2(ScriptedPeer):
    """The scripted BGP peer on 127.0.0.2, where the scripted BFD peer is."""

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, PEER, 0)
        self.port = self.server.sockets[0].getsockname()[1]


def test_bgp_service_tears_down_on_bfd_down_not_when_the_bfd_service_goes(
    arun: Callable[..., Any], tmp_path: Path
) -> None:
    """The BGP service with the real client: Cease / BFD Down (RFC 9384) at once, reason BFD."""

    async def scenario() -> None:
        world = World(tmp_path)
        remote = ScriptedPeerOn2()
        await remote.start()
        try:
            async with (
                world.peer() as bfd_peer,
                bgp_server(GrpcBfdClient(f"unix:{world.path}")) as (_, stub),
            ):

                async def peer_state() -> bgp_pb2.PeerState:
                    reply: bgp_pb2.GetPeerResponse = await stub.GetPeer(
                        bgp_pb2.GetPeerRequest(name="p1")
                    )
                    return reply.peer.state

                async def until(what: str, check: Callable[[bgp_pb2.PeerState], bool]) -> None:
                    deadline = time.monotonic() + 5
                    while not check(state := await peer_state()):
                        assert time.monotonic() < deadline, f"{what}: {state}"
                        await asyncio.sleep(0.01)

                async with world.service() as bfd:
                    peer = conf(
                        peer_address=PEER,
                        peer_port=remote.port,
                        hold_time=timedelta(seconds=90),
                        bfd_profile="fast",
                        bfd=FAST,
                    )
                    await stub.AddPeer(bgp_pb2.AddPeerRequest(peer=peer))
                    await remote.wait_for(lambda m: isinstance(m, Keepalive))
                    await until("BFD Up", lambda s: s.bfd_status == "up")
                    silent_at = time.time()
                    bfd_peer.silent = True
                    cease = await remote.wait_for(lambda m: isinstance(m, Notification))
                    assert (cease.code, cease.subcode) == (ErrorCode.CEASE, 10)  # BFD Down
                    error = (await peer_state()).last_error
                    assert error.reason == bgp_pb2.STATE_REASON_BFD_DOWN
                    assert error.message == "BFD down: control detection time expired"
                    torn_down = error.time.ToNanoseconds() / 1e9 - silent_at
                    assert 0.1 < torn_down < 0.5  # 3 x 50 ms, then at once
                    bfd_peer.silent = False
                    await until(
                        "Established with BFD Up again",
                        lambda s: (
                            s.session_state == bgp_pb2.SESSION_STATE_ESTABLISHED
                            and s.bfd_status == "up"
                        ),
                    )
                    # An edited BFDProfile: no BGP restart, the BFD session gets the settings.
                    peer.bfd.detect_multiplier = 4
                    reply = await stub.UpdatePeer(bgp_pb2.UpdatePeerRequest(peer=peer))
                    assert not reply.restarted
                    deadline = time.monotonic() + 5
                    while (await sessions(bfd))[PEER].conf.profile.detect_multiplier != 4:
                        assert time.monotonic() < deadline, "the profile was not updated"
                        await asyncio.sleep(0.01)
                # The BFD service is gone: the session stays up, its status says why.
                await until("unreachable", lambda s: "unreachable" in s.bfd_status)
                await asyncio.sleep(0.5)
                state = await peer_state()
                assert state.session_state == bgp_pb2.SESSION_STATE_ESTABLISHED
                last = state.last_error.time.ToNanoseconds() / 1e9
                assert last < silent_at + 0.5  # the BFD Down, nothing since
        finally:
            await remote.close()

    arun(scenario())
