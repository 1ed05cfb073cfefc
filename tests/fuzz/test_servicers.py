"""Every gRPC method of every service, fed random and mutated request messages (issue 15).

The methods are read from the services' descriptors, so a method added later is fuzzed too.
Each service runs as `metallb-grpc SERVICE`, as deployed; BGP, BFD and L2 run in a network
namespace of their own (`unshare --net`: only a loopback, down), so a fuzzed peer or session
address reaches nobody, and L2 excludes every interface. A request may be refused with any
status but INTERNAL or UNKNOWN (the error-mapping interceptor's answer to an exception no
handler expected: a bug) and must be answered within the deadline; the server must still be
serving afterwards. Inputs found crashing are kept in tests/fuzz/corpus/ and replayed first.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message_factory import GetMessageClass
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metallb.bfd.v1 import bfd_pb2
from metallb.bgp.v1 import bgp_pb2
from metallb.ipam.v1 import ipam_pb2
from metallb.l2.v1 import l2_pb2
from tests.conftest import require_binary, require_root
from tests.fuzz.corpus import corpus_inputs
from tests.fuzz.messages import messages, mutated, near
from tests.fuzz.seeds import SEEDS, SETUP

PROTOS = {"ipam": ipam_pb2, "bgp": bgp_pb2, "bfd": bfd_pb2, "l2": l2_pb2}
ISOLATED = {"bgp", "bfd", "l2"}  # they open sockets to the addresses they are given
EXTRA = {"l2": ["--exclude-interface", ".*"]}
BUGS = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)
DEADLINE = 10.0

METHODS = [
    (name, method)
    for name, module in PROTOS.items()
    for service in module.DESCRIPTOR.services_by_name.values()
    for method in service.methods
]


@dataclass
class Running:
    name: str
    proc: subprocess.Popen[bytes]
    channel: grpc.Channel
    log: Path

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _spawn(name: str, folder: Path) -> Running:
    socket = folder / f"{name}.sock"
    log = folder / f"{name}.log"
    argv = [require_binary("metallb-grpc"), name, "--listen", f"unix:{socket}"]
    argv += ["--metrics-listen", "", "--grace", "0.2", *EXTRA.get(name, [])]
    if name in ISOLATED:
        require_root("a network namespace of its own, so fuzzed addresses reach nobody")
        argv = [require_binary("unshare"), "--net", *argv]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    return Running(name, proc, grpc.insecure_channel(f"unix:{socket}"), log)


def _ready(running: Running) -> Running:
    try:
        grpc.channel_ready_future(running.channel).result(timeout=60)
    except grpc.FutureTimeoutError:
        running.proc.kill()
        raise AssertionError(f"{running.name} did not start:\n{running.tail()}") from None
    return running


def _start(name: str, folder: Path) -> Running:
    return _ready(_spawn(name, folder))


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Running]]:
    # A short folder: a unix socket's path is at most 107 bytes.
    folder = Path(tmp_path_factory.mktemp("fz", numbered=True))
    if len(str(folder)) > 80:
        folder = Path(f"/tmp/mlbfz-{os.getpid()}")
        folder.mkdir(exist_ok=True)
    running: dict[str, Running] = {}
    try:
        for name in PROTOS:  # started together: each takes seconds to import
            running[name] = _spawn(name, folder)
        for server in running.values():
            _ready(server)
        yield running
    finally:
        for server in running.values():
            server.channel.close()
            server.proc.terminate()
        for server in running.values():
            try:
                server.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.proc.kill()


def _identity(data: bytes) -> bytes:
    return data


def call(server: Running, method: MethodDescriptor, request: bytes) -> grpc.StatusCode:
    """Send `request` (encoded) to `method`; the status it ends with. A stream is read up to its
    first response (a Watch sends its snapshot at once) and then cancelled."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    try:
        if method.server_streaming:
            stream = server.channel.unary_stream(
                path, request_serializer=_identity, response_deserializer=_identity
            )(request, timeout=DEADLINE)
            next(iter(stream), None)
            stream.cancel()
        else:
            server.channel.unary_unary(
                path, request_serializer=_identity, response_deserializer=_identity
            )(request, timeout=DEADLINE)
    except grpc.RpcError as err:
        code: grpc.StatusCode = err.code()
        if code == grpc.StatusCode.CANCELLED and method.server_streaming:
            return grpc.StatusCode.OK
        return code
    return grpc.StatusCode.OK


def _set_up(server: Running) -> None:
    """The state the seeds expect (SETUP), again: an earlier method's fuzzing changed it."""
    [methods] = [
        s.methods_by_name for s in PROTOS[server.name].DESCRIPTOR.services_by_name.values()
    ]
    for method, request in SETUP[server.name]:
        code = call(server, methods[method], request.SerializeToString())
        assert code not in BUGS, (method, code)  # the first time OK; later already there


def _check(server: Running, method: MethodDescriptor, request: bytes) -> None:
    code = call(server, method, request)
    if code in BUGS or code == grpc.StatusCode.DEADLINE_EXCEEDED:
        decoded = GetMessageClass(method.input_type).FromString(request)
        raise AssertionError(
            f"{method.full_name} answered {code.name} to {str(decoded)[:2000]!r}\n"
            f"server log:\n{server.tail()}"
        )
    assert server.proc.poll() is None, f"{server.name} exited:\n{server.tail()}"


@pytest.mark.parametrize(("name", "method"), METHODS, ids=[m.full_name for _, m in METHODS])
def test_every_method_answers_any_request_with_a_proper_status(
    servers: dict[str, Running], name: str, method: MethodDescriptor
) -> None:
    server = servers[name]
    _set_up(server)
    seed = SEEDS.get(method.full_name) or GetMessageClass(method.input_type)()
    for request in [seed.SerializeToString(), *corpus_inputs(method.full_name)]:
        _check(server, method, request)

    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        st.one_of(
            messages(method.input_type).map(lambda m: m.SerializeToString()),
            mutated(method.input_type),
            near(seed).map(lambda m: m.SerializeToString()),
        )
    )
    def fuzz(request: bytes) -> None:
        _check(server, method, request)

    fuzz()
    health = health_pb2_grpc.HealthStub(server.channel)
    reply = health.Check(health_pb2.HealthCheckRequest(), timeout=DEADLINE)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_every_service_method_is_fuzzed() -> None:
    """The list comes from the descriptors: nothing to forget when a method is added."""
    assert len(METHODS) == sum(
        len(s.methods) for m in PROTOS.values() for s in m.DESCRIPTOR.services_by_name.values()
    )
    assert {n for n, _ in METHODS} == set(PROTOS)
