"""One reconcile pass over a snapshot: what `metallb-grpc reconcile` prints.

MetalLB's rules over an in-memory allocator, the same functions IPAM runs for the controller:
configuration first (invalid: nothing is allocated or announced, as MetalLB keeps waiting for a
valid configuration); then every service the controller would handle is decided as one complete
set (`metallb_rules.balancer.decide_batch`: status restored first, more addresses first, then
each service in that order), and, for a node, the L2 and BGP announcements are computed.
"""

from collections.abc import Mapping
from typing import Any

from gateway.node.desired import desired_for_node
from gateway.snapshot import Snapshot
from metallb_rules.allocator.allocator import Allocator
from metallb_rules.balancer import Event, decide_batch, relevant, restore_order
from metallb_rules.config.model import Config, ConfigError
from metallb_rules.config.parse import parse
from metallb_rules.service import ServiceSpec, service_from_k8s


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


def reconcile_once(
    snap: Snapshot, node: str | None = None, lb_class: str = ""
) -> tuple[bool, dict[str, Any]]:
    """(configuration valid, the JSON report) for one pass; writes nothing."""
    config: Config | None = None
    errors: list[str] = []
    try:
        config = parse(snap.cluster_resources())
    except ConfigError as err:
        errors.append(err.describe())
    specs = (service_from_k8s(o) for o in snap.of("Service"))
    services = restore_order(s for s in specs if relevant(s, lb_class))
    report: dict[str, Any] = {
        "config": {"valid": config is not None, "errors": errors},
        "services": {},
    }
    if config is None:
        for svc in services:
            report["services"][svc.key] = {
                "ingress": list(svc.ingress_ips),
                "pool": None,
                "events": [],
            }
        return False, report
    allocator = Allocator()
    allocator.set_pools(pool.spec for pool in config.pools.values())
    batch = [(svc, snap.namespace_labels(svc.namespace)) for svc in services]
    decisions, _ = decide_batch(allocator, batch, complete_set=True)
    results: dict[str, tuple[ServiceSpec, list[str]]] = {}
    for svc, decision in zip(services, decisions, strict=True):
        report["services"][svc.key] = {
            "ingress": decision.ingress,
            "pool": decision.pool,
            "events": [_event_json(e) for e in decision.events],
        }
        results[svc.key] = (svc, decision.ingress)
    if node is not None:
        report["announcements"] = announcements(snap, config, node, results)
    return True, report
