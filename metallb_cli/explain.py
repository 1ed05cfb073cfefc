"""`metallb-grpc explain NAMESPACE/NAME`: follow one Service through every link, and say where
the chain breaks (pure: facts in, report out; the readers are metallb_cli/facts_readers.py).

Theory of operation. `Facts` is what can be read of a cluster or of `metallb-grpc up`'s folder:
every object the gateway reads, the status the roles wrote (Service status, ConfigurationState,
ServiceL2Status, ServiceBGPStatus) and what each node publishes (BGPSessionState, L2NodeState:
gateway/node/facts.py), plus the time and whether liveness comes from node Leases. `explain`
re-runs the very rules the gateway runs (metallb_rules: `parse`, `decide_batch` over every
Service, `automatic_order`/`pinned_for`, the L2 `ineligibility` and `elect`, the BGP
`should_announce`, `routes` and `peer_routes`) and compares them with what the nodes report.
The links, in order:

1. ours: type LoadBalancer and the loadBalancerClass this MetalLB handles;
2. configuration: the rules' verdict, and each component's ConfigurationState;
3. pool: why this pool (requested addresses, the address-pool annotation, or automatic: the
   pools tried in order, and why the others are not);
4. addresses: what the rules give, what the controller wrote, who shares them;
5. per address, L2: every node eligible or why not, the elected owner, the interfaces it may
   answer on and whether its responder answers there;
6. per address, BGP: per node whether it announces, per peer the route (communities,
   LOCAL_PREF) or why the peer is not sent it, the session's state and BFD's.

A fact no node reports is UNKNOWN, never guessed. The first BROKEN finding is where the chain
breaks (`Report.breaks`).
"""

import datetime
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.node.desired import endpoints_of, pool_of
from gateway.node.facts import NO_BFD, session_name
from gateway.node.reconciler import NODE_LEASE_PREFIX
from gateway.snapshot import Obj, Snapshot
from metallb_rules.allocator.allocator import Allocator, automatic_order, pinned_for
from metallb_rules.announce import bgp as bgp_rules
from metallb_rules.announce import layer2 as l2_rules
from metallb_rules.announce.inputs import ServiceView
from metallb_rules.balancer import Decision, decide_batch, handled, relevant, service_request
from metallb_rules.config.model import Config, ConfigError, Node
from metallb_rules.config.parse import parse
from metallb_rules.service import (
    IPS_ANNOTATION,
    POOL_ANNOTATION,
    ServiceSpec,
    annotation,
    service_from_k8s,
)

OK, BROKEN, UNKNOWN, INFO = "ok", "broken", "unknown", "info"


@dataclass(frozen=True)
class Facts:
    snapshot: Snapshot
    now: datetime.datetime
    # Liveness from the node roles' Leases (a cluster); False: every Node is alive (a folder,
    # as `up`'s node role counts them).
    leases: bool = True
    lb_class: str = ""
    source: str = ""
    # Kinds the reader could not list (403: not allowed, 404: CRD not installed).
    unreadable: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    state: str  # OK, BROKEN, UNKNOWN, INFO
    topic: str
    text: str
    children: tuple["Finding", ...] = ()
    fix: str = ""  # for a BROKEN one: what the operator can do

    def walk(self) -> Iterable["Finding"]:
        yield self
        for child in self.children:
            yield from child.walk()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state, "topic": self.topic, "text": self.text}
        if self.fix:
            out["fix"] = self.fix
        if self.children:
            out["children"] = [c.to_json() for c in self.children]
        return out


