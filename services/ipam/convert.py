"""Protobuf messages of `metallb.ipam.v1` to and from the allocator's domain types."""

from collections.abc import Container, Iterable, Mapping, Sequence
from functools import lru_cache
from sys import intern
from types import MappingProxyType

from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from metallb.common.v1 import common_pb2
from metallb.ipam.v1 import ipam_pb2
from metallb_rules.allocator.errors import InvalidPoolsError, InvalidServiceError
from metallb_rules.allocator.model import (
    Allocation,
    Family,
    FamilyPolicy,
    PoolUsage,
    Port,
    ReleaseReason,
    RequestedIPsSource,
    ServiceRequest,
    ip_text,
)
from metallb_rules.allocator.pools import Pool, PoolSpec, ServiceAllocationSpec
from metallb_rules.balancer import Decision, Outcome
from metallb_rules.errors import DomainError
from metallb_rules.labels import LabelSelector, SelectorError
from metallb_rules.service import ServicePort, ServiceSpec, selector_is_read
from metallb_runtime.limits import require_name_length

_NO_LABELS: Mapping[str, str] = MappingProxyType({})
_FAMILIES = {common_pb2.IP_FAMILY_IPV4: Family.IPV4, common_pb2.IP_FAMILY_IPV6: Family.IPV6}
_POLICIES = {
    common_pb2.IP_FAMILY_POLICY_UNSPECIFIED: FamilyPolicy.SINGLE_STACK,
    common_pb2.IP_FAMILY_POLICY_SINGLE_STACK: FamilyPolicy.SINGLE_STACK,
    common_pb2.IP_FAMILY_POLICY_PREFER_DUAL_STACK: FamilyPolicy.PREFER_DUAL_STACK,
    common_pb2.IP_FAMILY_POLICY_REQUIRE_DUAL_STACK: FamilyPolicy.REQUIRE_DUAL_STACK,
}
# Kubernetes defaults a port's protocol to TCP.
_PROTOCOLS = {
    common_pb2.PROTOCOL_UNSPECIFIED: "TCP",
    common_pb2.PROTOCOL_TCP: "TCP",
    common_pb2.PROTOCOL_UDP: "UDP",
    common_pb2.PROTOCOL_SCTP: "SCTP",
}
_PROTOCOL_ENUM: dict[str, common_pb2.Protocol] = {
    "TCP": common_pb2.PROTOCOL_TCP,
    "UDP": common_pb2.PROTOCOL_UDP,
    "SCTP": common_pb2.PROTOCOL_SCTP,
}
_REASONS: dict[ReleaseReason, ipam_pb2.ReleaseReason] = {
    ReleaseReason.RELEASED: ipam_pb2.RELEASE_REASON_RELEASED,
    ReleaseReason.NOT_IN_ANY_POOL: ipam_pb2.RELEASE_REASON_NOT_IN_ANY_POOL,
    ReleaseReason.POOL_NOT_COMPATIBLE: ipam_pb2.RELEASE_REASON_POOL_NOT_COMPATIBLE,
}


def selector_from_proto(sel: common_pb2.LabelSelector) -> LabelSelector:
    return LabelSelector.build(
        dict(sel.match_labels),
        [(r.key, r.operator, list(r.values)) for r in sel.match_expressions],
    )


def _selectors(
    sels: Iterable[common_pb2.LabelSelector], kind: str, pool: str, field: str
) -> tuple[LabelSelector, ...]:
    out = []
    for i, sel in enumerate(sels):
        try:
            out.append(selector_from_proto(sel))
        except SelectorError as err:
            raise InvalidPoolsError(
                f"parsing address pool {pool}: invalid {kind} label selector {err} in ip pool "
                f"{pool}",
                field=f"{field}[{i}]",
            ) from None
    return tuple(out)


