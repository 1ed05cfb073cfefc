"""The controller's converge algorithm (reference §1.3) against a real IPAM server (port 0)."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import grpc
from prometheus_client import CollectorRegistry

from gateway.controller.converge import ConvergeResult, converge
from gateway.controller.ipam_client import GrpcIpam
from metallb.ipam.v1 import ipam_pb2, ipam_pb2_grpc
from metallb_rules.service import ServiceSpec, service_from_k8s
from metallb_runtime.server import Server
from services.ipam.service import ipam_binding

POOLS = [
    ipam_pb2.Pool(name="default", addresses=["10.0.0.0/30", "fd00::/126"]),
    ipam_pb2.Pool(name="other", addresses=["10.9.0.0/30"], auto_assign=False),
]


@asynccontextmanager
async def ipam() -> AsyncIterator[GrpcIpam]:
    registry = CollectorRegistry()
    server = Server([ipam_binding(registry)], "127.0.0.1:0", registry=registry, grace=0.1)
    address = await server.start()
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            stub = ipam_pb2_grpc.IPAMServiceStub(channel)
            await stub.SetPools(ipam_pb2.SetPoolsRequest(pools=POOLS))
            await stub.RestoreAllocations(ipam_pb2.RestoreAllocationsRequest(complete=True))
            yield GrpcIpam(stub)
    finally:
        await server.stop()


def lb(
    name: str,
    *,
    ingress: tuple[str, ...] = (),
    cluster: tuple[str, ...] = ("172.30.0.1",),
    annotations: dict[str, str] | None = None,
    policy: str = "SingleStack",
    lb_ip: str = "",
    type_: str = "LoadBalancer",
) -> ServiceSpec:
    obj: dict[str, Any] = {
        "metadata": {"namespace": "demo", "name": name, "annotations": annotations or {}},
        "spec": {
            "type": type_,
            "clusterIPs": list(cluster),
            "ipFamilyPolicy": policy,
            "ports": [{"port": 80, "protocol": "TCP"}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ingress]}},
    }
    if lb_ip:
        obj["spec"]["loadBalancerIP"] = lb_ip
    return service_from_k8s(obj)


def events(result: ConvergeResult) -> list[tuple[str, str, str]]:
    return [(e.type, e.reason, e.message) for e in result.events]


def test_converge_rules(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        async with ipam() as port:
            r = await converge(lb("a"), port, True)
            assert (r.ingress, r.pool) == (["10.0.0.0"], "default")
            assert events(r) == [("Normal", "IPAllocated", 'Assigned IP ["10.0.0.0"]')]
            # Re-converging a service with status keeps its address, silently.
            r = await converge(lb("a", ingress=("10.0.0.0",)), port, True)
            assert (r.ingress, r.events) == (["10.0.0.0"], [])
            # A status address no pool allows: cleared, then a new one.
            r = await converge(lb("b", ingress=("192.0.2.9",)), port, True)
            assert r.ingress == ["10.0.0.1"]
            assert events(r)[0] == (
                "Normal",
                "ClearAssignment",
                'current IP for "demo/b" not allowed by config, will attempt for new IP '
                'assignment: ["192.0.2.9"] is not allowed in config',
            )
            # The pool annotation moves a service to the requested pool.
            moved = lb("b", ingress=("10.0.0.1",), annotations={"metallb.io/address-pool": "other"})
            r = await converge(moved, port, True)
            assert (r.ingress, r.pool) == (["10.9.0.0"], "other")
            # Requested IPs that differ from the status are re-requested.
            asked = lb(
                "a", ingress=("10.0.0.0",), annotations={"metallb.io/loadBalancerIPs": "10.0.0.3"}
            )
            r = await converge(asked, port, True)
            assert r.ingress == ["10.0.0.3"]
            both = lb("c", annotations={"metallb.io/loadBalancerIPs": "10.0.0.2"}, lb_ip="10.0.0.2")
            r = await converge(both, port, True)
            assert not r.converged and events(r) == [
                (
                    "Warning",
                    "AllocationFailed",
                    'Failed to allocate IP for "demo/c": service can not have both '
                    "metallb.io/loadBalancerIPs and svc.Spec.LoadBalancerIP",
                )
            ]
            r = await converge(lb("d", policy="RequireDualStack"), port, True)
            assert not r.converged and events(r)[0][:2] == ("Warning", "not enough clusterips")
            dual = lb(
                "e",
                cluster=("172.30.0.5", "fd30::5"),
                policy="PreferDualStack",
                ingress=("10.0.0.2",),
            )
            r = await converge(dual, port, True)
            assert r.ingress == ["10.0.0.2", "fd00::"]
            assert events(r) == [("Normal", "IPAllocated", 'Assigned additional IP "fd00::"')]
            # Not a LoadBalancer any more: released, status cleared.
            r = await converge(lb("a", ingress=("10.0.0.3",), type_="NodePort"), port, True)
            assert (r.ingress, r.pool, r.converged) == ([], None, True)
            r = await converge(lb("f"), port, True)
            assert r.ingress == ["10.0.0.0"]  # a's address is free again
            r = await converge(lb("g", ingress=("10.0.0.1",)), port, False)
            assert (r.ingress, r.converged) == ([], False)  # no pools: cleared, no event

    arun(scenario())