@dataclass(frozen=True)
class Report:
    service: str
    source: str
    findings: tuple[Finding, ...] = field(default=())

    @property
    def breaks(self) -> Finding | None:
        """The first broken link, depth first: the first BROKEN finding none of whose children
        is broken (a parent is broken because of them). None: nothing is broken."""
        path = self.break_path()
        return path[-1] if path else None

    def break_path(self) -> list[Finding]:
        """The findings from the top to `breaks` (empty: nothing is broken)."""

        def search(finding: Finding, above: list[Finding]) -> list[Finding]:
            if finding.state != BROKEN:
                return []
            here = [*above, finding]
            for child in finding.children:
                if found := search(child, here):
                    return found
            return here

        for top in self.findings:
            if found := search(top, []):
                return found
        return []

    def to_json(self) -> dict[str, Any]:
        broken = self.breaks
        return {
            "service": self.service,
            "source": self.source,
            "findings": [f.to_json() for f in self.findings],
            "breaks": broken.to_json() if broken is not None else None,
        }


# ------------------------------------------------------------------------------ the links


def explain(facts: Facts, key: str) -> Report:
    snap = facts.snapshot
    namespace, _, name = key.partition("/")
    if not name:
        namespace, name = "default", namespace
    key = f"{namespace}/{name}"
    obj = snap.objects.get("Service", {}).get(key)
    if obj is None:
        missing = Finding(BROKEN, "service", f"no Service {key}", fix="check the name")
        return Report(key, facts.source, (missing,))
    spec = service_from_k8s(obj)
    findings = [_ours(spec, facts.lb_class)]
    if findings[0].state == BROKEN:
        return Report(key, facts.source, tuple(findings))
    configuration, config = _configuration(snap, facts.unreadable)
    findings.append(configuration)
    if config is None:
        return Report(key, facts.source, tuple(findings))
    allocation = Allocation.run(snap, config, facts.lb_class)
    findings.append(_pool(allocation, spec, snap))
    findings.append(_addresses(allocation, spec))
    ingress = list(spec.ingress_ips)
    pool = pool_of(config, ingress) if ingress else None
    if ingress and pool is None:
        findings.append(
            Finding(
                BROKEN,
                "announce",
                f"no pool holds {', '.join(ingress)}: no node announces it (ipNotAllowed)",
                fix="add the address to a pool, or remove it from the Service's status",
            )
        )
    elif ingress and pool is not None:
        findings.extend(_announcements(facts, config, spec, pool))
    return Report(key, facts.source, tuple(findings))


def _ours(spec: ServiceSpec, lb_class: str) -> Finding:
    if spec.type != "LoadBalancer":
        return Finding(
            BROKEN,
            "ours",
            f"type is {spec.type}: MetalLB handles only type LoadBalancer",
            fix="set spec.type: LoadBalancer",
        )
    if not handled(spec, lb_class):
        mine = f"loadBalancerClass {lb_class}" if lb_class else "no loadBalancerClass"
        theirs = spec.load_balancer_class or "none"
        return Finding(
            BROKEN,
            "ours",
            f"loadBalancerClass is {theirs}: this MetalLB handles Services with {mine}",
            fix="another load balancer owns this class; remove spec.loadBalancerClass (or "
            "run MetalLB with --lb-class) to have it handled here",
        )
    cls = spec.load_balancer_class
    why = f"loadBalancerClass {cls}" if cls else "no loadBalancerClass"
    return Finding(OK, "ours", f"LoadBalancer with {why}: handled by this MetalLB")


def parse_readable(snap: Snapshot, unreadable: Sequence[str] = ()) -> Config:
    """The rules' `parse` over what could be read. Without the Secrets (an operator may not read
    them) BGPPeers are parsed without their passwordSecret: only the password goes unchecked."""
    resources = snap.cluster_resources()
    if "Secret" in unreadable:
        resources.peers = [
            {**p, "spec": {k: v for k, v in (p.get("spec") or {}).items() if k != "passwordSecret"}}
            for p in resources.peers
        ]
    return parse(resources)


