"""MetalLB's `convergeBalancer` and `SetBalancer` (behaviour reference §1.3, §1.4).

Theory of operation. `set_balancer(svc, allocator, namespace_labels)` decides one Service from
what it carries (spec, annotations, and the addresses its status already holds): which addresses
it keeps or gets, the pool they came from, the events to emit, whether its status must be
written, and the sync outcome. It calls the allocator directly and does nothing else, so the same
decision runs inside the IPAM service (one batch RPC per burst of Services), in `metallb-grpc
reconcile` (an in-memory allocator) and in tests, with one copy of the rules.

`decide_batch` is what one pass needs: with `complete_set`, the services are every service the
caller handles, so the allocator is first rebuilt from their status (more addresses first, §1.7),
allocations of services absent from the set are released, and only then is anything new handed
out; then each service is decided in restore order.
"""

from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache

from metallb_rules.allocator.allocator import Allocator
from metallb_rules.allocator.errors import RestoreInProgressError
from metallb_rules.allocator.model import (
    Family,
    FamilyPolicy,
    Port,
    RequestedIPsSource,
    ServiceRequest,
    ip_text,
)
from metallb_rules.errors import DomainError
from metallb_rules.gotext import quote, quote_list
from metallb_rules.service import (
    ALLOCATED_FROM,
    IPS_ANNOTATION,
    STABLE,
    ServicePort,
    ServiceSpec,
    annotation,
    family_of,
)

__all__ = [
    "Decision",
    "Event",
    "Outcome",
    "decide_batch",
    "handled",
    "release_deleted",
    "relevant",
    "restore_order",
    "service_request",
    "set_balancer",
]


class Outcome(Enum):
    """MetalLB's reconcile outcomes (`SyncState`) that a decision can have."""

    SUCCESS = "success"
    ERROR_NO_RETRY = "error-no-retry"  # a converge error: retried on the next reprocess-all
    REPROCESS_ALL = "reprocess-all"  # other services may now get (or must re-check) addresses


