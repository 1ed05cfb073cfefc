"""The IPAM service over real gRPC: a server bound to port 0, driven through the generated stubs."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CollectorRegistry, generate_latest

from metallb.common.v1 import common_pb2
from metallb.ipam.v1 import ipam_pb2, ipam_pb2_grpc
from metallb_runtime.server import Server
from services.ipam.service import SERVICE_NAME, ipam_binding

V4 = common_pb2.IP_FAMILY_IPV4
V6 = common_pb2.IP_FAMILY_IPV6


@asynccontextmanager
async def ipam_server(listen: str = "127.0.0.1:0") -> AsyncIterator[tuple[Server, Any]]:
    registry = CollectorRegistry()
    server = Server([ipam_binding(registry)], listen, registry=registry, grace=0.5)
    address = await server.start()
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            yield server, ipam_pb2_grpc.IPAMServiceStub(channel)
    finally:
        await server.stop()


def service(name: str, *families: Any, **kw: Any) -> ipam_pb2.Service:
    return ipam_pb2.Service(namespace="default", name=name, ip_families=list(families), **kw)


async def _error(call: Awaitable[Any]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value


def test_allocate_flow_pools_status_and_metrics(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        async with ipam_server() as (server, stub):
            pools = await stub.SetPools(
                ipam_pb2.SetPoolsRequest(
                    pools=[
                        ipam_pb2.Pool(name="default", addresses=["192.0.2.0/30", "2001:db8::/126"])
                    ]
                )
            )
            assert pools.pools[0].state.ipv4_addresses_total == 4
            status = await stub.GetStatus(ipam_pb2.GetStatusRequest())
            assert not status.restore_complete and status.instance_id
            err = await _error(stub.Allocate(ipam_pb2.AllocateRequest(service=service("a", V4))))
            assert err.code() == grpc.StatusCode.UNAVAILABLE
            await stub.RestoreAllocations(ipam_pb2.RestoreAllocationsRequest(complete=True))
            dual = await stub.Allocate(
                ipam_pb2.AllocateRequest(
                    service=service(
                        "dual",
                        V4,
                        V6,
                        ip_family_policy=common_pb2.IP_FAMILY_POLICY_REQUIRE_DUAL_STACK,
                    )
                )
            )
            assert list(dual.allocation.ips) == ["192.0.2.0", "2001:db8::"]
            got = await stub.GetAllocation(
                ipam_pb2.GetAllocationRequest(
                    service=common_pb2.ServiceKey(namespace="default", name="dual")
                )
            )
            assert got.allocation == dual.allocation
            state = (await stub.GetPool(ipam_pb2.GetPoolRequest(name="default"))).pool.state
            assert (state.ipv4_addresses_in_use, state.ipv6_addresses_available) == (1, 3)
            metrics = generate_latest(server.registry).decode()
            assert 'metallb_allocator_ipv6_addresses_in_use_total{pool="default"} 1.0' in metrics
            assert 'metallb_allocator_addresses_total{pool="default"} 8.0' in metrics
            released = await stub.Release(
                ipam_pb2.ReleaseRequest(
                    service=common_pb2.ServiceKey(namespace="default", name="dual")
                )
            )
            assert list(released.released.ips) == ["192.0.2.0", "2001:db8::"]
            listed = await stub.ListAllocations(ipam_pb2.ListAllocationsRequest())
            assert not listed.allocations

    arun(scenario())


def test_bad_input_gets_the_right_code_names_the_field_and_changes_nothing(
    arun: Callable[..., Any],
) -> None:
    async def scenario() -> None:
        async with ipam_server() as (_, stub):
            await stub.SetPools(
                ipam_pb2.SetPoolsRequest(pools=[ipam_pb2.Pool(name="p", addresses=["10.0.0.0/31"])])
            )
            await stub.RestoreAllocations(ipam_pb2.RestoreAllocationsRequest(complete=True))
            err = await _error(
                stub.SetPools(
                    ipam_pb2.SetPoolsRequest(
                        pools=[ipam_pb2.Pool(name="p", addresses=["10.0.0.0/33"])]
                    )
                )
            )
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert err.details() == (
                'pools[0].addresses[0]: parsing address pool p: invalid CIDR "10.0.0.0/33" in '
                'pool "p": invalid CIDR "10.0.0.0/33"'
            )
            cases = [
                (
                    service("a", V4, requested_pool="nope"),
                    grpc.StatusCode.NOT_FOUND,
                    'service.requested_pool: unknown pool "nope"',
                ),
                (
                    service("a", V6, requested_ips=["10.0.0.1"]),
                    grpc.StatusCode.INVALID_ARGUMENT,
                    'service.requested_ips: requested loadBalancer IP(s) ["10.0.0.1"] does not '
                    "match the ipFamily of the service",
                ),
                (
                    service("a", V4, requested_ips=["x"]),
                    grpc.StatusCode.INVALID_ARGUMENT,
                    'service.requested_ips: invalid metallb.io/loadBalancerIPs: "x"',
                ),
                (
                    service("a"),
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "service.ip_families: a service has one IP family, or two different ones (from "
                    "its cluster IPs)",
                ),
                (
                    service("a", 7),
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "service.ip_families[0]: IP family must be IP_FAMILY_IPV4 or IP_FAMILY_IPV6",
                ),
            ]
            for svc, code, text in cases:
                err = await _error(stub.Allocate(ipam_pb2.AllocateRequest(service=svc)))
                assert (err.code(), err.details()) == (code, text)
            await stub.Allocate(ipam_pb2.AllocateRequest(service=service("a", V4)))
            await stub.Allocate(ipam_pb2.AllocateRequest(service=service("b", V4)))
            err = await _error(stub.Allocate(ipam_pb2.AllocateRequest(service=service("c", V4))))
            assert (err.code(), err.details()) == (
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "no available IPs",
            )
            err = await _error(
                stub.Assign(ipam_pb2.AssignRequest(service=service("c", V4), ips=["10.0.0.0"]))
            )
            assert err.code() == grpc.StatusCode.ALREADY_EXISTS
            err = await _error(stub.GetPool(ipam_pb2.GetPoolRequest(name="zzz")))
            assert (err.code(), err.details()) == (
                grpc.StatusCode.NOT_FOUND,
                'name: unknown pool "zzz"',
            )
            listed = await stub.ListAllocations(ipam_pb2.ListAllocationsRequest())
            assert [a.name for a in listed.allocations] == ["a", "b"]

    arun(scenario())


def test_watch_streams_snapshot_marker_then_changes(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        async with ipam_server() as (_, stub):
            await stub.SetPools(
                ipam_pb2.SetPoolsRequest(pools=[ipam_pb2.Pool(name="p", addresses=["10.0.0.0/30"])])
            )
            await stub.RestoreAllocations(
                ipam_pb2.RestoreAllocationsRequest(
                    restorations=[
                        ipam_pb2.Restoration(service=service("old", V4), ips=["10.0.0.2"])
                    ],
                    complete=True,
                )
            )
            call = stub.WatchAllocations(ipam_pb2.WatchAllocationsRequest())
            (first,) = (await call.read()).events
            assert first.type == ipam_pb2.ALLOCATION_EVENT_TYPE_SNAPSHOT
            assert list(first.allocation.ips) == ["10.0.0.2"]
            marker = await call.read()
            assert marker.end_of_snapshot.start == common_pb2.WATCH_START_SNAPSHOT
            await stub.Allocate(ipam_pb2.AllocateRequest(service=service("new", V4)))
            (event,) = (await asyncio.wait_for(call.read(), 5)).events
            assert event.type == ipam_pb2.ALLOCATION_EVENT_TYPE_ALLOCATED
            assert (event.allocation.name, list(event.allocation.ips)) == ("new", ["10.0.0.0"])
            # Shrinking the pool releases "old": the watcher learns why.
            lost = await stub.SetPools(
                ipam_pb2.SetPoolsRequest(pools=[ipam_pb2.Pool(name="p", addresses=["10.0.0.0/31"])])
            )
            assert [x.allocation.name for x in lost.lost] == ["old"]
            assert lost.lost[0].message == '["10.0.0.2"] is not allowed in config'
            (event,) = (await asyncio.wait_for(call.read(), 5)).events
            assert event.type == ipam_pb2.ALLOCATION_EVENT_TYPE_RELEASED
            assert event.release_reason == ipam_pb2.RELEASE_REASON_NOT_IN_ANY_POOL
            call.cancel()

    arun(scenario())


def test_health_reflection_and_graceful_stop(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        registry = CollectorRegistry()
        server = Server([ipam_binding(registry)], "127.0.0.1:0", registry=registry, grace=0.5)
        address = await server.start()
        async with grpc.aio.insecure_channel(address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for name in ("", SERVICE_NAME):
                reply = await health.Check(health_pb2.HealthCheckRequest(service=name))
                assert reply.status == health_pb2.HealthCheckResponse.SERVING
            watch = health.Watch(health_pb2.HealthCheckRequest(service=SERVICE_NAME))
            assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
            stopping = asyncio.ensure_future(server.stop())
            assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
            await stopping
            watch.cancel()

    arun(scenario())


def test_unix_socket_listen(arun: Callable[..., Any], tmp_path: Any) -> None:
    async def scenario() -> None:
        async with ipam_server(f"unix:{tmp_path}/ipam.sock") as (_, stub):
            status = await stub.GetStatus(ipam_pb2.GetStatusRequest())
            assert status.pools == 0

    arun(scenario())
