"""The BFD service over real gRPC, two instances talking BFD over loopback (no root needed).

Each instance listens on its own free UDP ports and sends to the other's (`Ports`,
`peer_ports`), so two speakers share the loopback interface: A is 127.0.0.1, B is 127.0.0.2.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CollectorRegistry, generate_latest

from metallb.bfd.v1 import bfd_pb2, bfd_pb2_grpc
from metallb.common.v1 import common_pb2
from metallb_runtime.server import Server
from services.bfd.service import bfd_binding
from services.bfd.speaker import Ports
from tests.bfd import lab
from tests.conftest import ROOT

A, B = "127.0.0.1", "127.0.0.2"


def free_ports() -> Ports:
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(3)]
    try:
        for sock in socks:
            sock.bind(("0.0.0.0", 0))
        single, multi, echo = (s.getsockname()[1] for s in socks)
    finally:
        for sock in socks:
            sock.close()
    return Ports(single, multi, echo)


@asynccontextmanager
async def bfd_server(
    ports: Ports, peer_ports: Ports, **kw: Any
) -> AsyncIterator[tuple[Server, bfd_pb2_grpc.BFDServiceStub]]:
    registry = CollectorRegistry()
    server = Server(
        [bfd_binding(registry, ports, peer_ports, **kw)],
        "127.0.0.1:0",
        registry=registry,
        grace=0.5,
    )
    address = await server.start()
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            yield server, bfd_pb2_grpc.BFDServiceStub(channel)
    finally:
        await server.stop()


def conf(peer: str, local: str, ms: int = 50, **kw: Any) -> bfd_pb2.SessionConf:
    return bfd_pb2.SessionConf(
        peer_address=peer,
        local_address=local,
        profile=bfd_pb2.Profile(
            name="fast", receive_interval=lab.ms(ms), transmit_interval=lab.ms(ms)
        ),
        **kw,
    )


def key(peer: str) -> bfd_pb2.SessionKey:
    return bfd_pb2.SessionKey(peer_address=peer)


async def _error(call: Awaitable[Any]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value


async def _until(what: str, predicate: Callable[[], Awaitable[bool]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_validation_errors_carry_status_field_and_metallb_text(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        pa = free_ports()
        async with bfd_server(pa, free_ports()) as (_, stub):
            bad = conf(B, A)
            bad.profile.detect_multiplier = 1
            err = await _error(stub.AddSession(bfd_pb2.AddSessionRequest(session=bad)))
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert err.details() == (
                "session.profile.detect_multiplier: invalid value 1, must be in 2-255 range\n"
                "invalid detect multiplier value"
            )
            bad = conf(B, A)
            bad.profile.minimum_ttl = 255
            err = await _error(stub.AddSession(bfd_pb2.AddSessionRequest(session=bad)))
            assert "invalid minimum ttl value" in err.details()
            err = await _error(
                stub.AddSession(bfd_pb2.AddSessionRequest(session=conf("10.0.0.300", A)))
            )
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert err.details().startswith("session.peer_address: invalid peer address")
            err = await _error(
                stub.AddSession(bfd_pb2.AddSessionRequest(session=conf("fe80::1", "")))
            )
            assert err.details() == "session.interface: link-local peer fe80::1 needs an interface"
            added = await stub.AddSession(
                bfd_pb2.AddSessionRequest(session=bfd_pb2.SessionConf(peer_address=B))
            )
            profile = added.session.conf.profile  # MetalLB's defaults
            assert (profile.receive_interval, profile.transmit_interval) == (lab.ms(300),) * 2
            assert (profile.detect_multiplier, profile.echo_interval) == (3, lab.ms(50))
            assert profile.minimum_ttl == 254 and not profile.passive_mode
            err = await _error(stub.AddSession(bfd_pb2.AddSessionRequest(session=conf(B, ""))))
            assert err.code() == grpc.StatusCode.ALREADY_EXISTS
            moved = conf(B, "127.0.0.9")
            err = await _error(stub.UpdateSession(bfd_pb2.UpdateSessionRequest(session=moved)))
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
            err = await _error(stub.GetSession(bfd_pb2.GetSessionRequest(key=key("10.9.9.9"))))
            assert err.code() == grpc.StatusCode.NOT_FOUND
            err = await _error(
                stub.DeleteSession(bfd_pb2.DeleteSessionRequest(key=key("10.9.9.9")))
            )
            assert err.code() == grpc.StatusCode.NOT_FOUND
            await stub.DeleteSession(bfd_pb2.DeleteSessionRequest(key=key(B)))
            listed = await stub.ListSessions(bfd_pb2.ListSessionsRequest())
            assert not listed.sessions
            # Administrative control (RFC 5880 §6.8.16): AdminDown with diag 7, and back.
            down = conf(B, A, admin_down=True)
            added = await stub.AddSession(bfd_pb2.AddSessionRequest(session=down))
            state = added.session.state
            assert state.local_state == bfd_pb2.STATE_ADMIN_DOWN
            assert state.local_diagnostic == bfd_pb2.DIAGNOSTIC_ADMINISTRATIVELY_DOWN
            assert state.last_transition.reason == bfd_pb2.TRANSITION_REASON_ADMIN_DOWN
            down.admin_down = False
            updated = await stub.UpdateSession(bfd_pb2.UpdateSessionRequest(session=down))
            assert updated.session.state.local_state == bfd_pb2.STATE_DOWN
            assert (
                updated.session.state.last_transition.reason == bfd_pb2.TRANSITION_REASON_ADMIN_UP
            )
            assert len(updated.session.state.recent_transitions) == 2

    arun(scenario())


def test_sessions_are_bounded_and_the_field_named(arun: Callable[..., Any]) -> None:
    """Issue 15: AddSession had no bound; each session costs a timer entry and packets."""

    async def scenario() -> list[grpc.StatusCode]:
        async with bfd_server(free_ports(), free_ports(), max_sessions=2) as (_, stub):

            async def add(peer: str) -> grpc.StatusCode:
                try:
                    await stub.AddSession(bfd_pb2.AddSessionRequest(session=conf(peer, A)))
                except grpc.aio.AioRpcError as err:
                    assert err.details().startswith("session: 2 sessions exist, at most 2")
                    return err.code()
                return grpc.StatusCode.OK

            codes = [await add(p) for p in ("127.0.0.2", "127.0.0.3", "127.0.0.4")]
            await stub.UpdateSession(  # an existing session's update is not an addition
                bfd_pb2.UpdateSessionRequest(session=conf("127.0.0.3", A, ms=100))
            )
            await stub.DeleteSession(bfd_pb2.DeleteSessionRequest(key=key("127.0.0.2")))
            return [*codes, await add("127.0.0.4")]

    assert arun(scenario()) == [
        grpc.StatusCode.OK,
        grpc.StatusCode.OK,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.OK,
    ]


def test_two_services_come_up_and_watch_pushes_down_within_milliseconds(
    arun: Callable[..., Any],
) -> None:
    async def scenario() -> None:
        pa, pb = free_ports(), free_ports()
        async with AsyncExitStack() as stack:
            server_a, a = await stack.enter_async_context(bfd_server(pa, pb))
            _, b = await stack.enter_async_context(bfd_server(pb, pa))
            events: list[tuple[float, bfd_pb2.SessionEvent]] = []
            markers: list[common_pb2.EndOfSnapshot] = []
            call = a.WatchSessions(bfd_pb2.WatchSessionsRequest())

            async def consume() -> None:
                async for response in call:
                    at = time.time()
                    events.extend((at, event) for event in response.events)
                    if response.HasField("end_of_snapshot"):
                        markers.append(response.end_of_snapshot)

            reader = asyncio.get_running_loop().create_task(consume())
            try:

                async def subscribed() -> bool:
                    return bool(markers)

                await _until("END_OF_SNAPSHOT", subscribed, 5)
                await a.AddSession(bfd_pb2.AddSessionRequest(session=conf(B, A)))
                await b.AddSession(bfd_pb2.AddSessionRequest(session=conf(A, B)))

                async def a_up() -> bool:
                    got = await a.GetSession(bfd_pb2.GetSessionRequest(key=key(B)))
                    return bool(got.session.state.local_state == bfd_pb2.STATE_UP)

                await _until("A Up", a_up, 10)
                state = (await a.GetSession(bfd_pb2.GetSessionRequest(key=key(B)))).session.state
                assert state.detection_time == lab.ms(150)
                assert state.transmit_interval == lab.ms(50)
                assert state.last_transition.reason == bfd_pb2.TRANSITION_REASON_PEER_SIGNALED
                kinds = [e.type for _, e in events]
                assert markers == [common_pb2.EndOfSnapshot(start=common_pb2.WATCH_START_SNAPSHOT)]
                assert kinds[0] == bfd_pb2.SESSION_EVENT_TYPE_ADDED  # the snapshot was empty
                await b.DeleteSession(bfd_pb2.DeleteSessionRequest(key=key(A)))  # AdminDown

                async def a_down_seen() -> bool:
                    return any(e.transition.to == bfd_pb2.STATE_DOWN for _, e in events)

                await _until("Down on the watch", a_down_seen, 5)
                arrived, down = next(
                    (t, e) for t, e in events if e.transition.to == bfd_pb2.STATE_DOWN
                )
                assert down.transition.reason == bfd_pb2.TRANSITION_REASON_NEIGHBOR_SIGNALED_DOWN
                assert down.session.state.remote_state == bfd_pb2.STATE_ADMIN_DOWN
                latency = arrived - down.transition.time.ToNanoseconds() / 1e9
                assert latency < 0.050, f"Down reached the watcher {latency * 1000:.1f} ms late"
                print(f"Down reached the gRPC watcher {latency * 1000:.2f} ms after detection")
                metrics = generate_latest(server_a.registry).decode()
                labels = '{interface="",peer="127.0.0.2",vrf=""}'
                assert f"metallb_bfd_session_up{labels} 0.0" in metrics
                assert f"metallb_bfd_session_down_events{labels} 1.0" in metrics
                assert "metallb_bfd_control_packet_input{" in metrics
                assert "metallb_bfd_echo_packet_output{" in metrics
            finally:
                call.cancel()
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)

    arun(scenario())


def test_echo_function_between_two_services(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        pa, pb = free_ports(), free_ports()
        async with AsyncExitStack() as stack:
            _, a = await stack.enter_async_context(bfd_server(pa, pb))
            _, b = await stack.enter_async_context(bfd_server(pb, pa))
            for stub, peer, local in ((a, B, A), (b, A, B)):
                session = conf(peer, local, 100)
                session.profile.echo_mode = True
                session.profile.echo_interval.FromMilliseconds(20)
                await stub.AddSession(bfd_pb2.AddSessionRequest(session=session))

            async def echoing() -> bool:
                state = (await a.GetSession(bfd_pb2.GetSessionRequest(key=key(B)))).session.state
                return bool(state.echo_active and state.counters.echo_packets_in >= 5)

            await _until("echo packets looped back", echoing, 10)
            state = (await a.GetSession(bfd_pb2.GetSessionRequest(key=key(B)))).session.state
            assert state.remote_required_min_echo_rx == lab.ms(20)
            assert state.echo_rtt.ToNanoseconds() > 0
            assert state.local_state == bfd_pb2.STATE_UP

    arun(scenario())


def test_metallb_grpc_bfd_command_serves_health_metrics_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    metrics_port = _free_tcp_port()
    sock = tmp_path / "bfd.sock"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "metallb_cli",
            "bfd",
            "--listen",
            f"unix:{sock}",
            "--metrics-listen",
            f"127.0.0.1:{metrics_port}",
            "--grace",
            "0.5",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'protos'}"},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "metrics on" in line:
                break
        else:
            pytest.fail(f"metallb-grpc bfd did not start: {proc.wait()}")
        with grpc.insecure_channel(f"unix:{sock}") as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="metallb.bfd.v1.BFDService"), timeout=5
            )
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            listed = bfd_pb2_grpc.BFDServiceStub(channel).ListSessions(
                bfd_pb2.ListSessionsRequest(), timeout=5
            )
            assert not listed.sessions
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics") as response:
            assert b"metallb_bfd_send_errors 0.0" in response.read()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
