"""What a complete set of Services costs IPAM in Python objects (issue 15: IPAM's peak RSS under
16 concurrent maximum-size requests < 2x idle; a 4 MiB ConvergeServices is ~39,600 Services).

Measured with tracemalloc over a deterministic in-process conversion and decision of N
Services shaped like bench/limits.py's (a label, a selector, one port, one cluster IP): what one
converted Service costs while the set is decided, and what the allocator keeps of each for good.
The bounds are generous (1.3x what the code takes today: ~620 and ~910 bytes); the code before
the slimming (unslotted ServiceSpec, a dictionary per map field, the allocator keeping each whole
request and a port dictionary per address) took ~1,440 and ~1,570 bytes."""

import gc
import tracemalloc
from collections.abc import Mapping
from typing import Any

from metallb.common.v1 import common_pb2
from metallb.ipam.v1 import ipam_pb2
from metallb_rules.allocator.allocator import Allocator
from metallb_rules.allocator.pools import PoolSpec
from metallb_rules.balancer import decide_batch
from metallb_rules.service import ServiceSpec
from services.ipam import convert

N = 4000
SET = 16_000  # more than the 4,096 changes the watchers' log keeps with no stream


def _service(i: int) -> ipam_pb2.LoadBalancerService:
    return ipam_pb2.LoadBalancerService(
        namespace="default",
        name=f"web-{i:05}",
        type="LoadBalancer",
        cluster_ips=[f"10.96.{i >> 8 & 255}.{i & 255}"],
        ip_families=[common_pb2.IP_FAMILY_IPV4],
        external_traffic_policy="Cluster",
        selector={"app": f"web-{i:05}"},
        labels={"app": f"web-{i:05}"},
        ports=[common_pb2.Port(protocol=common_pb2.PROTOCOL_TCP, port=80)],
    )


def _traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def test_a_complete_set_costs_a_bounded_number_of_bytes_per_service() -> None:
    services = [_service(i) for i in range(N)]
    alloc = Allocator()
    alloc.set_pools([PoolSpec(name="default", addresses=("198.18.0.0/16",))])
    alloc.restore([], complete=True)
    no_labels: Mapping[str, str] = {}
    tracemalloc.start()
    try:
        before = _traced()
        items: list[tuple[ServiceSpec, Mapping[str, str]]] = [
            (convert.load_balancer_service_from_proto(svc, f"services[{i}]"), no_labels)
            for i, svc in enumerate(services)
        ]
        converted = (_traced() - before) / N
        decided = []
        decide_batch(alloc, items, complete_set=True, emit=lambda i, d: decided.append(i))
        alloc.take_changes()
        del items
        kept = (_traced() - before) / N
    finally:
        tracemalloc.stop()
    assert len(decided) == N and len(alloc.allocations()) == N
    assert converted < 800, f"{converted:.0f} bytes per converted Service"
    assert kept < 1200, f"{kept:.0f} bytes kept per allocated Service"


def test_replacing_a_complete_set_does_not_hold_every_change_until_the_call_ends() -> None:
    """The same complete set again (no addresses in status: each Service is released and given
    an address anew, MetalLB §1.3 step 6, two changes each) in IPAM's state, no watcher: each
    change goes to the watchers' log as it is made, and the log keeps the last 4,096, so the
    pass's peak holds no change per Service: ~330 bytes per Service over the state (the set's
    keys, its order, the last changes); collected until the call ended, ~660."""
    from prometheus_client import CollectorRegistry

    from services.ipam.service import IPAMState

    state = IPAMState(CollectorRegistry())
    alloc = state.allocator
    alloc.set_pools([PoolSpec(name="default", addresses=("198.18.0.0/16",))])
    alloc.restore([], complete=True)
    no_labels: Mapping[str, str] = {}
    items: list[tuple[ServiceSpec, Mapping[str, str]]] = [
        (convert.load_balancer_service_from_proto(_service(i), f"services[{i}]"), no_labels)
        for i in range(SET)
    ]
    tracemalloc.start()  # before the first pass: what the second one frees is traced too
    try:
        decide_batch(alloc, items, complete_set=True, emit=lambda i, d: None)
        before = _traced()
        tracemalloc.reset_peak()
        decide_batch(alloc, items, complete_set=True, emit=lambda i, d: None)
        peak = (tracemalloc.get_traced_memory()[1] - before) / SET
    finally:
        tracemalloc.stop()
    assert len(alloc.allocations()) == SET
    assert peak < 450, f"{peak:.0f} bytes per Service at the peak of the pass"


def test_ipam_converges_a_complete_set_without_holding_it_converted() -> None:
    """ConvergeServices through the servicer, the same complete set a second time: each Service
    is converted when the rules read it, its decision encoded when made, so the call's peak over
    the state it replaces is ~490 bytes per Service (all converted first, it was ~850)."""
    import asyncio

    from prometheus_client import CollectorRegistry

    from services.ipam.service import IPAMServicer, IPAMState
    from services.ipam.wire import RawConvergeServicesRequest

    data = ipam_pb2.ConvergeServicesRequest(
        services=[_service(i) for i in range(SET)], complete_set=True
    ).SerializeToString()
    no_context: Any = None

    async def scenario() -> float:
        state = IPAMState(CollectorRegistry())
        await state.start()
        servicer = IPAMServicer(state)
        pool = ipam_pb2.Pool(name="default", addresses=["198.18.0.0/16"])
        await servicer.SetPools(ipam_pb2.SetPoolsRequest(pools=[pool]), no_context)
        tracemalloc.start()
        try:
            first = await servicer.ConvergeServices(
                RawConvergeServicesRequest.FromString(data), no_context
            )
            del first
            before = _traced()
            tracemalloc.reset_peak()
            again = await servicer.ConvergeServices(
                RawConvergeServicesRequest.FromString(data), no_context
            )
            peak = (tracemalloc.get_traced_memory()[1] - before) / SET
        finally:
            tracemalloc.stop()
            await state.stop()
        reply = ipam_pb2.ConvergeServicesResponse.FromString(again)
        assert len(reply.decisions) == SET and all(d.ingress_ips for d in reply.decisions)
        return peak

    peak = asyncio.run(scenario())
    assert peak < 650, f"{peak:.0f} bytes per Service at the peak of the call"


def test_a_pool_set_costs_a_bounded_number_of_bytes_per_pool() -> None:
    """SetPools validates the new set while the old one is held (an invalid set changes nothing):
    two sets at once, 16,384 pools each at the bound. One validated pool of one /24 (its spec,
    parsed form and address space) costs ~910 bytes; unslotted, each with an empty namespace set
    and a cached broadcast address of its own, it was ~1,430."""
    from metallb_rules.allocator.pools import parse_pools

    pools = [
        ipam_pb2.Pool(name=f"pool-{i:05}", addresses=[f"10.{i >> 8 & 255}.{i & 255}.0/24"])
        for i in range(N)
    ]
    tracemalloc.start()
    try:
        before = _traced()
        parsed = parse_pools(convert.pool_specs_from_proto(pools))
        per_pool = (_traced() - before) / N
    finally:
        tracemalloc.stop()
    assert len(parsed) == N
    assert per_pool < 1200, f"{per_pool:.0f} bytes per validated pool"