def _configuration(snap: Snapshot, unreadable: Sequence[str] = ()) -> tuple[Finding, Config | None]:
    states = []
    if "Secret" in unreadable:
        states.append(
            Finding(
                INFO,
                "secrets",
                "not readable with these credentials: BGPPeer passwords are not checked",
            )
        )
    for obj in snap.of("ConfigurationState"):
        meta, status = obj.get("metadata") or {}, obj.get("status") or {}
        result = str(status.get("result") or "Unknown")
        summary = str(status.get("errorSummary") or "")
        state = OK if result == "Valid" else BROKEN if result == "Invalid" else UNKNOWN
        text = f"{meta.get('name')}: {result}" + (f" ({summary})" if summary else "")
        fix = "fix the object the message names" if state == BROKEN else ""
        states.append(Finding(state, "component", text, fix=fix))
    try:
        config = parse_readable(snap, unreadable)
    except ConfigError as err:
        # The components' own reports say the same: shown, but the break is the rules' verdict.
        reports = tuple(Finding(INFO, s.topic, s.text) for s in states)
        return (
            Finding(
                BROKEN,
                "configuration",
                f"invalid: {err.describe()}",
                reports,
                fix="fix the object the message names; until then MetalLB keeps the last valid "
                "configuration it read (and a restarted component has none)",
            ),
            None,
        )
    if not any(s.topic == "component" for s in states):
        states.append(Finding(UNKNOWN, "component", "no ConfigurationState written yet"))
    return Finding(OK, "configuration", "valid", tuple(states)), config


@dataclass
class Allocation:
    """The controller's decisions, re-run over every Service (as `reconcile` does)."""

    allocator: Allocator
    decisions: dict[str, Decision]
    services: dict[str, ServiceSpec]

    @classmethod
    def run(cls, snap: Snapshot, config: Config, lb_class: str) -> "Allocation":
        specs = [service_from_k8s(o) for o in snap.of("Service")]
        services = [s for s in specs if relevant(s, lb_class)]
        allocator = Allocator()
        allocator.set_pools(pool.spec for pool in config.pools.values())
        batch = [(svc, snap.namespace_labels(svc.namespace)) for svc in services]
        decisions, _ = decide_batch(allocator, batch, complete_set=True)
        return cls(
            allocator,
            {svc.key: d for svc, d in zip(services, decisions, strict=True)},
            {svc.key: svc for svc in services},
        )

    def usage_text(self, pool: str) -> str:
        usage = self.allocator.usage(pool)
        parts = []
        if usage.ipv4_total:
            parts.append(f"IPv4 {usage.ipv4_in_use}/{usage.ipv4_total}")
        if usage.ipv6_total:
            parts.append(f"IPv6 {usage.ipv6_in_use}/{usage.ipv6_total}")
        return ", ".join(parts) + " in use"


def _pool(allocation: Allocation, spec: ServiceSpec, snap: Snapshot) -> Finding:
    decision = allocation.decisions[spec.key]
    failed = [e for e in decision.events if e.type == "Warning"]
    requested_ips = annotation(spec.annotations, IPS_ANNOTATION) or spec.load_balancer_ip
    if requested_ips:
        how = f"requested addresses {requested_ips}"
        how += (
            " (spec.loadBalancerIP)" if spec.load_balancer_ip else f" (metallb.io/{IPS_ANNOTATION})"
        )
    elif spec.requested_pool:
        how = f"requested by annotation metallb.io/{POOL_ANNOTATION}: {spec.requested_pool}"
    else:
        how = "automatic"
    automatic = not requested_ips and not spec.requested_pool
    tried = _pool_order(allocation, spec, snap) if automatic else ()
    if decision.pool is not None:
        text = f"{decision.pool} ({how}; {allocation.usage_text(decision.pool)})"
        return Finding(OK, "pool", text, tried)
    if failed:
        message = failed[-1].message
        fix = _allocation_fix(message)
        if (
            automatic
            and "no available IPs" in message
            and not any(t.topic.startswith("try") for t in tried)
        ):
            fix = (
                "no pool is open to this Service (autoAssign false, or a serviceAllocation that "
                f"does not select it): request one with metallb.io/{POOL_ANNOTATION}, or widen "
                "a pool's serviceAllocation"
            )
        return Finding(BROKEN, "pool", f"none: {message}", tried, fix=fix)
    return Finding(
        BROKEN,
        "pool",
        "none: the Service has no clusterIP yet, or no pool exists",
        tried,
        fix="create an IPAddressPool",
    )


