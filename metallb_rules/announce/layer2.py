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


#: Why a node is not an L2 candidate for a service (explain's words; MetalLB says notOwner).
NODE_SELECTOR = "no L2Advertisement of the pool selects this node (nodeSelectors)"
NOT_ALIVE = "not alive (its speaker is not a member: Lease not renewed)"
NETWORK_UNAVAILABLE = "its NetworkUnavailable condition is True"
EXCLUDED_LABEL = "labelled node.kubernetes.io/exclude-from-external-load-balancers"
NO_LOCAL_ENDPOINT = "no ready endpoint on this node (externalTrafficPolicy: Local)"


def ads_for_service(svc: ServiceView, ads: Sequence[L2Advertisement]) -> list[L2Advertisement]:
    """The pool's advertisements whose serviceSelectors match the service (none: all)."""
    return [
        ad
        for ad in ads
        if not ad.service_selectors or any(s.matches(svc.labels) for s in ad.service_selectors)
    ]


def ineligibility(
    svc: ServiceView,
    ads: Sequence[L2Advertisement],
    nodes: Sequence[Node],
    live: Collection[str],
    *,
    ignore_exclude_lb: bool = False,
) -> dict[str, str]:
    """Every node: "" when it is a candidate for the election (§3.2 `speakers`, narrowed to the
    nodes with a local endpoint under externalTrafficPolicy Local), else why not. `ads` are
    `ads_for_service`."""
    local: set[str] | None = None
    if svc.external_traffic_policy == "Local":
        local = {ep.node_name for ep in svc.endpoints if ep.can_serve() and ep.node_name}
    out = {}
    for n in nodes:
        if not any(n.name in ad.nodes for ad in ads):
            out[n.name] = NODE_SELECTOR
        elif n.name not in live:
            out[n.name] = NOT_ALIVE
        elif n.network_unavailable:
            out[n.name] = NETWORK_UNAVAILABLE
        elif node_excluded(n, ignore_exclude_lb):
            out[n.name] = EXCLUDED_LABEL
        elif local is not None and n.name not in local:
            out[n.name] = NO_LOCAL_ENDPOINT
        else:
            out[n.name] = ""
    return out


def preference_scores(ads: Sequence[L2Advertisement]) -> dict[str, int]:
    """Summed preferredNodeSelectors weights per node, over `ads_for_service` (§3.2)."""
    scores: dict[str, int] = {}
    for ad in ads:
        for node, weight in ad.preferred_nodes.items():
            scores[node] = scores.get(node, 0) + weight
    return scores


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
    matching = ads_for_service(svc, ads)
    if svc.allows_shared_ip and any(ad.service_selectors for ad in matching):
        return L2Decision(False, "sharedIPWithServiceSelector")
    if not any(my_node in ad.nodes for ad in matching):
        return L2Decision(False, "noMatchingAdvertisement")
    why = ineligibility(svc, matching, nodes, live, ignore_exclude_lb=ignore_exclude_lb)
    available = [node for node, reason in why.items() if not reason]
    if not available:
        return L2Decision(False, "notOwner")
    owner = elect(svc.ingress_ips[0], available, preference_scores(matching))[0]
    if owner != my_node:
        return L2Decision(False, "notOwner", owner=owner)
    return L2Decision(True, interfaces=interfaces_of(matching, my_node), owner=owner)


def interfaces_of(ads: Sequence[L2Advertisement], node: str) -> tuple[str, ...]:
    """Where `node` answers (§3.3): () for every interface when one of its matching
    advertisements names none, else the union of the names they list."""
    mine = [ad for ad in ads if node in ad.nodes]
    if any(not ad.interfaces for ad in mine):
        return ()
    return tuple(sorted({i for ad in mine for i in ad.interfaces}))