def pool_spec_from_proto(pool: ipam_pb2.Pool, index: int) -> PoolSpec:
    require_name_length(pool.name, f"pools[{index}].name")
    where = f"pools[{index}].service_allocation"
    sa = None
    if pool.HasField("service_allocation"):
        msg = pool.service_allocation
        sa = ServiceAllocationSpec(
            priority=msg.priority,
            namespaces=tuple(msg.namespaces),
            namespace_selectors=_selectors(
                msg.namespace_selectors, "namespace", pool.name, f"{where}.namespace_selectors"
            ),
            service_selectors=_selectors(
                msg.service_selectors, "service", pool.name, f"{where}.service_selectors"
            ),
        )
    return PoolSpec(
        name=pool.name,
        addresses=tuple(pool.addresses),
        auto_assign=pool.auto_assign if pool.HasField("auto_assign") else True,
        avoid_buggy_ips=pool.avoid_buggy_ips,
        service_allocation=sa,
    )


def pool_specs_from_proto(pools: Sequence[ipam_pb2.Pool]) -> list[PoolSpec]:
    return [pool_spec_from_proto(p, i) for i, p in enumerate(pools)]


def service_from_proto(svc: ipam_pb2.Service, field: str = "service") -> ServiceRequest:
    require_name_length(svc.namespace, f"{field}.namespace")
    require_name_length(svc.name, f"{field}.name")
    require_name_length(svc.requested_pool, f"{field}.requested_pool")
    try:  # the common case in one pass; a bad value is found and named below
        families = tuple([_FAMILIES[f] for f in svc.ip_families])
        policy = _POLICIES[svc.ip_family_policy]
        ports = tuple([Port(_PROTOCOLS[p.protocol], p.port) for p in svc.ports])
    except KeyError:
        _invalid_enum(svc, field, _FAMILIES, _POLICIES)
        raise
    labels, namespace_labels = svc.labels, svc.namespace_labels
    return ServiceRequest(
        svc.namespace,
        svc.name,
        families,
        policy,
        dict(labels) if labels else _NO_LABELS,
        dict(namespace_labels) if namespace_labels else _NO_LABELS,
        tuple(svc.requested_ips),
        RequestedIPsSource.SPEC
        if svc.requested_ips_source == ipam_pb2.REQUESTED_IPS_SOURCE_SPEC
        else RequestedIPsSource.ANNOTATION,
        svc.requested_pool,
        svc.sharing_key,
        svc.backend_key,
        ports,
    )


def _invalid_enum(
    svc: ipam_pb2.Service | ipam_pb2.LoadBalancerService,
    field: str,
    families: Container[int],
    policies: Container[int],
) -> None:
    """Raise `InvalidServiceError` naming the first enum field of `svc` with a bad value."""
    for i, fam in enumerate(svc.ip_families):
        if fam not in families:
            raise InvalidServiceError(
                "IP family must be IP_FAMILY_IPV4 or IP_FAMILY_IPV6",
                field=f"{field}.ip_families[{i}]",
            )
    if svc.ip_family_policy not in policies:
        raise InvalidServiceError("unknown IP family policy", field=f"{field}.ip_family_policy")
    for i, port in enumerate(svc.ports):
        if port.protocol not in _PROTOCOLS:
            raise InvalidServiceError("unknown protocol", field=f"{field}.ports[{i}].protocol")


def allocation_to_proto(
    alloc: Allocation, into: ipam_pb2.Allocation | None = None
) -> ipam_pb2.Allocation:
    """`alloc` as a message, filled `into` the given one (a response's field: no copy)."""
    msg = ipam_pb2.Allocation() if into is None else into
    msg.namespace = alloc.namespace
    msg.name = alloc.name
    msg.ips.extend([ip_text(ip) for ip in alloc.ips])
    msg.pool = alloc.pool
    msg.sharing_key = alloc.sharing_key
    msg.backend_key = alloc.backend_key
    for p in alloc.ports:
        msg.ports.add(
            protocol=_PROTOCOL_ENUM.get(p.protocol, common_pb2.PROTOCOL_UNSPECIFIED), port=p.port
        )
    return msg


