"""AllocateBatch: many Allocate calls in one round trip, each with its own result, in order."""

from collections.abc import Callable
from typing import Any

import grpc
import pytest

from gateway.controller.converge import IpamError
from gateway.controller.ipam_client import GrpcIpam
from metallb.ipam.v1 import ipam_pb2
from tests.ipam.test_grpc_service import V4, V6, _error, ipam_server, service


def test_items_are_handled_in_order_each_with_its_own_result(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        async with ipam_server() as (_, stub):
            pool = ipam_pb2.Pool(name="small", addresses=["192.0.2.0/31"])
            await stub.SetPools(ipam_pb2.SetPoolsRequest(pools=[pool]))
            batch = ipam_pb2.AllocateBatchRequest(
                requests=[
                    ipam_pb2.AllocateRequest(service=service("a", V4)),
                    ipam_pb2.AllocateRequest(service=service("bad", 99)),
                    ipam_pb2.AllocateRequest(service=service("b", V4)),
                    ipam_pb2.AllocateRequest(service=service("c", V4)),
                    ipam_pb2.AllocateRequest(service=service("v6", V6)),
                ]
            )
            # Before restoration the whole call is refused, exactly as Allocate is.
            err = await _error(stub.AllocateBatch(batch))
            assert err.code() == grpc.StatusCode.UNAVAILABLE
            await stub.RestoreAllocations(ipam_pb2.RestoreAllocationsRequest(complete=True))
            reply = await stub.AllocateBatch(batch)
            results = list(reply.results)
            assert [r.WhichOneof("result") for r in results] == [
                "allocation",
                "refusal",
                "allocation",
                "refusal",
                "refusal",
            ]
            assert list(results[0].allocation.ips) == ["192.0.2.0"]
            assert list(results[2].allocation.ips) == ["192.0.2.1"]
            bad = results[1].refusal
            assert bad.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
            assert bad.message.startswith("requests[1].service.ip_families")
            # The same texts as the unary call gives for the same request.
            for index, request in ((3, batch.requests[3]), (4, batch.requests[4])):
                unary = await _error(stub.Allocate(request))
                assert results[index].refusal.code == unary.code().value[0]
                assert results[index].refusal.message == unary.details()
            listed = await stub.ListAllocations(ipam_pb2.ListAllocationsRequest())
            assert sorted(a.name for a in listed.allocations) == ["a", "b"]

    arun(scenario())


def test_client_coalesces_concurrent_allocations_into_one_batch(
    arun: Callable[..., Any],
) -> None:
    """GrpcIpam.allocate: calls made in one loop turn share an AllocateBatch; each caller gets
    its own address or its own IpamError, and releases are skipped for what IPAM never held."""

    async def scenario() -> None:
        import asyncio

        async with ipam_server() as (server, stub):
            ipam = GrpcIpam(stub)
            await ipam.set_pools([ipam_pb2.Pool(name="p", addresses=["192.0.2.0/30"])])
            await ipam.restore([], complete=True)
            await ipam.learn_held()
            names = [f"s{i}" for i in range(6)]
            outcomes = await asyncio.gather(
                *(ipam.allocate(service(n, V4)) for n in names), return_exceptions=True
            )
            ips = [o.ips[0] for o in outcomes if isinstance(o, ipam_pb2.Allocation)]
            assert ips == ["192.0.2.0", "192.0.2.1", "192.0.2.2", "192.0.2.3"]
            refused = [o for o in outcomes if isinstance(o, IpamError)]
            assert len(refused) == 2 and "no available IPs" in refused[0].message

            def calls(rpc: str) -> float | None:
                return server.registry.get_sample_value(
                    "metallb_grpc_server_handled_total",
                    {"method": f"/metallb.ipam.v1.IPAMService/{rpc}", "code": "OK"},
                )

            assert (calls("AllocateBatch"), calls("Allocate")) == (1.0, None)
            # s5 holds nothing: no Release call is needed; s0 holds an address: released.
            assert await ipam.release_allocation("default", "s5") is False
            assert await ipam.release_allocation("default", "s0") is True
            assert calls("Release") == 1.0
            listed = await stub.ListAllocations(ipam_pb2.ListAllocationsRequest())
            assert sorted(a.name for a in listed.allocations) == ["s1", "s2", "s3"]

    arun(scenario())


@pytest.mark.parametrize("count", [1, 300])
def test_client_batch_sizes(arun: Callable[..., Any], count: int) -> None:
    async def scenario() -> None:
        import asyncio

        async with ipam_server() as (_, stub):
            ipam = GrpcIpam(stub)
            await ipam.set_pools([ipam_pb2.Pool(name="p", addresses=["198.18.0.0/16"])])
            await ipam.restore([], complete=True)
            got = await asyncio.gather(*(ipam.allocate(service(f"s{i}", V4)) for i in range(count)))
            assert len({a.ips[0] for a in got}) == count

    arun(scenario())