def _pool_order(allocation: Allocation, spec: ServiceSpec, snap: Snapshot) -> tuple[Finding, ...]:
    """Automatic allocation: the pools tried in order, and why each other one is not."""
    pools = allocation.allocator.pools()
    pinnable, fallback = automatic_order(pools)
    request = service_request(spec, snap.namespace_labels(spec.namespace))
    pinned = pinned_for(pinnable, request)
    out = []
    for rank, pool in enumerate([*pinned, *fallback], start=1):
        why = (
            f"serviceAllocation priority {pool.priority}"
            if pool in pinned
            else "no serviceAllocation"
        )
        out.append(
            Finding(INFO, f"try {rank}", f"{pool.name} ({why}; {allocation.usage_text(pool.name)})")
        )
    for pool in pools:
        if not pool.auto_assign:
            out.append(
                Finding(INFO, "never", f"{pool.name}: autoAssign is false (only on request)")
            )
        elif pool in pinnable and pool not in pinned:
            out.append(
                Finding(
                    INFO,
                    "never",
                    f"{pool.name}: its serviceAllocation does not select this Service",
                )
            )
    return tuple(out)


def _allocation_fix(message: str) -> str:
    if "no available IPs" in message:
        return "the pools this Service may use are full: add addresses, or free some"
    if "sharing key" in message or "already in use" in message:
        return (
            "sharing conflict: Services share an address only with the same "
            "metallb.io/allow-shared-ip key, the same backends and no common port"
        )
    if "unknown pool" in message:
        return f"the metallb.io/{POOL_ANNOTATION} annotation names a pool that does not exist"
    if "not compatible" in message or "not allowed" in message:
        return "the requested pool's serviceAllocation does not select this Service"
    return "see the message; it is MetalLB's own"


def _addresses(allocation: Allocation, spec: ServiceSpec) -> Finding:
    decision = allocation.decisions[spec.key]
    written = list(spec.ingress_ips)
    children = []
    for ip in decision.ingress:
        sharers = sorted(
            key
            for key, other in allocation.decisions.items()
            if key != spec.key and ip in other.ingress
        )
        if sharers:
            key_text = spec.sharing_key or "none"
            children.append(
                Finding(INFO, ip, f"shared with {', '.join(sharers)} (allow-shared-ip {key_text})")
            )
    if not decision.ingress:
        if written:
            return Finding(
                BROKEN,
                "addresses",
                f"the rules give none, but the status still holds {', '.join(written)}",
                fix="the controller has not converged: is it running? (ConfigurationState "
                "controller)",
            )
        return Finding(BROKEN, "addresses", "none", fix="see the pool above")
    text = ", ".join(decision.ingress)
    if set(written) != set(decision.ingress):
        now = ", ".join(written) or "nothing"
        return Finding(
            BROKEN,
            "addresses",
            f"the rules give {text}, the Service's status holds {now}",
            tuple(children),
            fix="the controller has not written it: is it running and holding its Lease?",
        )
    return Finding(OK, "addresses", f"{text} (in the Service's status)", tuple(children))


# ------------------------------------------------------------------------------ announcements


def _live(facts: Facts) -> set[str] | None:
    """Nodes whose Lease is current at `facts.now` (None: every node is alive)."""
    if not facts.leases:
        return None
    out = set()
    for lease in facts.snapshot.of("Lease"):
        name = str((lease.get("metadata") or {}).get("name") or "")
        if not name.startswith(NODE_LEASE_PREFIX):
            continue
        spec = lease.get("spec") or {}
        renewed = _parse_time(str(spec.get("renewTime") or spec.get("acquireTime") or ""))
        duration = float(spec.get("leaseDurationSeconds") or 0)
        if renewed is not None and renewed + datetime.timedelta(seconds=duration) > facts.now:
            out.add(name.removeprefix(NODE_LEASE_PREFIX))
    return out