def reason_to_proto(reason: ReleaseReason | None) -> ipam_pb2.ReleaseReason:
    return _REASONS[reason] if reason is not None else ipam_pb2.RELEASE_REASON_UNSPECIFIED


def pool_to_proto(pool: Pool) -> ipam_pb2.Pool:
    spec = pool.spec
    msg = ipam_pb2.Pool(
        name=spec.name,
        addresses=list(spec.addresses),
        auto_assign=spec.auto_assign,
        avoid_buggy_ips=spec.avoid_buggy_ips,
    )
    if spec.service_allocation is not None:
        sa = spec.service_allocation
        msg.service_allocation.CopyFrom(
            ipam_pb2.ServiceAllocation(
                priority=sa.priority,
                namespaces=list(sa.namespaces),
                namespace_selectors=[selector_to_proto(s) for s in sa.namespace_selectors],
                service_selectors=[selector_to_proto(s) for s in sa.service_selectors],
            )
        )
    return msg


def selector_to_proto(sel: LabelSelector) -> common_pb2.LabelSelector:
    return common_pb2.LabelSelector(
        match_labels=dict(sel.match_labels),
        match_expressions=[
            common_pb2.LabelSelectorRequirement(
                key=r.key, operator=r.operator.value, values=list(r.values)
            )
            for r in sel.match_expressions
        ],
    )


def usage_to_proto(usage: PoolUsage) -> ipam_pb2.PoolState:
    return ipam_pb2.PoolState(
        addresses_total=usage.total,
        ipv4_addresses_total=usage.ipv4_total,
        ipv6_addresses_total=usage.ipv6_total,
        addresses_in_use=usage.in_use,
        ipv4_addresses_in_use=usage.ipv4_in_use,
        ipv6_addresses_in_use=usage.ipv6_in_use,
        ipv4_addresses_available=usage.ipv4_available,
        ipv6_addresses_available=usage.ipv6_available,
        services_allocated=usage.services,
    )


def service_key_from_proto(key: common_pb2.ServiceKey, field: str = "service") -> str:
    require_name_length(key.namespace, f"{field}.namespace")
    require_name_length(key.name, f"{field}.name")
    if not key.namespace or not key.name:
        raise InvalidServiceError("namespace and name are required", field=field)
    return f"{key.namespace}/{key.name}"


def service_key_to_proto(key: str) -> common_pb2.ServiceKey:
    namespace, _, name = key.partition("/")
    return common_pb2.ServiceKey(namespace=namespace, name=name)


def status_of(err: DomainError) -> status_pb2.Status:
    """A per-item failure as google.rpc.Status: the code and text the item's own call would give,
    with a google.rpc.BadRequest naming the field when one is at fault."""
    status = status_pb2.Status(code=code_pb2.Code.Value(err.status), message=err.describe())
    if err.field:
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=err.field, description=err.message
                    )
                ]
            )
        )
        status.details.append(detail)
    return status


_FAMILY_NAMES = {common_pb2.IP_FAMILY_IPV4: "IPv4", common_pb2.IP_FAMILY_IPV6: "IPv6"}
_POLICY_NAMES = {
    common_pb2.IP_FAMILY_POLICY_UNSPECIFIED: "SingleStack",
    common_pb2.IP_FAMILY_POLICY_SINGLE_STACK: "SingleStack",
    common_pb2.IP_FAMILY_POLICY_PREFER_DUAL_STACK: "PreferDualStack",
    common_pb2.IP_FAMILY_POLICY_REQUIRE_DUAL_STACK: "RequireDualStack",
}


def check_load_balancer_service(svc: ipam_pb2.LoadBalancerService, field: str) -> None:
    """What `load_balancer_service_from_proto` refuses, without building the Service: a malformed
    item raises `InvalidServiceError` naming its field."""
    _load_balancer_service_parts(svc, field)


