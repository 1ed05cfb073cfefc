"""`IpamPort` over the `metallb.ipam.v1` gRPC stub."""

from collections.abc import Sequence

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

    async def release(self, namespace: str, name: str) -> None:
        await self._call(
            self._stub.Release,
            ipam_pb2.ReleaseRequest(service=common_pb2.ServiceKey(namespace=namespace, name=name)),
        )