def _parse_time(text: str) -> datetime.datetime | None:
    try:
        stamp = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=datetime.UTC)


def _node_fact(snap: Snapshot, kind: str, name: str) -> Obj | None:
    for obj in snap.of(kind):
        if (obj.get("metadata") or {}).get("name") == name:
            return obj.get("status") or {}
    return None


def _announcements(facts: Facts, config: Config, spec: ServiceSpec, pool: str) -> list[Finding]:
    snap = facts.snapshot
    view = ServiceView(
        spec.namespace,
        spec.name,
        spec.type,
        spec.ingress_ips,
        spec.labels,
        spec.annotations,
        spec.external_traffic_policy,
        endpoints_of(snap, spec),
    )
    l2_ads = config.l2_ads_for_pool(pool)
    bgp_ads = config.bgp_ads_for_pool(pool)
    if not l2_ads and not bgp_ads:
        return [
            Finding(
                BROKEN,
                "announce",
                f"pool {pool} has no L2Advertisement and no BGPAdvertisement: nobody announces it",
                fix=f"create an L2Advertisement or a BGPAdvertisement for pool {pool}",
            )
        ]
    out = []
    live = _live(facts)
    nodes = snap.nodes()
    if l2_ads:
        out.extend(_layer2(snap, view, l2_ads, nodes, live))
    if bgp_ads:
        out.extend(_bgp(snap, config, view, bgp_ads, nodes))
    return out


def _layer2(
    snap: Snapshot,
    view: ServiceView,
    ads: Sequence[Any],
    nodes: list[Node],
    live: set[str] | None,
) -> list[Finding]:
    matching = l2_rules.ads_for_service(view, ads)
    alive = {n.name for n in nodes} if live is None else live
    out = []
    for ip in view.ingress_ips:
        topic = f"L2 {ip}"
        if not any(ep.can_serve() for ep in view.endpoints):
            out.append(
                Finding(
                    BROKEN,
                    topic,
                    "the Service has no ready endpoint: no node announces it",
                    fix="check the Pods behind the Service (kubectl get endpointslices)",
                )
            )
            continue
        if view.allows_shared_ip and any(ad.service_selectors for ad in matching):
            out.append(
                Finding(
                    BROKEN,
                    topic,
                    "the Service shares its address and an L2Advertisement selects Services: "
                    "MetalLB refuses that (sharedIPWithServiceSelector)",
                    fix="drop serviceSelectors from the L2Advertisement, or stop sharing",
                )
            )
            continue
        if not matching:
            out.append(
                Finding(
                    BROKEN,
                    topic,
                    "no L2Advertisement of the pool selects this Service (serviceSelectors)",
                    fix="widen an L2Advertisement's serviceSelectors",
                )
            )
            continue
        why = l2_rules.ineligibility(view, matching, nodes, alive)
        eligible = [n for n, reason in why.items() if not reason]
        children = [
            Finding(INFO, n, f"not eligible: {reason}")
            for n, reason in sorted(why.items())
            if reason
        ]
        if not eligible:
            out.append(
                Finding(
                    BROKEN,
                    topic,
                    "no eligible node",
                    tuple(children),
                    fix="make one of the listed nodes eligible (each says why it is not)",
                )
            )
            continue
        scores = l2_rules.preference_scores(matching)
        owner = l2_rules.elect(view.ingress_ips[0], eligible, scores)[0]
        children.insert(0, Finding(INFO, "eligible", ", ".join(sorted(eligible))))
        children.append(_responder(snap, owner, ip, l2_rules.interfaces_of(matching, owner)))
        reported = sorted(
            str(s.get("node"))
            for s in (o.get("status") or {} for o in snap.of("ServiceL2Status"))
            if s.get("serviceName") == view.name and s.get("serviceNamespace") == view.namespace
        )
        if reported and reported != [owner]:
            children.append(
                Finding(
                    BROKEN,
                    "status",
                    f"ServiceL2Status names {', '.join(reported)}, the election gives {owner}",
                    fix="the nodes disagree on who is alive: check each node role's Lease",
                )
            )
        state = BROKEN if any(c.state == BROKEN for c in children) else OK
        state = UNKNOWN if state == OK and any(c.state == UNKNOWN for c in children) else state
        out.append(Finding(state, topic, f"owner {owner}", tuple(children)))
    return out


