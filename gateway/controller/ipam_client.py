"""`IpamPort` over the `metallb.ipam.v1` gRPC stub."""

from collections.abc import Mapping, Sequence
from typing import Any

import grpc

from gateway.controller.converge import IpamError
from metallb.common.v1 import common_pb2
from metallb.ipam.v1 import ipam_pb2, ipam_pb2_grpc

# Codes that mean "the request cannot be satisfied"; anything else (UNAVAILABLE, INTERNAL...)
# propagates so that the caller retries instead of clearing a service's status.
_REFUSALS = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def _message(err: grpc.aio.AioRpcError) -> str:
    """IPAM's text without the `field: ` prefix it adds for API users."""
    details = err.details() or ""
    head, sep, tail = details.partition(": ")
    return tail if sep and " " not in head else details


class GrpcIpam:
    def __init__(self, stub: ipam_pb2_grpc.IPAMServiceStub) -> None:
        self._stub = stub

    async def _call(self, rpc: object, request: object) -> object:
        try:
            return await rpc(request)  # type: ignore[operator]
        except grpc.aio.AioRpcError as err:
            if err.code() in _REFUSALS:
                raise IpamError(_message(err)) from None
            raise

    async def assign(self, service: ipam_pb2.Service, ips: Sequence[str]) -> ipam_pb2.Allocation:
        reply = await self._call(
            self._stub.Assign, ipam_pb2.AssignRequest(service=service, ips=list(ips))
        )
        assert isinstance(reply, ipam_pb2.AssignResponse)
        return reply.allocation

    async def allocate(self, service: ipam_pb2.Service) -> ipam_pb2.Allocation:
        reply = await self._call(self._stub.Allocate, ipam_pb2.AllocateRequest(service=service))
        assert isinstance(reply, ipam_pb2.AllocateResponse)
        return reply.allocation

    async def allocate_additional_family(self, service: ipam_pb2.Service) -> ipam_pb2.Allocation:
        reply = await self._call(
            self._stub.AllocateAdditionalFamily,
            ipam_pb2.AllocateAdditionalFamilyRequest(service=service),
        )
        assert isinstance(reply, ipam_pb2.AllocateAdditionalFamilyResponse)
        return reply.allocation

    async def set_pools(self, pools: Sequence[ipam_pb2.Pool]) -> ipam_pb2.SetPoolsResponse:
        reply = await self._call(self._stub.SetPools, ipam_pb2.SetPoolsRequest(pools=pools))
        assert isinstance(reply, ipam_pb2.SetPoolsResponse)
        return reply

    async def restore(
        self, restorations: Sequence[ipam_pb2.Restoration], complete: bool
    ) -> ipam_pb2.RestoreAllocationsResponse:
        reply = await self._call(
            self._stub.RestoreAllocations,
            ipam_pb2.RestoreAllocationsRequest(restorations=restorations, complete=complete),
        )
        assert isinstance(reply, ipam_pb2.RestoreAllocationsResponse)
        return reply

    async def list_pools(self) -> ipam_pb2.ListPoolsResponse:
        reply = await self._call(self._stub.ListPools, ipam_pb2.ListPoolsRequest())
        assert isinstance(reply, ipam_pb2.ListPoolsResponse)
        return reply

    async def status(self) -> ipam_pb2.GetStatusResponse:
        reply = await self._call(self._stub.GetStatus, ipam_pb2.GetStatusRequest())
        assert isinstance(reply, ipam_pb2.GetStatusResponse)
        return reply

    async def release_allocation(self, namespace: str, name: str) -> bool:
        """Release; True when the service held addresses."""
        reply = await self._call(
            self._stub.Release,
            ipam_pb2.ReleaseRequest(service=common_pb2.ServiceKey(namespace=namespace, name=name)),
        )
        assert isinstance(reply, ipam_pb2.ReleaseResponse)
        return reply.HasField("released")

    async def release(self, namespace: str, name: str) -> None:
        await self._call(
            self._stub.Release,
            ipam_pb2.ReleaseRequest(service=common_pb2.ServiceKey(namespace=namespace, name=name)),
        )


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
