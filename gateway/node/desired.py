"""A node's desired state, from one snapshot: L2 announcements, BGP peers and routes (pure).

MetalLB's speaker pipeline (behaviour reference §3.1): a service with an ingress address is looked
up in the pool holding all its addresses (avoidBuggyIPs ignored, as the speaker does), then L2
(§3.2) and BGP (§4.2) decide independently whether this node announces it. Routes go to the
node's peers the advertisement names (all when it names none); LOCAL_PREF only to iBGP peers.
"""

import bisect
import ipaddress
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from gateway.snapshot import Obj, Snapshot, key_of
from metallb_rules.announce import bgp as bgp_decisions
from metallb_rules.announce import layer2 as l2_decisions
from metallb_rules.announce.inputs import Endpoint, ServiceView
from metallb_rules.config.model import Config, Node, Peer
from metallb_rules.service import ServiceSpec, service_from_k8s


@dataclass(frozen=True, order=True)
class L2Announcement:
    service: str
    ip: str
    # Empty: every eligible interface.
    interfaces: tuple[str, ...] = ()


#: One route to one peer (the rules' type: communities parsed, LOCAL_PREF decided).
BGPRoute = bgp_decisions.PeerRoute


@dataclass
class NodeDesired:
    layer2: list[L2Announcement] = field(default_factory=list)
    routes: list[BGPRoute] = field(default_factory=list)
    peers: list[Peer] = field(default_factory=list)
    # Per service key (services this node does something for, or not).
    services: dict[str, "ServiceDesired"] = field(default_factory=dict)


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


def services_with_ingress(
    snap: Snapshot, lb_class: str = ""
) -> dict[str, tuple[ServiceSpec, list[str]]]:
    out = {}
    for obj in snap.of("Service"):
        spec = service_from_k8s(obj)
        if _announced_kind(spec, lb_class):
            out[spec.key] = (spec, list(spec.ingress_ips))
    return out


@dataclass(frozen=True)
class ServiceDesired:
    """What this node does for one service: its L2 announcements and BGP routes."""

    layer2: tuple[L2Announcement, ...] = ()
    routes: frozenset[BGPRoute] = frozenset()

    @property
    def bgp_peers(self) -> list[str]:
        """ServiceBGPStatus `peers` (reference §5): the peers handed one of its prefixes."""
        return sorted({r.peer for r in self.routes})


@dataclass(frozen=True)
class NodeContext:
    """The node deciding, every node (for the L2 election), the live ones, and its peers."""

    node: Node
    nodes: list[Node]
    live: Collection[str]
    peers: list[Peer]


def desired_for_service(
    snap: Snapshot, config: Config, ctx: NodeContext, svc: ServiceSpec, ingress: list[str]
) -> ServiceDesired:
    """§3.1 steps 3 and 5 for one service with an ingress address, on `node`."""
    pool = pool_of(config, ingress)
    if pool is None:
        return ServiceDesired()
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
    layer2: tuple[L2Announcement, ...] = ()
    decision = l2_decisions.should_announce(
        view, config.l2_ads_for_pool(pool), ctx.node.name, ctx.nodes, ctx.live
    )
    if decision.announce:
        layer2 = tuple(L2Announcement(svc.key, ip, decision.interfaces) for ip in ingress)
    routes: set[BGPRoute] = set()
    ads = config.bgp_ads_for_pool(pool)
    if ads and bgp_decisions.should_announce(view, ads, ctx.node) is None:
        routes = bgp_decisions.peer_routes(bgp_decisions.routes(view, ads, ctx.node), ctx.peers)
    return ServiceDesired(layer2, frozenset(routes))