def _responder(snap: Snapshot, owner: str, ip: str, interfaces: tuple[str, ...]) -> Finding:
    """Whether the owner's responder really answers for `ip` (its published L2NodeState)."""
    fact = _node_fact(snap, "L2NodeState", owner)
    scope = ", ".join(interfaces) if interfaces else "every eligible interface"
    if fact is None:
        return Finding(
            UNKNOWN, "responder", f"{owner} publishes no L2NodeState (is its node role running?)"
        )
    if not fact.get("reachable", True):
        return Finding(UNKNOWN, "responder", f"{owner}'s L2 service is not answering its node role")
    protocol = "ndp" if ipaddress.ip_address(ip).version == 6 else "arp"
    usable = {
        str(i.get("name")) for i in fact.get("interfaces") or [] if i.get(protocol) == "eligible"
    }
    if interfaces and not usable & set(interfaces):
        known = {str(i.get("name")): i.get(protocol) for i in fact.get("interfaces") or []}
        states = ", ".join(f"{i}: {known.get(i) or 'does not exist'}" for i in interfaces)
        return Finding(
            BROKEN,
            "interfaces",
            f"none of the L2Advertisement's interfaces can answer {protocol.upper()} on {owner} "
            f"({states}): MetalLB's announceFailed",
            fix="fix the L2Advertisement's interfaces, or the node's interfaces",
        )
    held = {str(a.get("ip")): a for a in fact.get("announcements") or []}
    if ip not in held:
        if fact.get("truncated"):
            return Finding(UNKNOWN, "responder", f"{owner} holds too many addresses to list {ip}")
        return Finding(
            BROKEN,
            "responder",
            f"{owner} is elected but its responder does not hold {ip}",
            fix=f"check {owner}'s node role and L2 service (logs; restart the speaker)",
        )
    answering = list(held[ip].get("answeringOn") or [])
    if not answering:
        return Finding(
            BROKEN,
            "responder",
            f"{owner} holds {ip} but answers on no interface ({held[ip].get('status')}; "
            f"allowed: {scope})",
            fix="no eligible interface in the advertisement's scope on that node",
        )
    return Finding(OK, "responder", f"{owner} answers {protocol.upper()} on {', '.join(answering)}")


_BGP_REASONS = {
    "notOwner": "no BGPAdvertisement of the pool selects this node (nodeSelectors)",
    "noMatchingAdvertisement": "no BGPAdvertisement for this node selects the Service "
    "(serviceSelectors)",
    "conflictingAdvertisements": "BGPAdvertisements with different localPref match it",
    "nodeNetworkUnavailable": "its NetworkUnavailable condition is True",
    "nodeLabeledExcludeBalancers": l2_rules.EXCLUDED_LABEL,
    "noLocalEndpoints": "no ready endpoint on this node (externalTrafficPolicy: Local)",
    "noEndpoints": "the Service has no ready endpoint",
}


