"""Every service reports a restart the same way: an instance id, in GetStatus and in the resume
tokens of its watch stream; a token from before a restart gets a full snapshot saying so.

(L2 needs raw sockets in a lab namespace: its check is in tests/l2/test_service.py.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from prometheus_client import CollectorRegistry

from metallb.bfd.v1 import bfd_pb2, bfd_pb2_grpc
from metallb.bgp.v1 import bgp_pb2, bgp_pb2_grpc
from metallb.common.v1 import common_pb2
from metallb.ipam.v1 import ipam_pb2, ipam_pb2_grpc
from metallb_runtime.server import Server, ServiceBinding
from services.bfd.service import bfd_binding
from services.bgp.service import bgp_binding
from services.ipam.service import ipam_binding
from tests.bfd.test_service import free_ports


@dataclass(frozen=True)
class Kind:
    name: str
    binding: Callable[[CollectorRegistry], ServiceBinding]
    stub: Callable[[grpc.aio.Channel], Any]
    status: Any  # GetStatusRequest
    watch: Callable[[common_pb2.ResumeToken | None], Any]  # the Watch* request
    watch_rpc: str


KINDS = [
    Kind(
        "ipam",
        ipam_binding,
        ipam_pb2_grpc.IPAMServiceStub,
        ipam_pb2.GetStatusRequest(),
        lambda token: ipam_pb2.WatchAllocationsRequest(resume_token=token),
        "WatchAllocations",
    ),
    Kind(
        "bgp",
        bgp_binding,
        bgp_pb2_grpc.BGPServiceStub,
        bgp_pb2.GetStatusRequest(),
        lambda token: bgp_pb2.WatchPeersRequest(resume_token=token),
        "WatchPeers",
    ),
    Kind(
        "bfd",
        lambda registry: bfd_binding(registry, free_ports(), free_ports()),
        bfd_pb2_grpc.BFDServiceStub,
        bfd_pb2.GetStatusRequest(),
        lambda token: bfd_pb2.WatchSessionsRequest(resume_token=token),
        "WatchSessions",
    ),
]


@asynccontextmanager
async def serving(kind: Kind) -> AsyncIterator[Any]:
    registry = CollectorRegistry()
    server = Server([kind.binding(registry)], "127.0.0.1:0", registry=registry, grace=0.5)
    address = await server.start()
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            yield kind.stub(channel)
    finally:
        await server.stop()


async def marker(kind: Kind, stub: Any, token: common_pb2.ResumeToken | None) -> Any:
    """The end-of-snapshot response of a new watch stream (which is then cancelled)."""
    call = getattr(stub, kind.watch_rpc)(kind.watch(token))
    try:
        while not (reply := await call.read()).HasField("end_of_snapshot"):
            pass
        return reply
    finally:
        call.cancel()


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_instance_id_in_status_and_tokens_changes_on_restart(
    arun: Callable[..., Any], kind: Kind
) -> None:
    async def scenario() -> None:
        async with serving(kind) as stub:
            first = (await stub.GetStatus(kind.status)).instance_id
            assert len(first) == 32
            assert (await stub.GetStatus(kind.status)).instance_id == first  # stable meanwhile
            reply = await marker(kind, stub, None)
            assert reply.resume_token.instance_id == first
            token = reply.resume_token
            again = await marker(kind, stub, token)
            assert again.end_of_snapshot.start == common_pb2.WATCH_START_RESUMED
        async with serving(kind) as stub:  # the same service, started again
            second = (await stub.GetStatus(kind.status)).instance_id
            assert second != first
            reply = await marker(kind, stub, token)
            assert reply.end_of_snapshot.start == common_pb2.WATCH_START_OTHER_INSTANCE
            assert reply.resume_token.instance_id == second

    arun(scenario())


def test_ipam_watch_resumed_over_grpc_sends_only_the_missed_changes(
    arun: Callable[..., Any],
) -> None:
    def service(name: str) -> ipam_pb2.Service:
        return ipam_pb2.Service(
            namespace="demo", name=name, ip_families=[common_pb2.IP_FAMILY_IPV4]
        )

    async def scenario() -> None:
        async with serving(KINDS[0]) as stub:
            await stub.SetPools(
                ipam_pb2.SetPoolsRequest(pools=[ipam_pb2.Pool(name="p", addresses=["10.0.0.0/29"])])
            )
            await stub.RestoreAllocations(ipam_pb2.RestoreAllocationsRequest(complete=True))
            await stub.Allocate(ipam_pb2.AllocateRequest(service=service("a")))
            call = stub.WatchAllocations(ipam_pb2.WatchAllocationsRequest())
            assert [e.allocation.name for e in (await call.read()).events] == ["a"]
            token = (await call.read()).resume_token
            call.cancel()
            await stub.Allocate(ipam_pb2.AllocateRequest(service=service("b")))  # missed
            call = stub.WatchAllocations(ipam_pb2.WatchAllocationsRequest(resume_token=token))
            first = await call.read()
            assert first.end_of_snapshot.start == common_pb2.WATCH_START_RESUMED
            assert not first.events
            missed = await call.read()
            assert [(e.type, e.allocation.name) for e in missed.events] == [
                (ipam_pb2.ALLOCATION_EVENT_TYPE_ALLOCATED, "b")
            ]
            assert missed.resume_token.sequence == token.sequence + 1
            call.cancel()

    arun(scenario())
