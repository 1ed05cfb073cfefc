"""Many pools (issue 14): the overlap check is O(n log n) and agrees with the pairwise one, and
validating a large set does not hold up the service: a health check sent right after a SetPools
of 10,000 pools is answered before it."""

import asyncio
import ipaddress
from collections.abc import Callable
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import given, settings
from hypothesis import strategies as st

from metallb.ipam.v1 import ipam_pb2
from metallb_rules.pools import InvalidPoolsError, PoolSpec, parse_pool_specs
from tests.ipam.test_grpc_service import ipam_server


def pairwise_first_overlap(specs: list[PoolSpec]) -> str | None:
    """MetalLB's check, pair by pair: the first CIDR overlapping one defined before it."""
    defined: list[Any] = []
    for spec in sorted(specs, key=lambda s: s.name):
        for text in spec.addresses:
            net = ipaddress.ip_network(text)
            for other in defined:
                if net.version == other.version and net.overlaps(other):
                    return (
                        f'CIDR "{net}" in pool "{spec.name}" overlaps with already defined '
                        f'CIDR "{other}"'
                    )
            defined.append(net)
    return None


NETS = st.builds(
    lambda a, b, plen: f"10.{a}.{b}.0/{plen}",
    st.integers(0, 3),
    st.integers(0, 255),
    st.sampled_from([16, 20, 24, 28]),
).map(lambda t: str(ipaddress.ip_network(t, strict=False)))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(NETS, min_size=1, max_size=3), min_size=1, max_size=12))
def test_the_overlap_found_is_the_one_metallb_names(groups: list[list[str]]) -> None:
    specs = [PoolSpec(name=f"p{i:02}", addresses=tuple(g)) for i, g in enumerate(groups)]
    want = pairwise_first_overlap(specs)
    try:
        parse_pool_specs(specs)
        got = None
    except InvalidPoolsError as err:
        got = err.message
    if want is None:
        assert got is None or "overlaps" not in got
    else:
        assert got is not None and got.endswith(want)


def ten_thousand_pools() -> ipam_pb2.SetPoolsRequest:
    return ipam_pb2.SetPoolsRequest(
        pools=[
            ipam_pb2.Pool(name=f"p{i:05}", addresses=[f"10.{i // 256}.{i % 256}.0/24"])
            for i in range(10_000)
        ]
    )


def test_a_health_check_is_answered_while_pools_are_validated(arun: Callable[..., Any]) -> None:
    async def scenario() -> list[str]:
        async with (
            ipam_server() as (server, stub),
            grpc.aio.insecure_channel(server.address) as channel,
        ):
            order: list[str] = []
            health = health_pb2_grpc.HealthStub(channel)
            request = ten_thousand_pools()

            async def set_pools() -> None:
                await stub.SetPools(request, timeout=120)
                order.append("SetPools")

            async def check() -> None:
                await asyncio.sleep(0)  # SetPools is sent first
                await health.Check(health_pb2.HealthCheckRequest(), timeout=120)
                order.append("health")

            await asyncio.gather(set_pools(), check())
            return order

    assert arun(scenario()) == ["health", "SetPools"]
