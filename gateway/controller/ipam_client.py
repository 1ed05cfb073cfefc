"""The IPAM gRPC API as the controller uses it: pools, batch decisions, status."""

from collections.abc import Mapping, Sequence

from gateway.controller.converge import (
    decision_from_proto,
    load_balancer_service,
    namespace_labels,
    outcome_from_proto,
)
from metallb.common.v1 import common_pb2
from metallb.ipam.v1 import ipam_pb2, ipam_pb2_grpc
from metallb_rules.balancer import Decision, Outcome
from metallb_rules.labels import LabelSelector
from metallb_rules.pools import PoolSpec
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
            [decision_from_proto(d, s) for d, s in zip(reply.decisions, services, strict=True)],
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


def pool_to_proto(spec: PoolSpec) -> ipam_pb2.Pool:
    """A validated IPAddressPool (from the configuration the rules parsed) as the API's Pool."""
    pool = ipam_pb2.Pool(
        name=spec.name,
        addresses=spec.addresses,
        auto_assign=spec.auto_assign,
        avoid_buggy_ips=spec.avoid_buggy_ips,
    )
    sa = spec.service_allocation
    if sa is not None:
        pool.service_allocation.CopyFrom(
            ipam_pb2.ServiceAllocation(
                priority=sa.priority,
                namespaces=sa.namespaces,
                namespace_selectors=[_selector(s) for s in sa.namespace_selectors],
                service_selectors=[_selector(s) for s in sa.service_selectors],
            )
        )
    return pool


def _selector(sel: LabelSelector) -> common_pb2.LabelSelector:
    return common_pb2.LabelSelector(
        match_labels=dict(sel.match_labels),
        match_expressions=[
            common_pb2.LabelSelectorRequirement(
                key=r.key, operator=r.operator.value, values=r.values
            )
            for r in sel.match_expressions
        ],
    )
