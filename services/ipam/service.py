"""The IPAM gRPC service: a thin servicer over the allocator, owned by one asyncio task.

Each handler converts the request to domain types, submits one command to the state owner, and
converts the result back. Each change the allocator makes goes to the watchers' log as it is made
(in the owner, so streams read it after the command); the gauges are read at each scrape.
"""

import asyncio
import functools
from array import array
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from functools import partial
from types import MappingProxyType
from typing import Any, TypeVar, overload

import grpc
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from prometheus_client import CollectorRegistry

from metallb.common.v1 import common_pb2
from metallb.ipam.v1 import ipam_pb2, ipam_pb2_grpc
from metallb_rules.allocator.allocator import Allocator
from metallb_rules.allocator.errors import NoAllocationError
from metallb_rules.allocator.model import (
    Allocation,
    Change,
    ChangeType,
    PoolUsage,
    ServiceRequest,
)
from metallb_rules.allocator.pools import parse_pools
from metallb_rules.balancer import Decision, Outcome, decide_batch
from metallb_rules.errors import DomainError, UnavailableError, kept
from metallb_rules.service import ServiceSpec
from metallb_runtime.instance import new_instance_id
from metallb_runtime.limits import require_name_length
from metallb_runtime.server import ServiceBinding, state_binding
from metallb_runtime.state_owner import StateOwner
from metallb_runtime.watch import (
    ChangeLog,
    Pending,
    Subscription,
    requested_token,
    response,
    watch_stream,
)
from services.ipam import convert, wire
from services.ipam.limits import DEFAULT_LIMITS, IPAMLimits
from services.ipam.metrics import AllocatorMetrics

_NO_LABELS: Mapping[str, str] = MappingProxyType({})
_Item = tuple[ServiceSpec, Mapping[str, str]]  # a Service and its namespace's labels

SERVICE_NAME = ipam_pb2.DESCRIPTOR.services_by_name["IPAMService"].full_name

T = TypeVar("T")

#: The calls that replace a whole set (every Service, every pool, every allocation): admitted one
#: at a time each (metallb_runtime/admission.py). The owner runs them one after the other anyway;
#: two in progress would only hold two of the largest requests IPAM reads, their converted forms
#: and their responses at once (bench/limits.py: a 4 MiB ConvergeServices is ~39,600 Services).
SERIAL_METHODS = ("ConvergeServices", "SetPools", "RestoreAllocations")

_EVENT_TYPES = {
    ChangeType.ALLOCATED: ipam_pb2.ALLOCATION_EVENT_TYPE_ALLOCATED,
    ChangeType.RELEASED: ipam_pb2.ALLOCATION_EVENT_TYPE_RELEASED,
}


def _event(change: Change) -> ipam_pb2.AllocationEvent:
    return ipam_pb2.AllocationEvent(
        type=_EVENT_TYPES[change.type],
        allocation=convert.allocation_to_proto(change.allocation),
        release_reason=convert.reason_to_proto(change.reason),
    )


class IPAMState:
    """The allocator, its owner task, its watchers and its metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.allocator = Allocator(on_change=self._publish)
        self.instance_id = new_instance_id()
        self.metrics = AllocatorMetrics(registry, self._usages)
        self.owner = StateOwner("ipam")
        self.watchers: ChangeLog[ipam_pb2.AllocationEvent] = ChangeLog(self.instance_id)

    async def start(self) -> None:
        self.owner.start()

    async def stop(self) -> None:
        await self.owner.stop()
        self.watchers.close_all()

    def _usages(self) -> list[tuple[str, PoolUsage]]:
        """Every pool's counts, for the metrics scrape (a pool removed meanwhile is left out)."""
        usages = []
        for pool in self.allocator.pools():
            try:
                usages.append((pool.name, self.allocator.usage(pool.name)))
            except DomainError:
                continue
        return usages

    def _publish(self, change: Change) -> None:
        """Each allocator change to the watchers, as it is made: in the owner, during a command,
        so streams see them after it, in order (the log keeps what its streams have not read,
        and 4,096 more; not every change of a complete set until the call ends)."""
        self.watchers.append(Pending(partial(_event, change)))

    def subscribe(self, token: common_pb2.ResumeToken | None) -> Subscription[Allocation]:
        """Runs in the owner task: the snapshot and the subscription are one atomic step."""
        return self.watchers.subscribe(token, self.allocator.allocations)


def _snapshot_event(allocation: Allocation) -> ipam_pb2.AllocationEvent:
    return ipam_pb2.AllocationEvent(
        type=ipam_pb2.ALLOCATION_EVENT_TYPE_SNAPSHOT,
        allocation=convert.allocation_to_proto(allocation),
    )


