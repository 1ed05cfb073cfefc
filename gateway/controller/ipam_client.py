"""`IpamPort` over the `metallb.ipam.v1` gRPC stub."""

import asyncio
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
    return _text(err.details() or "")


def _text(details: str) -> str:
    """IPAM's text without the `field: ` prefix it adds for API users."""
    head, sep, tail = details.partition(": ")
    return tail if sep and " " not in head else details


class GrpcIpam:
    """The IPAM gRPC API as the controller uses it.

    It remembers which services IPAM holds an allocation for, once `learn_held()` has read
    them: from then on every allocation, assignment, release and restoration goes through this
    client (the controller is IPAM's only allocating client), so releasing a service that holds
    nothing, as MetalLB's converge does before every new allocation, needs no call.

    `allocate` calls made while the event loop is busy with other tasks (a controller converging
    many services at once) go out together as one `AllocateBatch`, handled by IPAM in the order
    they were made; each caller gets its own allocation or refusal."""

    def __init__(self, stub: ipam_pb2_grpc.IPAMServiceStub) -> None:
        self._stub = stub
        self._held: set[tuple[str, str]] | None = None  # None: unknown, always call
        self._queued: list[tuple[ipam_pb2.Service, asyncio.Future[ipam_pb2.Allocation]]] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def learn_held(self) -> None:
        reply = await self._call(self._stub.ListAllocations, ipam_pb2.ListAllocationsRequest())
        assert isinstance(reply, ipam_pb2.ListAllocationsResponse)
        self._held = {(a.namespace, a.name) for a in reply.allocations}

    def forget_held(self) -> None:
        self._held = None

    def _holds(self, alloc: ipam_pb2.Allocation) -> ipam_pb2.Allocation:
        if self._held is not None:
            self._held.add((alloc.namespace, alloc.name))
        return alloc

    async def _call(self, rpc: object, request: object) -> object:
        try:
            return await rpc(request)  # type: ignore[operator]
        except grpc.aio.AioRpcError as err:
            if err.code() in _REFUSALS:
                raise IpamError(_message(err)) from None
            self._held = None  # the call may have been made: ask IPAM again
            raise

    async def assign(self, service: ipam_pb2.Service, ips: Sequence[str]) -> ipam_pb2.Allocation:
        reply = await self._call(
            self._stub.Assign, ipam_pb2.AssignRequest(service=service, ips=list(ips))
        )
        assert isinstance(reply, ipam_pb2.AssignResponse)
        return self._holds(reply.allocation)

    async def allocate(self, service: ipam_pb2.Service) -> ipam_pb2.Allocation:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ipam_pb2.Allocation] = loop.create_future()
        self._queued.append((service, future))
        if len(self._queued) == 1:
            # After the tasks already scheduled in this turn: they may queue theirs too.
            loop.call_soon(self._send_queued)
        return self._holds(await future)

    def _send_queued(self) -> None:
        queued, self._queued = self._queued, []
        task = asyncio.ensure_future(self._send(queued))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(
        self, queued: list[tuple[ipam_pb2.Service, asyncio.Future[ipam_pb2.Allocation]]]
    ) -> None:
        request = ipam_pb2.AllocateBatchRequest(
            requests=[ipam_pb2.AllocateRequest(service=service) for service, _ in queued]
        )
        try:
            reply = await self._call(self._stub.AllocateBatch, request)
        except (IpamError, grpc.aio.AioRpcError) as err:
            for _, future in queued:
                if not future.done():
                    future.set_exception(err)
            return
        assert isinstance(reply, ipam_pb2.AllocateBatchResponse)
        for (_, future), result in zip(queued, reply.results, strict=True):
            if future.done():
                continue
            if result.HasField("allocation"):
                future.set_result(result.allocation)
            else:  # IPAM sends back refusals only (RESOURCE_EXHAUSTED, INVALID_ARGUMENT...)
                future.set_exception(IpamError(_text(result.refusal.message)))

    async def allocate_additional_family(self, service: ipam_pb2.Service) -> ipam_pb2.Allocation:
        reply = await self._call(
            self._stub.AllocateAdditionalFamily,
            ipam_pb2.AllocateAdditionalFamilyRequest(service=service),
        )
        assert isinstance(reply, ipam_pb2.AllocateAdditionalFamilyResponse)
        return self._holds(reply.allocation)

    async def set_pools(self, pools: Sequence[ipam_pb2.Pool]) -> ipam_pb2.SetPoolsResponse:
        reply = await self._call(self._stub.SetPools, ipam_pb2.SetPoolsRequest(pools=pools))
        assert isinstance(reply, ipam_pb2.SetPoolsResponse)
        self._held = None  # new pools may have taken allocations away
        return reply

    async def restore(
        self, restorations: Sequence[ipam_pb2.Restoration], complete: bool
    ) -> ipam_pb2.RestoreAllocationsResponse:
        reply = await self._call(
            self._stub.RestoreAllocations,
            ipam_pb2.RestoreAllocationsRequest(restorations=restorations, complete=complete),
        )
        assert isinstance(reply, ipam_pb2.RestoreAllocationsResponse)
        self._held = None  # what was restored is known only to IPAM (some may be refused)
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
        if self._held is not None and (namespace, name) not in self._held:
            return False
        reply = await self._call(
            self._stub.Release,
            ipam_pb2.ReleaseRequest(service=common_pb2.ServiceKey(namespace=namespace, name=name)),
        )
        assert isinstance(reply, ipam_pb2.ReleaseResponse)
        if self._held is not None:
            self._held.discard((namespace, name))
        return reply.HasField("released")

    async def release(self, namespace: str, name: str) -> None:
        await self.release_allocation(namespace, name)


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