def _bgp(
    snap: Snapshot, config: Config, view: ServiceView, ads: Sequence[Any], nodes: list[Node]
) -> list[Finding]:
    children = []
    for node in nodes:
        reason = bgp_rules.should_announce(view, ads, node)
        if reason is not None:
            children.append(
                Finding(INFO, node.name, f"does not announce: {_BGP_REASONS.get(reason, reason)}")
            )
            continue
        peers = sorted((p for p in config.peers if node.name in p.nodes), key=lambda p: p.name)
        routes = bgp_rules.routes(view, ads, node)
        sent = bgp_rules.per_peer(bgp_rules.peer_routes(routes, peers))
        per_peer = []
        if not peers:
            per_peer.append(
                Finding(
                    BROKEN,
                    "peers",
                    "no BGPPeer selects this node",
                    fix="check BGPPeer nodeSelectors",
                )
            )
        for peer in peers:
            held = sent.get(peer.name, {})
            if not held:
                names = sorted({ad.name for ad in ads if ad.peers})
                per_peer.append(
                    Finding(
                        BROKEN,
                        peer.name,
                        f"not sent: BGPAdvertisement {', '.join(names)} names other peers "
                        "(spec.peers)",
                        fix="add the peer to the advertisement's peers, or drop that list",
                    )
                )
                continue
            per_peer.append(_session(snap, node.name, peer.name, list(held.values())))
        state = BROKEN if any(c.state == BROKEN for c in per_peer) else OK
        state = UNKNOWN if state == OK and any(c.state == UNKNOWN for c in per_peer) else state
        children.append(Finding(state, node.name, "announces", tuple(per_peer)))
    announcing = [c for c in children if c.text == "announces"]
    count = f"{len(announcing)} node" + ("" if len(announcing) == 1 else "s")
    if not announcing:
        return [
            Finding(
                BROKEN,
                "BGP",
                "no node announces it",
                tuple(children),
                fix="see each node's reason",
            )
        ]
    state = OK if any(c.state == OK for c in announcing) else BROKEN
    if state == OK and any(c.state != OK for c in announcing):
        state = BROKEN if any(c.state == BROKEN for c in announcing) else UNKNOWN
    return [Finding(state, "BGP", f"announced from {count}", tuple(children))]


def _route_text(route: bgp_rules.PeerRoute) -> str:
    parts = [route.prefix]
    if route.communities:
        parts.append("communities " + " ".join(str(c) for c in route.communities))
    if route.local_pref is not None:
        parts.append(f"LOCAL_PREF {route.local_pref}")
    return ", ".join(parts)


def _session(snap: Snapshot, node: str, peer: str, routes: list[bgp_rules.PeerRoute]) -> Finding:
    what = "; ".join(_route_text(r) for r in sorted(routes))
    fact = _node_fact(snap, "BGPSessionState", session_name(node, peer))
    if fact is None:
        return Finding(
            UNKNOWN,
            peer,
            f"route {what}; session state unknown ({node} publishes no BGPSessionState)",
        )
    status = str(fact.get("bgpStatus") or "Unknown")
    bfd = str(fact.get("bfdStatus") or NO_BFD)
    since = f" since {fact['since']}" if fact.get("since") else ""
    bfd_text = "" if bfd == NO_BFD else f", BFD {bfd}"
    error = str(fact.get("lastError") or "")
    if status == "Established" and bfd in (NO_BFD, "up"):
        return Finding(OK, peer, f"sent: {what} (session Established{since}{bfd_text})")
    if status == "Established":
        return Finding(
            BROKEN,
            peer,
            f"route {what}; session Established but BFD is {bfd}: the session will be torn down",
            fix="check the path to the peer and its BFD configuration",
        )
    if status == "Unknown":
        return Finding(
            UNKNOWN, peer, f"route {what}; session state unknown ({error or 'no report'})"
        )
    why = f" ({error})" if error else ""
    fix = (
        "the node's BGP service refused the BGPPeer: fix it as the message says"
        if status == "Refused"
        else "check the peer's address, ASNs, password and that it accepts this node"
    )
    return Finding(
        BROKEN, peer, f"not sent: session {status}{since}{why}{bfd_text}; route {what}", fix=fix
    )
