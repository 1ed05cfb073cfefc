"""One reconcile pass over a snapshot: what `metallb-grpc reconcile` prints.

Configuration first (invalid: nothing is allocated or announced, as MetalLB keeps waiting for a
valid configuration); then IPAM is given the pools, every service that already carries an ingress
is restored (more addresses first, then namespace/name order), the rest are converged in
namespace/name order, and, for a node, the L2 and BGP announcements are computed.
"""

import ipaddress
from collections.abc import Mapping
from typing import Any

from gateway.announce import bgp as bgp_decisions
from gateway.announce import layer2 as l2_decisions
from gateway.announce.inputs import Endpoint, ServiceView
from gateway.config.model import Config, ConfigError, Peer
from gateway.config.parse import parse
from gateway.controller.converge import Event, converge, ipam_service
from gateway.controller.ipam_client import GrpcIpam, pool_to_proto
from gateway.controller.service import ServiceSpec, service_from_k8s
from gateway.snapshot import Snapshot
from metallb.ipam.v1 import ipam_pb2


def handled(svc: ServiceSpec, lb_class: str = "") -> bool:
    """MetalLB `filterByLoadBalancerClass`, for LoadBalancer services."""
    if svc.type != "LoadBalancer":
        return False
    return svc.load_balancer_class is None if not lb_class else svc.load_balancer_class == lb_class


def _event_json(e: Event) -> dict[str, str]:
    return {"type": e.type, "reason": e.reason, "message": e.message}


def endpoints_of(snap: Snapshot, svc: ServiceSpec) -> tuple[Endpoint, ...]:
    eps = []
    for sl in snap.endpoint_slices_for(svc.namespace, svc.name):
        for ep in sl.get("endpoints") or []:
            cond = ep.get("conditions") or {}
            eps.append(
                Endpoint(
                    node_name=ep.get("nodeName"),
                    addresses=tuple(ep.get("addresses") or ()),
                    ready=cond.get("ready"),
                    serving=cond.get("serving"),
                )
            )
    return tuple(eps)


def _pool_of(config: Config, ips: list[str]) -> str | None:
    """The speaker's pool lookup: the first pool holding all the IPs (avoidBuggyIPs ignored)."""
    try:
        addrs = [ipaddress.ip_address(ip) for ip in ips]
    except ValueError:
        return None
    for name, pool in config.pools.items():
        if all(pool.contains(ip, avoid_buggy=False) for ip in addrs):
            return name
    return None


def _is_ibgp(peer: Peer) -> bool:
    local = peer.local_asn or peer.my_asn
    return peer.dynamic_asn == "internal" or (peer.peer_asn != 0 and peer.peer_asn == local)


def announcements(
    snap: Snapshot,
    config: Config,
    node_name: str,
    services: Mapping[str, tuple[ServiceSpec, list[str]]],
) -> dict[str, list[dict[str, Any]]]:
    nodes = snap.nodes()
    node = next((n for n in nodes if n.name == node_name), None)
    live = {n.name for n in nodes}
    layer2: list[dict[str, Any]] = []
    bgp: list[dict[str, Any]] = []
    for key in sorted(services):
        svc, ingress = services[key]
        pool = _pool_of(config, ingress) if ingress else None
        if node is None or pool is None:
            continue
        view = ServiceView(
            svc.namespace,
            svc.name,
            svc.type,
            tuple(ingress),
            svc.labels,
            svc.annotations,
            svc.external_traffic_policy,
            endpoints_of(snap, svc),
        )
        decision = l2_decisions.should_announce(
            view, config.l2_ads_for_pool(pool), node.name, nodes, live
        )
        if decision.announce:
            for ip in ingress:
                layer2.append({"service": key, "ip": ip, "interfaces": list(decision.interfaces)})
        ads = config.bgp_ads_for_pool(pool)
        if ads and bgp_decisions.should_announce(view, ads, node) is None:
            peers = [p for p in config.peers if node.name in p.nodes]
            for route in bgp_decisions.routes(view, ads, node):
                for peer in peers:
                    if route.peers and peer.name not in route.peers:
                        continue
                    bgp.append(
                        {
                            "peer": peer.name,
                            "prefix": route.prefix,
                            "communities": [str(c) for c in route.communities],
                            "localPref": route.local_pref if _is_ibgp(peer) else None,
                        }
                    )
    bgp_unique = {tuple(sorted((k, str(v)) for k, v in e.items())): e for e in bgp}
    return {"layer2": layer2, "bgp": list(bgp_unique.values())}


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
