"""The controller's side of IPAM's `ConvergeServices`: Services out, decisions back.

MetalLB's convergeBalancer itself is `metallb_rules.balancer`, run inside IPAM for a whole batch
of Services in one call (and by `metallb-grpc reconcile` over an in-memory allocator). This module
only converts: a Service as the controller read it (spec, MetalLB annotations, the addresses its
status holds) to `metallb.ipam.v1.LoadBalancerService`, and IPAM's answer back to the rules'
`Decision`, so the controller writes exactly what the rules decided.
"""

import logging
from collections.abc import Mapping

from metallb.common.v1 import common_pb2
from metallb.ipam.v1 import ipam_pb2
from metallb_rules.balancer import Decision, Event, Outcome
from metallb_rules.service import (
    ALLOCATED_FROM,
    DEPRECATED,
    STABLE,
    ServiceSpec,
    selector_is_read,
)

log = logging.getLogger(__name__)

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
_OUTCOMES = {
    ipam_pb2.SYNC_OUTCOME_SUCCESS: Outcome.SUCCESS,
    ipam_pb2.SYNC_OUTCOME_ERROR_NO_RETRY: Outcome.ERROR_NO_RETRY,
    ipam_pb2.SYNC_OUTCOME_REPROCESS_ALL: Outcome.REPROCESS_ALL,
}
_EVENT_TYPES = {ipam_pb2.EVENT_TYPE_NORMAL: "Normal", ipam_pb2.EVENT_TYPE_WARNING: "Warning"}


def load_balancer_service(svc: ServiceSpec) -> ipam_pb2.LoadBalancerService:
    """The Service as IPAM's rules read it (only the MetalLB annotations are sent)."""
    return ipam_pb2.LoadBalancerService(
        namespace=svc.namespace,
        name=svc.name,
        type=svc.type,
        cluster_ips=svc.cluster_ips,
        ip_families=[_FAMILIES[f] for f in svc.ip_families if f in _FAMILIES],
        ip_family_policy=_POLICIES.get(
            svc.ip_family_policy, common_pb2.IP_FAMILY_POLICY_UNSPECIFIED
        ),
        load_balancer_ip=svc.load_balancer_ip,
        external_traffic_policy=svc.external_traffic_policy,
        selector=svc.selector if selector_is_read(svc.external_traffic_policy) else None,
        labels=svc.labels,
        annotations={
            k: v for k, v in svc.annotations.items() if k.startswith((STABLE, DEPRECATED))
        },
        ports=[
            common_pb2.Port(
                protocol=_PROTOCOLS.get(p.protocol, common_pb2.PROTOCOL_TCP), port=p.port
            )
            for p in svc.ports
        ],
        ingress_ips=svc.ingress_ips,
    )


def namespace_labels(labels: Mapping[str, Mapping[str, str]]) -> dict[str, ipam_pb2.Labels]:
    return {ns: ipam_pb2.Labels(labels=dict(lab)) for ns, lab in labels.items() if lab}


def decision_from_proto(msg: ipam_pb2.ServiceDecision, svc: ServiceSpec | None = None) -> Decision:
    """IPAM's decision; an item IPAM refused (malformed: a bug of ours, logged) leaves `svc` as it
    is, to be retried on the next full pass."""
    key = f"{msg.service.namespace}/{msg.service.name}"
    if msg.HasField("error"):
        log.error("IPAM refused to decide %s: %s", key, msg.error.message)
        return Decision(
            key=key,
            ingress=list(svc.ingress_ips) if svc else [],
            pool=svc.annotations.get(ALLOCATED_FROM) if svc else None,
            converged=False,
            outcome=Outcome.ERROR_NO_RETRY,
        )
    return Decision(
        key=key,
        ingress=list(msg.ingress_ips),
        pool=msg.pool or None,
        events=[Event(_EVENT_TYPES[e.type], e.reason, e.message) for e in msg.events],
        converged=msg.outcome != ipam_pb2.SYNC_OUTCOME_ERROR_NO_RETRY,
        outcome=_OUTCOMES[msg.outcome],
        changed=msg.status_changed,
    )


def outcome_from_proto(outcome: ipam_pb2.SyncOutcome) -> Outcome:
    return _OUTCOMES[outcome]