def _combine(peers: list[Peer], per_service: Mapping[str, ServiceDesired]) -> NodeDesired:
    out = NodeDesired(peers=peers, services=dict(per_service))
    routes: set[BGPRoute] = set()
    for key in sorted(per_service):
        done = per_service[key]
        out.layer2.extend(done.layer2)
        routes.update(done.routes)
    out.routes = sorted(routes, key=BGPRoute.sort_key)
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
    if node is None:
        return NodeDesired()
    live = {n.name for n in nodes} if live is None else live
    ctx = NodeContext(node, nodes, live, [p for p in config.peers if node.name in p.nodes])
    per_service = {
        key: desired_for_service(snap, config, ctx, svc, ingress)
        for key, (svc, ingress) in services.items()
    }
    return _combine(ctx.peers, per_service)


class DesiredMemo:
    """`desired_for_node` that recomputes only the services that changed.

    A service is recomputed when its Service object or its EndpointSlices are not the very
    objects seen last time (sources replace an object on every change, never edit it), or when
    the configuration, the nodes or their liveness differ; otherwise its last result is reused.
    Given the (kind, key) changes since the last call, only the services they touch are looked
    at; without them every service is checked (still without recomputing unchanged ones).
    """

    def __init__(self, node_name: str, lb_class: str = "") -> None:
        self.node_name = node_name
        self.lb_class = lb_class
        self._context: tuple[Config, tuple[Node, ...], frozenset[str]] | None = None
        # key -> (Service object, its EndpointSlices, result or None when not announced)
        self._memo: dict[str, tuple[Obj, tuple[Obj, ...], ServiceDesired | None]] = {}
        self._results: dict[str, ServiceDesired] = {}  # the announced ones
        self._slice_owner: dict[str, str] = {}  # EndpointSlice key -> service key
        # The combination of the results, kept as they change (a pass over 10,000 services
        # where a few changed must not re-sort all their routes): how many services want each
        # route, the routes gained and lost since the sorted list was built, and the lists
        # handed out (the layer-2 one None when it must be rebuilt). A list is the same object
        # while nothing in it changed, so that callers can skip work by identity.
        self._route_refs: dict[BGPRoute, int] = {}
        self._routes: list[BGPRoute] = []
        self._routes_gained: set[BGPRoute] = set()  # since `_routes` was built
        self._routes_lost: set[BGPRoute] = set()
        self._layer2: list[L2Announcement] | None = []
        self.recomputed = 0

    def compute(
        self,
        snap: Snapshot,
        config: Config,
        live: Collection[str] | None = None,
        changed: Collection[tuple[str, str]] | None = None,
    ) -> NodeDesired:
        nodes = snap.nodes()
        node = next((n for n in nodes if n.name == self.node_name), None)
        if node is None:
            self._forget()
            return NodeDesired()
        alive = frozenset(n.name for n in nodes) if live is None else frozenset(live)
        context = (config, tuple(nodes), alive)
        ctx = NodeContext(node, nodes, alive, [p for p in config.peers if node.name in p.nodes])
        if context != self._context:
            self._forget()
            self._context = context
            changed = None
        services = snap.objects.get("Service", {})
        if changed is None or not self._memo:
            keys: Collection[str] = {_service_key(obj) for obj in services.values()}
            self._memo = {k: v for k, v in self._memo.items() if k in keys}
            for gone in [k for k in self._results if k not in keys]:
                self._set_result(gone, None)
        else:
            keys = self._touched(snap, changed)
        for key in keys:
            self._refresh(snap, config, ctx, key)
        return self._combined(ctx.peers)

    def _combined(self, peers: list[Peer]) -> NodeDesired:
        """`_combine(peers, results)`, from what is kept current."""
        if self._routes_gained or self._routes_lost:
            self._routes = _sorted_update(self._routes, self._routes_gained, self._routes_lost)
            self._routes_gained, self._routes_lost = set(), set()
        if self._layer2 is None:
            self._layer2 = [a for key in sorted(self._results) for a in self._results[key].layer2]
        return NodeDesired(
            layer2=self._layer2, routes=self._routes, peers=peers, services=dict(self._results)
        )

    def _set_result(self, key: str, result: ServiceDesired | None) -> None:
        old = self._results.get(key)
        if old == result:
            return
        if result is None:
            del self._results[key]
        else:
            self._results[key] = result
        before = old.routes if old is not None else frozenset()
        after = result.routes if result is not None else frozenset()
        for route in before - after:
            self._route_refs[route] -= 1
            if not self._route_refs[route]:
                del self._route_refs[route]
                if route in self._routes_gained:
                    self._routes_gained.discard(route)
                else:
                    self._routes_lost.add(route)
        for route in after - before:
            self._route_refs[route] = self._route_refs.get(route, 0) + 1
            if self._route_refs[route] == 1:
                if route in self._routes_lost:
                    self._routes_lost.discard(route)
                else:
                    self._routes_gained.add(route)
        if (old.layer2 if old is not None else ()) != (result.layer2 if result else ()):
            self._layer2 = None

    def _forget(self) -> None:
        self._memo.clear()
        self._results.clear()
        self._slice_owner.clear()
        self._route_refs.clear()
        self._routes = []
        self._routes_gained, self._routes_lost = set(), set()
        self._layer2 = []

    def _touched(self, snap: Snapshot, changed: Collection[tuple[str, str]]) -> set[str]:
        """The services a set of changes can alter (other kinds act through the context)."""
        keys: set[str] = set()
        slices = snap.objects.get("EndpointSlice", {})
        for kind, key in changed:
            if kind == "Service":
                keys.add(key if "/" in key else f"default/{key}")
            elif kind == "EndpointSlice":
                if key in self._slice_owner:
                    keys.add(self._slice_owner[key])
                obj = slices.get(key)
                owner = ((obj or {}).get("metadata") or {}).get("labels", {}) or {}
                if obj is not None and "kubernetes.io/service-name" in owner:
                    namespace = str(obj["metadata"].get("namespace") or "default")
                    keys.add(f"{namespace}/{owner['kubernetes.io/service-name']}")
        return keys

    def _refresh(self, snap: Snapshot, config: Config, ctx: NodeContext, key: str) -> None:
        namespace, _, name = key.partition("/")
        services = snap.objects.get("Service", {})
        obj = services.get(key) or (services.get(name) if namespace == "default" else None)
        if obj is None:
            self._memo.pop(key, None)
            self._set_result(key, None)
            return
        slices = tuple(snap.endpoint_slices_for(namespace, name))
        held = self._memo.get(key)
        if held is not None and held[0] is obj and _same(held[1], slices):
            return
        self.recomputed += 1
        result = None
        svc = service_from_k8s(obj)
        if _announced_kind(svc, self.lb_class):
            result = desired_for_service(snap, config, ctx, svc, list(svc.ingress_ips))
        self._memo[key] = (obj, slices, result)
        for piece in slices:
            self._slice_owner[key_of(piece)] = key
        self._set_result(key, result)