def _load_balancer_service_parts(
    svc: ipam_pb2.LoadBalancerService, field: str
) -> tuple[tuple[str, ...], str, tuple[ServicePort, ...]]:
    require_name_length(svc.namespace, f"{field}.namespace")
    require_name_length(svc.name, f"{field}.name")
    if not svc.namespace or not svc.name:
        raise InvalidServiceError("service namespace and name are required", field=field)
    try:  # the common case in one pass; a bad value is found and named below
        families = _family_names(tuple(svc.ip_families))
        policy = _POLICY_NAMES[svc.ip_family_policy]
        ports = _service_ports(tuple([(p.protocol, p.port) for p in svc.ports]))
    except KeyError:
        _invalid_enum(svc, field, _FAMILY_NAMES, _POLICY_NAMES)
        raise
    return families, policy, ports


def load_balancer_service_from_proto(svc: ipam_pb2.LoadBalancerService, field: str) -> ServiceSpec:
    """The Service as the rules read it; a malformed item raises `InvalidServiceError`."""
    families, policy, ports = _load_balancer_service_parts(svc, field)
    traffic_policy = intern(svc.external_traffic_policy or "Cluster")
    return ServiceSpec(
        intern(svc.namespace),
        svc.name,
        intern(svc.type),
        None,
        tuple(svc.cluster_ips),
        families,
        policy,
        svc.load_balancer_ip,
        traffic_policy,
        _string_map(svc.selector) if selector_is_read(traffic_policy) else _NO_LABELS,
        _string_map(svc.labels),
        _string_map(svc.annotations),
        ports,
        tuple(svc.ingress_ips),
    )


# A complete set's Services mostly share a few family lists and port lists: one tuple of each
# (IPAM holds a whole set of Services at once, issue 15). A bad value raises KeyError, uncached.
@lru_cache(maxsize=16)
def _family_names(families: tuple[common_pb2.IPFamily, ...]) -> tuple[str, ...]:
    return tuple([_FAMILY_NAMES[f] for f in families])


@lru_cache(maxsize=1024)
def _service_ports(
    ports: tuple[tuple[common_pb2.Protocol, int], ...],
) -> tuple[ServicePort, ...]:
    return tuple([ServicePort(_PROTOCOLS[protocol], port) for protocol, port in ports])


def _string_map(entries: Mapping[str, str]) -> Mapping[str, str]:
    """A map field as a dict with its keys interned, or one shared empty mapping: IPAM holds a
    complete set of Services (and the labels of each for good), whose keys repeat."""
    if not entries:
        return _NO_LABELS
    return {intern(key): value for key, value in entries.items()}


_OUTCOMES = {
    Outcome.SUCCESS: ipam_pb2.SYNC_OUTCOME_SUCCESS,
    Outcome.ERROR_NO_RETRY: ipam_pb2.SYNC_OUTCOME_ERROR_NO_RETRY,
    Outcome.REPROCESS_ALL: ipam_pb2.SYNC_OUTCOME_REPROCESS_ALL,
}
_EVENT_TYPES = {"Normal": ipam_pb2.EVENT_TYPE_NORMAL, "Warning": ipam_pb2.EVENT_TYPE_WARNING}


def outcome_to_proto(outcome: Outcome) -> ipam_pb2.SyncOutcome:
    return _OUTCOMES[outcome]


def decision_to_proto(
    decision: Decision, into: ipam_pb2.ServiceDecision | None = None
) -> ipam_pb2.ServiceDecision:
    """`decision` as a message, filled `into` the given one (a response's item: no copy)."""
    msg = ipam_pb2.ServiceDecision() if into is None else into
    namespace, _, name = decision.key.partition("/")
    msg.service.namespace = namespace
    msg.service.name = name
    msg.ingress_ips.extend(decision.ingress)
    if decision.pool:
        msg.pool = decision.pool
    for event in decision.events:
        msg.events.add(type=_EVENT_TYPES[event.type], reason=event.reason, message=event.message)
    msg.outcome = _OUTCOMES[decision.outcome]
    msg.status_changed = decision.changed
    return msg
