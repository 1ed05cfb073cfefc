"""A node's desired state, from one snapshot: L2 announcements, BGP peers and routes (pure).

MetalLB's speaker pipeline (behaviour reference §3.1): a service with an ingress address is looked
up in the pool holding all its addresses (avoidBuggyIPs ignored, as the speaker does), then L2
(§3.2) and BGP (§4.2) decide independently whether this node announces it. Routes go to the
node's peers the advertisement names (all when it names none); LOCAL_PREF only to iBGP peers.
"""

import ipaddress
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from gateway.announce import bgp as bgp_decisions
from gateway.announce import layer2 as l2_decisions
from gateway.announce.inputs import Endpoint, ServiceView
from gateway.config.model import Config, Peer
from gateway.controller.service import ServiceSpec, service_from_k8s
from gateway.snapshot import Snapshot


@dataclass(frozen=True, order=True)
class L2Announcement:
    service: str
    ip: str
    # Empty: every eligible interface.
    interfaces: tuple[str, ...] = ()


@dataclass(frozen=True, order=True)
class BGPRoute:
    peer: str
    prefix: str
    communities: tuple[str, ...] = ()
    local_pref: int | None = None

    def sort_key(self) -> tuple[str, str, tuple[str, ...], int]:
        return (self.peer, self.prefix, self.communities, self.local_pref or 0)


@dataclass
class NodeDesired:
    layer2: list[L2Announcement] = field(default_factory=list)
    routes: list[BGPRoute] = field(default_factory=list)
    peers: list[Peer] = field(default_factory=list)


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


def pool_of(config: Config, ips: Iterable[str]) -> str | None:
    """The speaker's pool lookup: the first pool holding all the IPs (avoidBuggyIPs ignored)."""
    try:
        addrs = [ipaddress.ip_address(ip) for ip in ips]
    except ValueError:
        return None
    if not addrs:
        return None
    for name, pool in config.pools.items():
        if all(pool.contains(ip, avoid_buggy=False) for ip in addrs):
            return name
    return None


def is_ibgp(peer: Peer) -> bool:
    local = peer.local_asn or peer.my_asn
    return peer.dynamic_asn == "internal" or (peer.peer_asn != 0 and peer.peer_asn == local)


def services_with_ingress(
    snap: Snapshot, lb_class: str = ""
) -> dict[str, tuple[ServiceSpec, list[str]]]:
    out = {}
    for obj in snap.of("Service"):
        spec = service_from_k8s(obj)
        ours = (
            spec.load_balancer_class is None
            if not lb_class
            else (spec.load_balancer_class == lb_class)
        )
        if ours and spec.type == "LoadBalancer" and spec.ingress_ips:
            out[spec.key] = (spec, list(spec.ingress_ips))
    return out


def desired_for_node(
    snap: Snapshot,
    config: Config,
    node_name: str,
    services: Mapping[str, tuple[ServiceSpec, list[str]]],
    live: Collection[str] | None = None,
) -> NodeDesired:
    nodes = snap.nodes()
    node = next((n for n in nodes if n.name == node_name), None)
    out = NodeDesired()
    if node is None:
        return out
    live = {n.name for n in nodes} if live is None else live
    out.peers = [p for p in config.peers if node.name in p.nodes]
    routes: set[BGPRoute] = set()
    for key in sorted(services):
        svc, ingress = services[key]
        pool = pool_of(config, ingress)
        if pool is None:
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
            out.layer2.extend(L2Announcement(key, ip, decision.interfaces) for ip in ingress)
        ads = config.bgp_ads_for_pool(pool)
        if ads and bgp_decisions.should_announce(view, ads, node) is None:
            for route in bgp_decisions.routes(view, ads, node):
                for peer in out.peers:
                    if route.peers and peer.name not in route.peers:
                        continue
                    routes.add(
                        BGPRoute(
                            peer.name,
                            route.prefix,
                            tuple(str(c) for c in route.communities),
                            route.local_pref if is_ibgp(peer) else None,
                        )
                    )
    out.routes = sorted(routes, key=BGPRoute.sort_key)
    return out
