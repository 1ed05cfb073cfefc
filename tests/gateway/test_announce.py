"""Speaker decisions: the L2 election (with MetalLB's sha256 vectors) and BGP announcing."""

from metallb_rules.announce import bgp, layer2
from metallb_rules.announce.inputs import EXCLUDE_LB_LABEL, Endpoint, ServiceView
from metallb_rules.communities import parse_community
from metallb_rules.config.model import BGPAdvertisement, L2Advertisement, Node
from metallb_rules.labels import LabelSelector


def test_election_reproduces_metallb_vectors() -> None:
    # speaker/layer2_controller_test.go TestSortL2Candidates.
    nodes = ["node-a", "node-b", "node-c"]
    assert layer2.elect("10.0.0.1", nodes) == ["node-b", "node-a", "node-c"]
    assert layer2.elect("10.0.0.2", nodes) == ["node-b", "node-c", "node-a"]
    assert layer2.elect("10.0.0.1", ["node-a", "edge-a"], {"edge-a": 100})[0] == "edge-a"
    assert layer2.elect("10.20.30.1", ["node-a", "node-b"], {"node-a": 100, "node-b": 100}) == [
        "node-b",
        "node-a",
    ]


def l2ad(
    name: str = "l2",
    *,
    nodes: frozenset[str] = frozenset({"node-a", "node-b", "node-c"}),
    interfaces: tuple[str, ...] = (),
    svc_sel: tuple[LabelSelector, ...] = (),
    preferred: dict[str, int] | None = None,
) -> L2Advertisement:
    return L2Advertisement(
        name, frozenset({"pool"}), interfaces, (), svc_sel, nodes, preferred or {}
    )


NODES = [Node("node-a"), Node("node-b"), Node("node-c")]
LIVE = {"node-a", "node-b", "node-c"}
SVC = ServiceView(
    "ns",
    "web",
    ingress_ips=("10.0.0.1",),
    endpoints=(Endpoint("node-c"), Endpoint("node-a", ready=False)),
)


def test_l2_owner_is_elected_once_and_reasons_are_metallb_s() -> None:
    decisions = {n: layer2.should_announce(SVC, [l2ad()], n, NODES, LIVE) for n in LIVE}
    assert [n for n, d in decisions.items() if d.announce] == ["node-b"]
    assert decisions["node-a"].reason == "notOwner" and decisions["node-a"].owner == "node-b"
    # node-b's Lease expired: the next in order takes over.
    d = layer2.should_announce(SVC, [l2ad()], "node-a", NODES, LIVE - {"node-b"})
    assert d.announce
    # Local: only nodes with a serving endpoint are candidates.
    local = ServiceView(
        "ns",
        "web",
        ingress_ips=("10.0.0.1",),
        external_traffic_policy="Local",
        endpoints=SVC.endpoints,
    )
    assert layer2.should_announce(local, [l2ad()], "node-c", NODES, LIVE).announce
    nobody = ServiceView(
        "ns",
        "web",
        ingress_ips=("10.0.0.1",),
        endpoints=(Endpoint("node-a", ready=False, serving=False),),
    )
    assert layer2.should_announce(nobody, [l2ad()], "node-b", NODES, LIVE).reason == "notOwner"
    # A terminating but serving endpoint still counts.
    serving = ServiceView(
        "ns",
        "web",
        ingress_ips=("10.0.0.1",),
        endpoints=(Endpoint("node-a", ready=False, serving=True),),
    )
    assert layer2.should_announce(serving, [l2ad()], "node-b", NODES, LIVE).announce
    outside = l2ad(nodes=frozenset({"node-a"}))
    assert layer2.should_announce(SVC, [outside], "node-b", NODES, LIVE).reason == (
        "noMatchingAdvertisement"
    )
    shared = ServiceView(
        "ns",
        "web",
        ingress_ips=("10.0.0.1",),
        endpoints=SVC.endpoints,
        annotations={"metallb.io/allow-shared-ip": "k"},
        labels={"a": "b"},
    )
    sel = l2ad(svc_sel=(LabelSelector.build({"a": "b"}),))
    assert layer2.should_announce(shared, [sel], "node-b", NODES, LIVE).reason == (
        "sharedIPWithServiceSelector"
    )


def test_l2_exclusions_preference_and_interfaces() -> None:
    nodes = [
        Node("node-a"),
        Node("node-b", network_unavailable=True),
        Node("node-c", {EXCLUDE_LB_LABEL: ""}),
    ]
    d = layer2.should_announce(SVC, [l2ad()], "node-a", nodes, LIVE)
    assert d.announce and d.interfaces == ()
    assert layer2.should_announce(SVC, [l2ad()], "node-c", nodes, LIVE, ignore_exclude_lb=True)
    preferred = l2ad(preferred={"node-c": 10}, interfaces=("eth1",))
    both = [preferred, l2ad("other", interfaces=("eth0",))]
    d = layer2.should_announce(SVC, both, "node-c", NODES, LIVE)
    assert d.announce and d.interfaces == ("eth0", "eth1")


