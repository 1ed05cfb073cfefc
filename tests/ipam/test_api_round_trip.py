"""API v1 round trips: what Get/List return can be sent back unchanged, and the gateway's and the
service's converters agree (a message built by one is read back by the other without loss)."""

from collections.abc import Callable
from typing import Any

import pytest

from gateway.controller.converge import load_balancer_service
from gateway.controller.ipam_client import pool_to_proto
from metallb.common.v1 import common_pb2
from metallb.ipam.v1 import ipam_pb2
from metallb_rules.labels import LabelSelector
from metallb_rules.pools import PoolSpec, ServiceAllocationSpec
from metallb_rules.service import ServicePort, ServiceSpec
from services.ipam import convert
from tests.ipam.test_grpc_service import ipam_server

SELECTOR = LabelSelector.build({"team": "a"}, [("tier", "In", ["web", "db"]), ("x", "Exists", [])])
SPECS = [
    PoolSpec("plain", ("192.0.2.0/28",)),
    PoolSpec("off", ("198.51.100.10-198.51.100.20", "2001:db8::/126"), auto_assign=False),
    PoolSpec(
        "pinned",
        ("203.0.113.0/30",),
        avoid_buggy_ips=True,
        service_allocation=ServiceAllocationSpec(
            priority=5,
            namespaces=("a", "b"),
            namespace_selectors=(SELECTOR,),
            service_selectors=(LabelSelector.build({"app": "x"}),),
        ),
    ),
    PoolSpec("priority-only", ("203.0.113.8/30",), service_allocation=ServiceAllocationSpec(1)),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_pool_spec_survives_the_gateway_and_the_service(spec: PoolSpec) -> None:
    assert convert.pool_spec_from_proto(pool_to_proto(spec), 0) == spec


def test_listed_pools_can_be_sent_back_unchanged(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        async with ipam_server() as (_, stub):
            sent = [pool_to_proto(s) for s in SPECS]
            bare = ipam_pb2.Pool(name="bare", addresses=["192.0.2.64/30"])  # defaults left out
            await stub.SetPools(ipam_pb2.SetPoolsRequest(pools=[*sent, bare]))
            listed = [p.conf for p in (await stub.ListPools(ipam_pb2.ListPoolsRequest())).pools]
            by_name = {p.name: p for p in listed}
            for pool in sent:
                assert by_name[pool.name] == pool
            # The CRD default is spelt out: autoAssign true.
            assert by_name["bare"].HasField("auto_assign") and by_name["bare"].auto_assign
            await stub.SetPools(ipam_pb2.SetPoolsRequest(pools=listed))
            again = [p.conf for p in (await stub.ListPools(ipam_pb2.ListPoolsRequest())).pools]
            assert again == listed
            got = await stub.GetPool(ipam_pb2.GetPoolRequest(name="pinned"))
            assert got.pool.conf == by_name["pinned"]

    arun(scenario())


SERVICES = [
    ServiceSpec("ns", "plain", type="LoadBalancer", cluster_ips=("10.96.0.1",)),
    ServiceSpec(
        "ns",
        "full",
        type="LoadBalancer",
        cluster_ips=("fd00::1", "10.96.0.2"),
        ip_families=("IPv6", "IPv4"),
        ip_family_policy="PreferDualStack",
        load_balancer_ip="192.0.2.1",
        external_traffic_policy="Local",
        selector={"app": "web"},
        labels={"tier": "front"},
        annotations={
            "metallb.io/allow-shared-ip": "k",
            "metallb.universe.tf/address-pool": "p",
            "metallb.io/ip-allocated-from-pool": "p",
        },
        ports=(ServicePort("UDP", 53), ServicePort("SCTP", 9)),
        ingress_ips=("192.0.2.1", "2001:db8::1"),
    ),
    ServiceSpec("ns", "former", type="NodePort", ingress_ips=("192.0.2.9",)),
]


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_a_service_survives_the_gateway_and_the_service(spec: ServiceSpec) -> None:
    msg = load_balancer_service(spec)
    assert convert.load_balancer_service_from_proto(msg, "services[0]") == spec


def test_what_the_rules_do_not_read_is_not_sent() -> None:
    spec = ServiceSpec(
        "ns",
        "s",
        type="LoadBalancer",
        selector={"app": "web"},  # externalTrafficPolicy Cluster: no backend key
        annotations={"kubectl.kubernetes.io/last-applied-configuration": "{...}"},
    )
    msg = load_balancer_service(spec)
    assert not msg.selector and not msg.annotations
    back = convert.load_balancer_service_from_proto(msg, "services[0]")
    assert back.backend_key == spec.backend_key == ""
    assert msg.ip_family_policy == common_pb2.IP_FAMILY_POLICY_SINGLE_STACK