class IPAMServicer(ipam_pb2_grpc.IPAMServiceServicer):
    def __init__(self, state: IPAMState, limits: IPAMLimits = DEFAULT_LIMITS) -> None:
        self._state = state
        self._alloc = state.allocator
        self._limits = limits

    async def _run(self, command: Callable[[], T]) -> T:
        return await self._state.owner.submit(command)

    def _pool_status(self, name: str) -> ipam_pb2.PoolStatus:
        return ipam_pb2.PoolStatus(
            conf=convert.pool_to_proto(self._alloc.pool(name)),
            state=convert.usage_to_proto(self._alloc.usage(name)),
        )

    async def SetPools(
        self, request: ipam_pb2.SetPoolsRequest, context: grpc.aio.ServicerContext
    ) -> ipam_pb2.SetPoolsResponse:
        self._limits.check_pools(len(request.pools))
        specs = convert.pool_specs_from_proto(request.pools)
        # Validating thousands of pools takes a while: in a worker thread, so that the owner
        # task (and health checks, and other calls) go on meanwhile; only the switch to the
        # validated set runs in the owner.
        parsed = await asyncio.to_thread(parse_pools, specs)

        def command() -> ipam_pb2.SetPoolsResponse:
            lost, moved = self._alloc.set_pools(specs, parsed)
            return ipam_pb2.SetPoolsResponse(
                lost=[
                    ipam_pb2.LostAllocation(
                        allocation=convert.allocation_to_proto(item.allocation),
                        reason=convert.reason_to_proto(item.reason),
                        message=item.message,
                    )
                    for item in lost
                ],
                moved=[
                    ipam_pb2.MovedAllocation(
                        allocation=convert.allocation_to_proto(item.allocation),
                        previous_pool=item.previous_pool,
                    )
                    for item in moved
                ],
                pools=[self._pool_status(p.name) for p in self._alloc.pools()],
            )

        return await self._run(command)

    async def ListPools(
        self, request: ipam_pb2.ListPoolsRequest, context: grpc.aio.ServicerContext
    ) -> ipam_pb2.ListPoolsResponse:
        return await self._run(
            lambda: ipam_pb2.ListPoolsResponse(
                pools=[self._pool_status(p.name) for p in self._alloc.pools()]
            )
        )

    async def GetPool(
        self, request: ipam_pb2.GetPoolRequest, context: grpc.aio.ServicerContext
    ) -> ipam_pb2.GetPoolResponse:
        require_name_length(request.name, "name")
        return await self._run(
            lambda: ipam_pb2.GetPoolResponse(pool=self._pool_status(request.name))
        )

    async def ConvergeServices(self, request: Message, context: grpc.aio.ServicerContext) -> bytes:
        """Off the wire, `request` is a `wire.RawConvergeServicesRequest`, its Services as bytes:
        each is checked on arrival, then parsed and converted each time the rules read it, never
        all held at once (`_Converted`); the request goes once decided (the wrappers around this
        handler keep no reference to it). Each decision is encoded into the answer as it is
        made, and the answer is the response's encoding (`wire.ConvergeAnswer`). Issue 15: a
        4 MiB complete set is ~39,600 Services."""
        raw: Any = wire.raw_converge_request(request)
        del request
        check = self._limits.check_services
        check(len(raw.services), "services")
        check(len(raw.deleted), "deleted", "deleted keys")
        check(len(raw.namespace_labels), "namespace_labels", "namespaces")
        labels = {name: dict(entry.labels) for name, entry in raw.namespace_labels.items()}
        deleted = [
            convert.service_key_from_proto(key, f"deleted[{i}]")
            for i, key in enumerate(raw.deleted)
        ]
        answer = wire.ConvergeAnswer(len(raw.services))
        positions = array("L")  # of each valid Service, its index (an int object is 32 bytes)
        for i, data in enumerate(raw.services):
            field = f"services[{i}]"
            svc = wire.parse_service(data, field)
            try:
                convert.check_load_balancer_service(svc, field)
            except DomainError as err:
                key = common_pb2.ServiceKey(namespace=svc.namespace, name=svc.name)
                refused = ipam_pb2.ServiceDecision(service=key, error=convert.status_of(err))
                answer.set(i, refused)
                continue
            positions.append(i)
        complete = raw.complete_set
        services = _Converted(raw.services, positions, labels)
        del raw

        def emit(index: int, decision: Decision) -> None:
            answer.set(positions[index], convert.decision_to_proto(decision))

        command = partial(self._converge, services, complete, deleted, emit)
        del services
        gone = await self._run(command)
        del command  # and the request with it, before the answer is joined
        return answer.encode([convert.outcome_to_proto(o) for o in gone])

    def _converge(
        self,
        services: Sequence[_Item],
        complete: bool,
        deleted: list[str],
        emit: Callable[[int, Decision], None],
    ) -> list[Outcome]:
        if not complete:
            self._alloc.require_restored()  # before any change: the whole call fails
        return decide_batch(
            self._alloc, services, complete_set=complete, deleted=deleted, emit=emit
        )[1]

    async def Allocate(
        self, request: ipam_pb2.AllocateRequest, context: grpc.aio.ServicerContext
    ) -> ipam_pb2.AllocateResponse:
        req = convert.service_from_proto(request.service)
        alloc = await self._state.owner.submit(functools.partial(self._alloc.allocate, req))
        response = ipam_pb2.AllocateResponse()
        convert.allocation_to_proto(alloc, into=response.allocation)
        return response

    async def AllocateBatch(
        self, request: ipam_pb2.AllocateBatchRequest, context: grpc.aio.ServicerContext
    ) -> ipam_pb2.AllocateBatchResponse:
        self._limits.check_batch(len(request.requests), "requests")
        items: list[ServiceRequest | DomainError] = []
        for i, item in enumerate(request.requests):
            try:
                items.append(convert.service_from_proto(item.service, f"requests[{i}].service"))
            except DomainError as err:
                items.append(kept(err))

        def command() -> list[Allocation | DomainError]:
            out: list[Allocation | DomainError] = []
            for req in items:
                if isinstance(req, DomainError):
                    out.append(req)
                    continue
                try:
                    out.append(self._alloc.allocate(req))
                except UnavailableError:
                    raise  # not restored yet: the whole call fails, as Allocate does
                except DomainError as err:
                    out.append(kept(err))
            return out

        results = await self._run(command)
        return ipam_pb2.AllocateBatchResponse(results=[_batch_result(r) for r in results])

    async def AllocateAdditionalFamily(
        self,
        request: ipam_pb2.AllocateAdditionalFamilyRequest,
        context: grpc.aio.ServicerContext,
    ) -> ipam_pb2.AllocateAdditionalFamilyResponse:
        req = convert.service_from_proto(request.service)
        alloc, added = await self._run(lambda: self._alloc.allocate_additional_family(req))
        return ipam_pb2.AllocateAdditionalFamilyResponse(
            allocation=convert.allocation_to_proto(alloc), added_ip=str(added) if added else ""
        )

    async def Assign(
        self, request: ipam_pb2.AssignRequest, context: grpc.aio.ServicerContext
    ) -> ipam_pb2.AssignResponse:
        req = convert.service_from_proto(request.service)
        ips = list(request.ips)
        alloc = await self._run(lambda: self._alloc.assign(req, ips))
        return ipam_pb2.AssignResponse(allocation=convert.allocation_to_proto(alloc))

    async def Release(
        self, request: ipam_pb2.ReleaseRequest, context: grpc.aio.ServicerContext
    ) -> ipam_pb2.ReleaseResponse:
        key = convert.service_key_from_proto(request.service)
        released = await self._run(lambda: self._alloc.release(key))
        if released is None:
            return ipam_pb2.ReleaseResponse()
        return ipam_pb2.ReleaseResponse(released=convert.allocation_to_proto(released))

    async def RestoreAllocations(
        self, request: ipam_pb2.RestoreAllocationsRequest, context: grpc.aio.ServicerContext
    ) -> ipam_pb2.RestoreAllocationsResponse:
        self._limits.check_batch(len(request.restorations), "restorations")
        entries = [
            (convert.service_from_proto(r.service, f"restorations[{i}].service"), list(r.ips))
            for i, r in enumerate(request.restorations)
        ]
        results = await self._run(lambda: self._alloc.restore(entries, request.complete))
        return ipam_pb2.RestoreAllocationsResponse(
            results=[
                ipam_pb2.RestoreResult(
                    service=convert.service_key_to_proto(r.key),
                    restored=r.allocation is not None,
                    allocation=(
                        convert.allocation_to_proto(r.allocation) if r.allocation else None
                    ),
                    error=convert.status_of(r.error) if r.error else None,
                )
                for r in results
            ],
            restore_complete=self._alloc.restore_complete,
        )

    async def GetAllocation(
        self, request: ipam_pb2.GetAllocationRequest, context: grpc.aio.ServicerContext
    ) -> ipam_pb2.GetAllocationResponse:
        key = convert.service_key_from_proto(request.service)
        alloc = await self._run(lambda: self._alloc.get(key))
        if alloc is None:
            raise NoAllocationError(f"service {key} has no allocation", field="service")
        return ipam_pb2.GetAllocationResponse(allocation=convert.allocation_to_proto(alloc))

    async def ListAllocations(
        self, request: ipam_pb2.ListAllocationsRequest, context: grpc.aio.ServicerContext
    ) -> ipam_pb2.ListAllocationsResponse:
        require_name_length(request.pool, "pool")
        require_name_length(request.namespace, "namespace")
        allocs = await self._run(
            lambda: self._alloc.allocations(pool=request.pool, namespace=request.namespace)
        )
        return ipam_pb2.ListAllocationsResponse(
            allocations=[convert.allocation_to_proto(a) for a in allocs]
        )

    async def WatchAllocations(
        self, request: ipam_pb2.WatchAllocationsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[ipam_pb2.WatchAllocationsResponse]:
        state = self._state

        async def subscribe(token: common_pb2.ResumeToken | None) -> Subscription[Allocation]:
            return await self._run(lambda: state.subscribe(token))

        stream = watch_stream(state.watchers, subscribe, _snapshot_event, requested_token(request))
        async for batch in stream:
            yield response(ipam_pb2.WatchAllocationsResponse, batch)

    async def GetStatus(
        self, request: ipam_pb2.GetStatusRequest, context: grpc.aio.ServicerContext
    ) -> ipam_pb2.GetStatusResponse:
        return await self._run(
            lambda: ipam_pb2.GetStatusResponse(
                instance_id=self._state.instance_id,
                restore_complete=self._alloc.restore_complete,
                pools=len(self._alloc.pools()),
                allocations=len(self._alloc.allocations()),
            )
        )


def _add_servicer(servicer: IPAMServicer, server: grpc.aio.Server) -> None:
    """`ipam_pb2_grpc.add_IPAMServiceServicer_to_server`, with ConvergeServices' request read
    as `wire.RawConvergeServicesRequest` and its response sent as the handler encoded it (the
    same bytes on the wire)."""
    handlers = {}
    for method in ipam_pb2.DESCRIPTOR.services_by_name["IPAMService"].methods:
        build = (
            grpc.unary_stream_rpc_method_handler
            if method.server_streaming
            else grpc.unary_unary_rpc_method_handler
        )
        request = GetMessageClass(method.input_type)
        response: Callable[..., bytes] = GetMessageClass(method.output_type).SerializeToString
        if method.name == "ConvergeServices":
            request, response = wire.RawConvergeServicesRequest, wire.encoded
        handlers[method.name] = build(
            getattr(servicer, method.name),
            request_deserializer=request.FromString,
            response_serializer=response,
        )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    server.add_registered_method_handlers(SERVICE_NAME, handlers)


def ipam_binding(
    registry: CollectorRegistry, limits: IPAMLimits = DEFAULT_LIMITS
) -> ServiceBinding:
    """The IPAM service, ready for `metallb_runtime.server.Server`."""
    state = IPAMState(registry)

    def register(server: grpc.aio.Server) -> None:
        _add_servicer(IPAMServicer(state, limits), server)

    return state_binding(SERVICE_NAME, register, state, serial=SERIAL_METHODS)


class _Converted(Sequence[_Item]):
    """The valid Services of a ConvergeServices, each converted when `decide_batch` reads it
    (two or three times) and not kept: a 4 MiB complete set held converted at once was ~25 MB
    (~620 bytes a Service) besides the state it replaces (issue 15). Parsing and converting one
    takes ~12 us, ~0.5 s a call more for ~39,600."""

    def __init__(
        self,
        data: Sequence[bytes],
        positions: Sequence[int],
        labels: Mapping[str, Mapping[str, str]],
    ) -> None:
        self._data = data  # the request's Services, as bytes (services/ipam/wire.py)
        self._positions = positions
        self._labels = labels

    def __len__(self) -> int:
        return len(self._positions)

    @overload
    def __getitem__(self, index: int) -> _Item: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[_Item]: ...

    def __getitem__(self, index: int | slice) -> _Item | Sequence[_Item]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        i = self._positions[index]
        svc = wire.parse_service(self._data[i], f"services[{i}]")
        spec = convert.load_balancer_service_from_proto(svc, f"services[{i}]")
        return spec, self._labels.get(spec.namespace, _NO_LABELS)


def _batch_result(result: Allocation | DomainError) -> ipam_pb2.AllocateResult:
    if isinstance(result, DomainError):
        return ipam_pb2.AllocateResult(error=convert.status_of(result))
    return ipam_pb2.AllocateResult(allocation=convert.allocation_to_proto(result))
