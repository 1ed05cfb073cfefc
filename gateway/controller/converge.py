"""MetalLB's `convergeBalancer` (behaviour reference §1.3, §1.4), over the IPAM gRPC API.

`converge(svc, ipam, pools_configured)` decides one Service: which addresses it keeps or gets, the
pool they came from, the events to emit and the sync outcome. It reads nothing itself and writes
nothing: IPAM is reached through the `IpamPort` protocol (the gRPC stub in production, a real
in-process IPAM server in tests), and the caller writes the status and events.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from metallb.common.v1 import common_pb2
from metallb.ipam.v1 import ipam_pb2
from metallb_rules.gotext import quote, quote_list
from metallb_rules.service import IPS_ANNOTATION, STABLE, ServiceSpec, annotation, family_of


class IpamError(Exception):
    """An IPAM call failed; `message` is IPAM's text (MetalLB's allocator error)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class IpamPort(Protocol):
    async def assign(
        self, service: ipam_pb2.Service, ips: Sequence[str]
    ) -> ipam_pb2.Allocation: ...

    async def allocate(self, service: ipam_pb2.Service) -> ipam_pb2.Allocation: ...

    async def allocate_additional_family(
        self, service: ipam_pb2.Service
    ) -> ipam_pb2.Allocation: ...

    async def release(self, namespace: str, name: str) -> None: ...


class Outcome(Enum):
    """MetalLB's reconcile outcomes (`SyncState`)."""

    SUCCESS = "success"
    ERROR = "error"  # requeue with backoff
    ERROR_NO_RETRY = "error-no-retry"  # retried on the next reprocess-all
    REPROCESS_ALL = "reprocess-all"


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass
class ConvergeResult:
    ingress: list[str] = field(default_factory=list)
    pool: str | None = None
    events: list[Event] = field(default_factory=list)
    converged: bool = True


_FAMILIES = {"IPv4": common_pb2.IP_FAMILY_IPV4, "IPv6": common_pb2.IP_FAMILY_IPV6}
_POLICIES = {
    "SingleStack": common_pb2.IP_FAMILY_POLICY_SINGLE_STACK,
    "PreferDualStack": common_pb2.IP_FAMILY_POLICY_PREFER_DUAL_STACK,
    "RequireDualStack": common_pb2.IP_FAMILY_POLICY_REQUIRE_DUAL_STACK,
}
_PROTOCOLS = {
    "TCP": common_pb2.PROTOCOL_TCP,
    "UDP": common_pb2.PROTOCOL_UDP,
    "SCTP": common_pb2.PROTOCOL_SCTP,
}


def ipam_service(svc: ServiceSpec, namespace_labels: dict[str, str]) -> ipam_pb2.Service:
    """Everything IPAM's rules look at, from the Service (families from clusterIPs, in
    spec.ipFamilies order)."""
    versions = []
    for ip in svc.cluster_ips:
        fam = "IPv6" if ":" in ip else "IPv4"
        if fam not in versions:
            versions.append(fam)
    order = [f for f in svc.ip_families if f in versions] + [
        f for f in versions if f not in svc.ip_families
    ]
    requested = annotation(svc.annotations, IPS_ANNOTATION)
    msg = ipam_pb2.Service(
        namespace=svc.namespace,
        name=svc.name,
        labels=dict(svc.labels),
        namespace_labels=namespace_labels,
        ip_families=[_FAMILIES[f] for f in order],
        ip_family_policy=_POLICIES.get(
            svc.ip_family_policy, common_pb2.IP_FAMILY_POLICY_UNSPECIFIED
        ),
        requested_pool=svc.requested_pool,
        sharing_key=svc.sharing_key,
        backend_key=svc.backend_key,
        ports=[
            common_pb2.Port(
                protocol=_PROTOCOLS.get(p.protocol, common_pb2.PROTOCOL_TCP), port=p.port
            )
            for p in svc.ports
        ],
    )
    if requested:
        msg.requested_ips.extend(part.strip() for part in requested.split(","))
        msg.requested_ips_source = ipam_pb2.REQUESTED_IPS_SOURCE_ANNOTATION
    elif svc.load_balancer_ip:
        msg.requested_ips.append(svc.load_balancer_ip)
        msg.requested_ips_source = ipam_pb2.REQUESTED_IPS_SOURCE_SPEC
    return msg


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


async def converge(
    svc: ServiceSpec,
    ipam: IpamPort,
    pools_configured: bool,
    namespace_labels: dict[str, str] | None = None,
    current_pool: str | None = None,
) -> ConvergeResult:
    """One pass of `convergeBalancer` for `svc` (whose status holds `svc.ingress_ips`)."""
    result = ConvergeResult()

    async def clear() -> None:
        await ipam.release(svc.namespace, svc.name)
        result.ingress, result.pool = [], None

    def warn(reason: str, message: str) -> None:
        result.events.append(Event("Warning", reason, message))

    def normal(reason: str, message: str) -> None:
        result.events.append(Event("Normal", reason, message))

    if svc.type != "LoadBalancer":
        await clear()
        return result
    if not pools_configured:
        await clear()
        result.converged = False
        return result
    if not svc.cluster_ips:
        await clear()
        result.converged = False
        return result
    request = ipam_service(svc, namespace_labels or {})
    lb_ips = list(svc.ingress_ips)
    policy = svc.ip_family_policy or "SingleStack"
    if policy == "RequireDualStack" and len(svc.cluster_ips) < 2:
        warn(
            "not enough clusterips",
            f"Service requires dual stack but not enough clusterips {list(svc.cluster_ips)}",
        )
        await clear()
        result.converged = False
        return result
    pool = current_pool
    if not lb_ips:
        await clear()
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
                f"{svc.key}: {err}",
            )
            result.converged = False
            return result
        changed = lb_family is None or lb_family != cluster_family
        if cluster_family == "dual" and policy == "PreferDualStack" and lb_family is not None:
            changed = False
        if changed:
            await clear()
            lb_ips = []
    if lb_ips:
        try:
            alloc = await ipam.assign(request, lb_ips)
            pool = alloc.pool
        except IpamError as err:
            normal(
                "ClearAssignment",
                f"current IP for {quote(svc.key)} not allowed by config, will attempt for new "
                f"IP assignment: {err.message}",
            )
            await clear()
            lb_ips, pool = [], None
    if lb_ips and svc.requested_pool and svc.requested_pool != pool:
        await clear()
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
            await clear()
            lb_ips, pool = [], None
    if len(lb_ips) == 1 and policy == "PreferDualStack" and len(svc.cluster_ips) == 2:
        try:
            alloc = await ipam.allocate_additional_family(request)
            added = [ip for ip in alloc.ips if ip not in lb_ips]
            lb_ips, pool = list(alloc.ips), alloc.pool
            if added:
                normal("IPAllocated", f"Assigned additional IP {quote(added[0])}")
        except IpamError as err:
            normal(
                "AdditionalAssignFailed",
                f"cannot assign additional IP in PreferDualStack: {err.message}",
            )
    if not lb_ips:
        try:
            _requested_ips(svc)
            alloc = await ipam.allocate(request)
        except (IpamError, ValueError) as err:
            text = err.message if isinstance(err, IpamError) else str(err)
            warn("AllocationFailed", f"Failed to allocate IP for {quote(svc.key)}: {text}")
            result.converged = False
            return result
        lb_ips, pool = list(alloc.ips), alloc.pool
        normal("IPAllocated", f"Assigned IP {quote_list(lb_ips)}")
    result.ingress, result.pool = lb_ips, pool
    return result