def _sorted_update(
    routes: list[BGPRoute], gained: set[BGPRoute], lost: set[BGPRoute]
) -> list[BGPRoute]:
    """A new sorted list: `routes` (sorted, holding every route of `lost` and none of `gained`)
    without `lost` and with `gained`; a few changes are placed by bisection, not by sorting the
    whole list again."""
    if len(gained) + len(lost) > len(routes) // 8:
        return sorted((set(routes) - lost) | gained, key=BGPRoute.sort_key)
    out = list(routes)
    key = BGPRoute.sort_key
    for route in lost:
        at = bisect.bisect_left(out, key(route), key=key)
        while out[at] != route:  # equal sort keys (local_pref None and 0): look further
            at += 1
        del out[at]
    for route in gained:
        bisect.insort(out, route, key=key)
    return out


def _service_key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name') or ''}"


def _same(a: tuple[Obj, ...], b: tuple[Obj, ...]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


def _announced_kind(spec: ServiceSpec, lb_class: str) -> bool:
    """Ours (load-balancer class), a LoadBalancer, and holding an ingress address."""
    ours = (
        spec.load_balancer_class is None if not lb_class else spec.load_balancer_class == lb_class
    )
    return ours and spec.type == "LoadBalancer" and bool(spec.ingress_ips)
