"""L2 ownership: MetalLB's `ShouldAnnounce` for layer 2 (behaviour reference §3.2, §3.3).

Every node computes the same election over the same candidates, so exactly one node answers
ARP/NDP for an address: candidates sorted by the summed preferred-node score (highest first), then
by sha256(node + "#" + first ingress IP) (lowest first). Liveness comes from the caller: `live` is
the set of nodes whose Lease is current (MetalLB uses memberlist membership).
"""

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from metallb_rules.announce.inputs import ServiceView, node_excluded
from metallb_rules.config.model import L2Advertisement, Node


def elect(
    ip: str, candidates: Collection[str], scores: Mapping[str, int] | None = None
) -> list[str]:
    """Candidates in MetalLB's order: score descending, then sha256(node#ip) ascending."""
    scores = scores or {}
    return sorted(
        candidates,
        key=lambda node: (-scores.get(node, 0), hashlib.sha256(f"{node}#{ip}".encode()).digest()),
    )


@dataclass(frozen=True)
class L2Decision:
    """Announce on `interfaces` (empty tuple = every eligible interface), or not, with a reason."""

    announce: bool
    reason: str = ""
    interfaces: tuple[str, ...] = ()
    owner: str = ""


def should_announce(
    svc: ServiceView,
    ads: Sequence[L2Advertisement],
    my_node: str,
    nodes: Sequence[Node],
    live: Collection[str],
    *,
    ignore_exclude_lb: bool = False,
) -> L2Decision:
    if not any(ep.can_serve() for ep in svc.endpoints):
        return L2Decision(False, "notOwner")
    ads_for_service = [
        ad
        for ad in ads
        if not ad.service_selectors or any(s.matches(svc.labels) for s in ad.service_selectors)
    ]
    if svc.allows_shared_ip and any(ad.service_selectors for ad in ads_for_service):
        return L2Decision(False, "sharedIPWithServiceSelector")
    if not any(my_node in ad.nodes for ad in ads_for_service):
        return L2Decision(False, "noMatchingAdvertisement")
    speakers = {
        n.name
        for n in nodes
        if n.name in live
        and not n.network_unavailable
        and not node_excluded(n, ignore_exclude_lb)
        and any(n.name in ad.nodes for ad in ads_for_service)
    }
    available = speakers
    if svc.external_traffic_policy == "Local":
        local = {ep.node_name for ep in svc.endpoints if ep.can_serve() and ep.node_name}
        available = speakers & local
    if not available:
        return L2Decision(False, "notOwner")
    scores: dict[str, int] = {}
    for ad in ads_for_service:
        for node, weight in ad.preferred_nodes.items():
            scores[node] = scores.get(node, 0) + weight
    owner = elect(svc.ingress_ips[0], available, scores)[0]
    if owner != my_node:
        return L2Decision(False, "notOwner", owner=owner)
    mine = [ad for ad in ads_for_service if my_node in ad.nodes]
    if any(not ad.interfaces for ad in mine):
        interfaces: tuple[str, ...] = ()
    else:
        interfaces = tuple(sorted({i for ad in mine for i in ad.interfaces}))
    return L2Decision(True, interfaces=interfaces, owner=owner)