@dataclass(frozen=True, slots=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(slots=True)
class Decision:
    """What to write for one Service, and what follows."""

    key: str
    ingress: list[str] = field(default_factory=list)
    pool: str | None = None
    events: list[Event] = field(default_factory=list)
    converged: bool = True
    outcome: Outcome = Outcome.SUCCESS
    # The status or the pool annotation differs from what the Service carries: write them.
    changed: bool = False


# ------------------------------------------------------------------------------ which services


def handled(svc: ServiceSpec, lb_class: str = "") -> bool:
    """MetalLB `filterByLoadBalancerClass` (§1.1): other classes are never touched."""
    if not lb_class:
        return svc.load_balancer_class is None
    return svc.load_balancer_class == lb_class


def relevant(svc: ServiceSpec, lb_class: str = "") -> bool:
    """Handled, and a LoadBalancer or still carrying MetalLB state (a former LoadBalancer, §1.1)."""
    return handled(svc, lb_class) and (
        svc.type == "LoadBalancer" or bool(svc.ingress_ips) or ALLOCATED_FROM in svc.annotations
    )


def restore_order(services: Iterable[ServiceSpec]) -> list[ServiceSpec]:
    """MetalLB's reprocess-all order (§1.7): more status addresses first (ties by key, where
    MetalLB's sort is unstable), so assigned services get theirs back before new ones ask."""
    return sorted(services, key=lambda s: (-len(s.ingress_ips), s.key))


# ------------------------------------------------------------------------------ the request

_PROTOCOLS = {"TCP", "UDP", "SCTP"}
_POLICIES = {policy.value: policy for policy in FamilyPolicy}


def service_request(svc: ServiceSpec, namespace_labels: Mapping[str, str]) -> ServiceRequest:
    """Everything the allocation rules look at, from the Service: families from clusterIPs in
    spec.ipFamilies order (the first is primary), requested IPs and where they came from."""
    versions: list[Family] = []
    for ip in svc.cluster_ips:
        fam = Family.IPV6 if ":" in ip else Family.IPV4
        if fam not in versions:
            versions.append(fam)
    if len(versions) == 2 and svc.ip_families[:1] == ("IPv6",):
        versions.reverse()
    annotations = svc.annotations
    requested = annotation(annotations, IPS_ANNOTATION) if annotations else None
    ips: tuple[str, ...] = ()
    source = RequestedIPsSource.ANNOTATION
    if requested:
        ips = tuple(part.strip() for part in requested.split(","))
    elif svc.load_balancer_ip:
        ips, source = (svc.load_balancer_ip,), RequestedIPsSource.SPEC
    return ServiceRequest(
        svc.namespace,
        svc.name,
        tuple(versions),
        _POLICIES.get(svc.ip_family_policy or "SingleStack", FamilyPolicy.SINGLE_STACK),
        svc.labels,
        namespace_labels,
        ips,
        source,
        svc.requested_pool if annotations else "",
        svc.sharing_key if annotations else "",
        svc.backend_key,
        _allocator_ports(svc.ports),
    )


@lru_cache(maxsize=1024)
def _allocator_ports(ports: tuple[ServicePort, ...]) -> tuple[Port, ...]:
    """The ports as the sharing rules see them: one shared tuple per distinct list (most Services
    have one of a few, and IPAM keeps one per allocation: ~39,600 in a 4 MiB complete set)."""
    return tuple([Port(p.protocol if p.protocol in _PROTOCOLS else "TCP", p.port) for p in ports])


def _requested_ips(svc: ServiceSpec) -> list[str] | None:
    """MetalLB `getDesiredLbIPs`: the requested addresses, None when none; raises on bad input."""
    requested = annotation(svc.annotations, IPS_ANNOTATION)
    if requested and svc.load_balancer_ip:
        raise ValueError(
            "service can not have both metallb.io/loadBalancerIPs and svc.Spec.LoadBalancerIP"
        )
    if requested:
        ips = [part.strip() for part in requested.split(",")]
        try:
            family_of(tuple(ips))
        except ValueError:
            raise ValueError(f"invalid {STABLE}{IPS_ANNOTATION}: {quote(requested)}") from None
        return ips
    if svc.load_balancer_ip:
        try:
            family_of((svc.load_balancer_ip,))
        except ValueError:
            raise ValueError(f"invalid spec.loadBalancerIP {quote(svc.load_balancer_ip)}") from None
        return [svc.load_balancer_ip]
    return None


# ------------------------------------------------------------------------------ the decision


def converge_balancer(
    svc: ServiceSpec,
    alloc: Allocator,
    namespace_labels: Mapping[str, str],
    request: ServiceRequest | None = None,
) -> Decision:
    """One pass of `convergeBalancer` (§1.3) for `svc`, whose status holds `svc.ingress_ips`.

    Allocator refusals become MetalLB's events; only `RestoreInProgressError` (the allocator
    has not been rebuilt yet) propagates: nothing can be decided before that."""
    result = Decision(svc.key)
    key = svc.key

    def clear() -> None:
        alloc.release(key)
        result.ingress, result.pool = [], None

    def warn(reason: str, message: str) -> None:
        result.events.append(Event("Warning", reason, message))

    def normal(reason: str, message: str) -> None:
        result.events.append(Event("Normal", reason, message))

    if svc.type != "LoadBalancer":  # step 1
        clear()
        return result
    if not alloc.pools() or not svc.cluster_ips:  # steps 2 and 3: no event
        clear()
        result.converged = False
        return result
    if request is None:
        request = service_request(svc, namespace_labels)
    lb_ips = list(svc.ingress_ips)  # step 4
    policy = svc.ip_family_policy or "SingleStack"
    if policy == "RequireDualStack" and len(svc.cluster_ips) < 2:  # step 5
        warn(
            "not enough clusterips",
            f"Service requires dual stack but not enough clusterips {list(svc.cluster_ips)}",
        )
        clear()
        result.converged = False
        return result
    pool: str | None = None
    if not lb_ips:  # step 6
        clear()
    else:
        try:
            lb_family: str | None = family_of(tuple(lb_ips))
        except ValueError as err:
            warn("nolbIPsIPFamily", f"Failed to retrieve LBIPs IPFamily for {quote(lb_ips)}: {err}")
            lb_family = None
        try:
            cluster_family = family_of(svc.cluster_ips)
        except ValueError as err:
            warn(
                "noclusterIPsIPFamily",
                f"Failed to retrieve ClusterIPs IPFamily for {quote(list(svc.cluster_ips))} "
                f"{key}: {err}",
            )
            result.converged = False
            return result
        changed = lb_family is None or lb_family != cluster_family
        if cluster_family == "dual" and policy == "PreferDualStack" and lb_family is not None:
            changed = False
        if changed:
            clear()
            lb_ips = []
    if lb_ips:  # step 7
        try:
            pool = alloc.assign(request, lb_ips).pool
        except RestoreInProgressError:
            raise
        except DomainError as err:
            normal(
                "ClearAssignment",
                f"current IP for {quote(key)} not allowed by config, will attempt for new "
                f"IP assignment: {err.message}",
            )
            clear()
            lb_ips, pool = [], None
    if lb_ips and svc.requested_pool and svc.requested_pool != pool:
        clear()
        lb_ips, pool = [], None
    if lb_ips:
        try:
            wanted = _requested_ips(svc)
        except ValueError as err:
            warn("LoadBalancerFailed", f"invalid requested loadbalancer IPs: {err}")
            result.converged = False
            result.ingress, result.pool = lb_ips, pool
            return result
        if wanted is not None and set(wanted) != set(lb_ips):
            clear()
            lb_ips, pool = [], None
    # Step 8, guarded by "the cluster family is dual" (reference §1.3 caution, §8 quirk 3).
    if len(lb_ips) == 1 and policy == "PreferDualStack" and len(svc.cluster_ips) == 2:
        try:
            allocation, added = alloc.allocate_additional_family(request)
            lb_ips, pool = [ip_text(ip) for ip in allocation.ips], allocation.pool
            if added is not None:
                normal("IPAllocated", f"Assigned additional IP {quote(added)}")
        except RestoreInProgressError:
            raise
        except DomainError as err:
            normal(
                "AdditionalAssignFailed",
                f"cannot assign additional IP in PreferDualStack: {err.message}",
            )
    if not lb_ips:  # step 9
        try:
            _requested_ips(svc)
            allocation = alloc.allocate(request)
        except RestoreInProgressError:
            raise
        except (DomainError, ValueError) as err:
            text = err.message if isinstance(err, DomainError) else str(err)
            warn("AllocationFailed", f"Failed to allocate IP for {quote(key)}: {text}")
            result.converged = False
            return result
        lb_ips, pool = [ip_text(ip) for ip in allocation.ips], allocation.pool
        normal("IPAllocated", f"Assigned IP {quote_list(lb_ips)}")
    result.ingress, result.pool = lb_ips, pool  # step 11
    return result


def set_balancer(
    svc: ServiceSpec,
    alloc: Allocator,
    namespace_labels: Mapping[str, str],
    request: ServiceRequest | None = None,
) -> Decision:
    """MetalLB's `SetBalancer` wrapper (§1.3): converge, then whether to write and what follows.

    A converge failure is ERROR_NO_RETRY. Otherwise the outcome is REPROCESS_ALL when the
    service's allocation key (sharing and backend keys) changed, or when it had addresses and now
    has none while they still belong to a pool (other services may take them, or must re-check
    their sharing)."""
    before = alloc.get(svc.key)
    result = converge_balancer(svc, alloc, namespace_labels, request)
    after = alloc.get(svc.key)
    result.changed = (
        result.ingress != list(svc.ingress_ips)
        or svc.annotations.get(ALLOCATED_FROM) != result.pool
    )
    if result.changed and svc.deprecated_annotations:  # §1.2: only when modified
        result.events[:0] = [
            Event("Warning", "deprecatedAnnotation", f"Service uses deprecated annotation {k}")
            for k in svc.deprecated_annotations
        ]
    keys_before = (before.sharing_key, before.backend_key) if before else None
    keys_after = (after.sharing_key, after.backend_key) if after else None
    if not result.converged:
        result.outcome = Outcome.ERROR_NO_RETRY
    elif (before is not None and keys_before != keys_after) or (
        svc.ingress_ips and not result.ingress and alloc.owning_pool(svc.ingress_ips) is not None
    ):
        result.outcome = Outcome.REPROCESS_ALL
    return result


def release_deleted(alloc: Allocator, key: str) -> Outcome:
    """A Service is gone (§1.1): free what it held; other services may now take it."""
    return Outcome.REPROCESS_ALL if alloc.release(key) is not None else Outcome.SUCCESS


def _complete_set_order(
    alloc: Allocator, services: Sequence[tuple[ServiceSpec, Mapping[str, str]]]
) -> tuple[Sequence[int], list[int]]:
    """The restore order of a complete set (§1.7: more status addresses first, then by key), and
    those of it whose status is to be restored, in that order; the allocations of services not
    in the set are released. Each service is read once here, and the keys are gone when this
    returns (a caller may convert each service as it is read rather than hold them all)."""
    heads = []
    restoring = bytearray(len(services))
    for i, (svc, _) in enumerate(services):
        heads.append((-len(svc.ingress_ips), svc.key, i))
        restoring[i] = bool(svc.ingress_ips) and svc.type == "LoadBalancer"
    heads.sort()  # ties (one key twice) in the batch's order, as a stable sort by key gives
    keys = {key for _, key, _ in heads}
    for held in alloc.allocations():
        if held.key not in keys:
            alloc.release(held.key)
    order = array("L", [i for _, _, i in heads])
    return order, [i for i in order if restoring[i]]


def decide_batch(
    alloc: Allocator,
    services: Sequence[tuple[ServiceSpec, Mapping[str, str]]],
    *,
    complete_set: bool = False,
    deleted: Iterable[str] = (),
    emit: Callable[[int, Decision], None] | None = None,
) -> tuple[list[Decision], list[Outcome]]:
    """Decide every (service, namespace labels) of a batch; decisions in the batch's order.

    `deleted` services are released first. With `complete_set` the services are every service
    the caller handles: the allocator is rebuilt from their status, allocations of services not
    in the set are released, new allocations are allowed, and they are decided in restore order.
    Without it, they are decided in the order given.

    With `emit`, each decision is given to `emit(index in services, decision)` as soon as it is
    made, and not kept: the list returned is empty (a caller answering a complete set of ~40,000
    Services writes each into its response rather than holding them all at once). `services`
    is read by index, each service two or three times, never kept: it may convert each service
    as it is read."""
    gone = [release_deleted(alloc, key) for key in deleted]
    order: Sequence[int] = range(len(services))
    requests: list[ServiceRequest | None] = [None] * len(services)
    if complete_set:
        order, restoring = _complete_set_order(alloc, services)
        restorations = []
        for i in restoring:
            svc, labels = services[i]
            requests[i] = service_request(svc, labels)
            restorations.append((requests[i], svc.ingress_ips))
        alloc.restore(restorations, complete=True)  # type: ignore[arg-type]
    decisions: list[Decision | None] = [None] * (len(services) if emit is None else 0)
    for i in order:
        svc, labels = services[i]
        decision = set_balancer(svc, alloc, labels, requests[i])
        if emit is None:
            decisions[i] = decision
        else:
            emit(i, decision)
    return [d for d in decisions if d is not None], gone
