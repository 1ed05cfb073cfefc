"""One reconcile pass over a snapshot: what `metallb-grpc reconcile` prints.

Configuration first (invalid: nothing is allocated or announced, as MetalLB keeps waiting for a
valid configuration); then IPAM is given the pools, every service that already carries an ingress
is restored (more addresses first, then namespace/name order), the rest are converged in
namespace/name order, and, for a node, the L2 and BGP announcements are computed.
"""

from collections.abc import Mapping
from typing import Any

from gateway.controller.converge import Event, converge, ipam_service
from gateway.controller.ipam_client import GrpcIpam, pool_to_proto
from gateway.node.desired import desired_for_node
from gateway.snapshot import Snapshot
from metallb.ipam.v1 import ipam_pb2
from metallb_rules.config.model import Config, ConfigError
from metallb_rules.config.parse import parse
from metallb_rules.service import ServiceSpec, service_from_k8s


def handled(svc: ServiceSpec, lb_class: str = "") -> bool:
    """MetalLB `filterByLoadBalancerClass`, for LoadBalancer services."""
    if svc.type != "LoadBalancer":
        return False
    return svc.load_balancer_class is None if not lb_class else svc.load_balancer_class == lb_class


def _event_json(e: Event) -> dict[str, str]:
    return {"type": e.type, "reason": e.reason, "message": e.message}


def announcements(
    snap: Snapshot,
    config: Config,
    node_name: str,
    services: Mapping[str, tuple[ServiceSpec, list[str]]],
) -> dict[str, list[dict[str, Any]]]:
    desired = desired_for_node(snap, config, node_name, services)
    return {
        "layer2": [
            {"service": a.service, "ip": a.ip, "interfaces": list(a.interfaces)}
            for a in desired.layer2
        ],
        "bgp": [
            {
                "peer": r.peer,
                "prefix": r.prefix,
                "communities": [str(c) for c in r.communities],
                "localPref": r.local_pref,
            }
            for r in desired.routes
        ],
    }


async def reconcile_once(
    snap: Snapshot, ipam: GrpcIpam, node: str | None = None, lb_class: str = ""
) -> tuple[bool, dict[str, Any]]:
    """(configuration valid, the JSON report) for one pass; writes nothing."""
    config: Config | None = None
    errors: list[str] = []
    try:
        config = parse(snap.cluster_resources())
    except ConfigError as err:
        errors.append(err.describe())
    specs = [service_from_k8s(o) for o in snap.of("Service")]
    lbs = sorted((s for s in specs if handled(s, lb_class)), key=lambda s: s.key)
    report: dict[str, Any] = {
        "config": {"valid": config is not None, "errors": errors},
        "services": {},
    }
    results: dict[str, tuple[ServiceSpec, list[str]]] = {}
    if config is None:
        for svc in lbs:
            report["services"][svc.key] = {
                "ingress": list(svc.ingress_ips),
                "pool": None,
                "events": [],
            }
        return False, report
    await ipam.set_pools([pool_to_proto(o) for o in snap.of("IPAddressPool")])
    with_ingress = sorted(
        (s for s in lbs if s.ingress_ips), key=lambda s: (-len(s.ingress_ips), s.key)
    )
    await ipam.restore(
        [
            ipam_pb2.Restoration(
                service=ipam_service(s, snap.namespace_labels(s.namespace)), ips=s.ingress_ips
            )
            for s in with_ingress
        ],
        complete=True,
    )
    order = with_ingress + [s for s in lbs if not s.ingress_ips]
    for svc in order:
        result = await converge(svc, ipam, bool(config.pools), snap.namespace_labels(svc.namespace))
        events = list(result.events)
        if result.ingress != list(svc.ingress_ips):
            events = [
                Event("Warning", "deprecatedAnnotation", f"Service uses deprecated annotation {k}")
                for k in svc.deprecated_annotations
            ] + events
        report["services"][svc.key] = {
            "ingress": result.ingress,
            "pool": result.pool,
            "events": [_event_json(e) for e in events],
        }
        results[svc.key] = (svc, result.ingress)
    if node is not None:
        report["announcements"] = announcements(snap, config, node, results)
    return True, report