def bgpad(
    name: str = "ad",
    *,
    nodes: frozenset[str] = frozenset({"n1", "n2"}),
    agg: int = 32,
    local_pref: int | None = None,
    peers: tuple[str, ...] = (),
    communities: tuple[str, ...] = (),
) -> BGPAdvertisement:
    return BGPAdvertisement(
        name,
        agg,
        128,
        local_pref,
        tuple(parse_community(c) for c in communities),
        frozenset({"pool"}),
        peers,
        (),
        (),
        nodes,
    )


def test_bgp_cluster_announces_everywhere_local_only_where_endpoints_are() -> None:
    n1, n2 = Node("n1"), Node("n2")
    svc = ServiceView(
        "ns", "web", ingress_ips=("10.0.0.5", "fd00::5"), endpoints=(Endpoint("n2", ("10.1.1.1",)),)
    )
    assert bgp.should_announce(svc, [bgpad()], n1) is None
    assert bgp.should_announce(svc, [bgpad()], n2) is None
    local = ServiceView(
        "ns",
        "web",
        ingress_ips=("10.0.0.5",),
        external_traffic_policy="Local",
        endpoints=svc.endpoints,
    )
    assert bgp.should_announce(local, [bgpad()], n1) == "noLocalEndpoints"
    assert bgp.should_announce(local, [bgpad()], n2) is None
    empty = ServiceView("ns", "web", ingress_ips=("10.0.0.5",))
    assert bgp.should_announce(empty, [bgpad()], n1) == "noEndpoints"
    assert bgp.should_announce(svc, [bgpad(nodes=frozenset({"n2"}))], n1) == "notOwner"
    assert bgp.should_announce(svc, [bgpad()], Node("n1", network_unavailable=True)) == (
        "nodeNetworkUnavailable"
    )
    assert bgp.should_announce(svc, [bgpad()], Node("n1", {EXCLUDE_LB_LABEL: "true"})) == (
        "nodeLabeledExcludeBalancers"
    )
    conflicting = [bgpad("a", local_pref=100), bgpad("b", local_pref=200)]
    assert bgp.should_announce(svc, conflicting, n1) == "conflictingAdvertisements"


def test_bgp_routes_aggregate_and_carry_attributes() -> None:
    svc = ServiceView("ns", "web", ingress_ips=("10.0.0.5", "fd00::5"), endpoints=(Endpoint("n1"),))
    ads = [bgpad("a", agg=24, local_pref=50, communities=("65000:1",), peers=("p1",)), bgpad("b")]
    routes = bgp.routes(svc, ads, Node("n1"))
    assert [(r.prefix, r.local_pref, [str(c) for c in r.communities], r.peers) for r in routes] == [
        ("10.0.0.0/24", 50, ["65000:1"], ("p1",)),
        ("10.0.0.5/32", None, [], ()),
        ("fd00::5/128", None, [], ()),
        ("fd00::5/128", 50, ["65000:1"], ("p1",)),
    ]


def test_each_node_s_reason_not_to_be_an_l2_candidate() -> None:
    """`ineligibility`: the candidates of §3.2 (what `should_announce` elects among), with a
    reason for every other node, checked in MetalLB's order of filters."""
    nodes = [
        Node("node-a"),
        Node("node-b", network_unavailable=True),
        Node("node-c", {EXCLUDE_LB_LABEL: ""}),
        Node("node-d"),
        Node("node-e"),
    ]
    ad = l2ad(nodes=frozenset({"node-a", "node-b", "node-c", "node-d"}))
    live = {"node-a", "node-b", "node-c", "node-e"}
    local = ServiceView(
        "ns",
        "web",
        ingress_ips=("10.0.0.1",),
        external_traffic_policy="Local",
        endpoints=(Endpoint("node-a"),),
    )
    assert layer2.ineligibility(local, [ad], nodes, live) == {
        "node-a": "",
        "node-b": layer2.NETWORK_UNAVAILABLE,
        "node-c": layer2.EXCLUDED_LABEL,
        "node-d": layer2.NOT_ALIVE,
        "node-e": layer2.NODE_SELECTOR,
    }
    cluster = ServiceView("ns", "web", ingress_ips=("10.0.0.1",), endpoints=(Endpoint("x"),))
    two = [Node("node-a"), Node("node-b")]
    both = {"node-a", "node-b"}
    assert layer2.ineligibility(cluster, [l2ad()], two, both) == {"node-a": "", "node-b": ""}
    only_a = ServiceView(
        "ns",
        "web",
        ingress_ips=("10.0.0.1",),
        external_traffic_policy="Local",
        endpoints=(Endpoint("node-a"),),
    )
    assert layer2.ineligibility(only_a, [l2ad()], two, both)["node-b"] == layer2.NO_LOCAL_ENDPOINT
    # The interfaces a node answers on: every one when one of its advertisements names none.
    listed = [l2ad(interfaces=("eth1",)), l2ad(interfaces=("eth0",))]
    assert layer2.interfaces_of(listed, "node-a") == ("eth0", "eth1")
    assert layer2.interfaces_of([l2ad(interfaces=("eth1",)), l2ad()], "node-a") == ()
