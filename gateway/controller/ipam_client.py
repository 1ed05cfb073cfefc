"""The IPAM gRPC API as the controller uses it: pools, batch decisions, status."""

from collections.abc import Mapping, Sequence
from typing import Any

from gateway.controller.converge import (
    decision_from_proto,
    load_balancer_service,
    namespace_labels,
    outcome_from_proto,
)
from metallb.common.v1 import common_pb2
from metallb.ipam.v1 import ipam_pb2, ipam_pb2_grpc
from metallb_rules.balancer import Decision, Outcome
from metallb_rules.service import ServiceSpec


class GrpcIpam:
    """Errors are `grpc.aio.AioRpcError`s: the controller retries and re-runs everything (a
    restarted IPAM answers UNAVAILABLE until it has been sent a complete set)."""

    def __init__(self, stub: ipam_pb2_grpc.IPAMServiceStub) -> None:
        self._stub = stub

    async def converge(
        self,
        services: Sequence[ServiceSpec],
        labels: Mapping[str, Mapping[str, str]],
        *,
        deleted: Sequence[str] = (),
        complete_set: bool = False,
    ) -> tuple[list[Decision], list[Outcome]]:
        """IPAM's `ConvergeServices`: one decision per service (in order), one outcome per
        deleted key."""
        request = ipam_pb2.ConvergeServicesRequest(
            services=[load_balancer_service(s) for s in services],
            namespace_labels=namespace_labels(
                {s.namespace: labels.get(s.namespace) or {} for s in services}
            ),
            deleted=[_key(k) for k in deleted],
            complete_set=complete_set,
        )
        reply = await self._stub.ConvergeServices(request)
        return (
            [decision_from_proto(d) for d in reply.decisions],
            [outcome_from_proto(o) for o in reply.deleted],
        )

    async def set_pools(self, pools: Sequence[ipam_pb2.Pool]) -> ipam_pb2.SetPoolsResponse:
        reply: ipam_pb2.SetPoolsResponse = await self._stub.SetPools(
            ipam_pb2.SetPoolsRequest(pools=pools)
        )
        return reply

    async def list_pools(self) -> ipam_pb2.ListPoolsResponse:
        reply: ipam_pb2.ListPoolsResponse = await self._stub.ListPools(ipam_pb2.ListPoolsRequest())
        return reply

    async def status(self) -> ipam_pb2.GetStatusResponse:
        reply: ipam_pb2.GetStatusResponse = await self._stub.GetStatus(ipam_pb2.GetStatusRequest())
        return reply


def _key(key: str) -> common_pb2.ServiceKey:
    namespace, _, name = key.partition("/")
    return common_pb2.ServiceKey(namespace=namespace, name=name)


def pool_to_proto(obj: Mapping[str, Any]) -> ipam_pb2.Pool:
    """An IPAddressPool CR (Kubernetes JSON) as `metallb.ipam.v1.Pool`."""
    spec = obj.get("spec") or {}
    pool = ipam_pb2.Pool(
        name=str((obj.get("metadata") or {}).get("name") or ""),
        addresses=[str(a) for a in spec.get("addresses") or []],
        avoid_buggy_ips=bool(spec.get("avoidBuggyIPs")),
    )
    if spec.get("autoAssign") is not None:
        pool.auto_assign = bool(spec["autoAssign"])
    sa = spec.get("serviceAllocation")
    if isinstance(sa, Mapping):
        pool.service_allocation.CopyFrom(
            ipam_pb2.ServiceAllocation(
                priority=int(sa.get("priority") or 0),
                namespaces=[str(n) for n in sa.get("namespaces") or []],
                namespace_selectors=[_selector(s) for s in sa.get("namespaceSelectors") or []],
                service_selectors=[_selector(s) for s in sa.get("serviceSelectors") or []],
            )
        )
    return pool


def _selector(raw: Mapping[str, Any]) -> common_pb2.LabelSelector:
    return common_pb2.LabelSelector(
        match_labels={str(k): str(v) for k, v in (raw.get("matchLabels") or {}).items()},
        match_expressions=[
            common_pb2.LabelSelectorRequirement(
                key=str(e.get("key") or ""),
                operator=str(e.get("operator") or ""),
                values=[str(v) for v in e.get("values") or []],
            )
            for e in raw.get("matchExpressions") or []
        ],
    )
