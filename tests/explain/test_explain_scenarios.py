"""`explain` on every broken link, each scenario read three ways: the pure facts, `up`'s folder
(manifests and `.status/` as the roles write them) and the fake API server (the cluster reader,
through a kubeconfig). Each row breaks one link of a healthy cluster (tests/explain/cluster.py)
and says where an operator must read that it breaks: the topic and the words."""

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from metallb_cli.explain import BROKEN, UNKNOWN, Facts, Finding, Report, explain
from metallb_cli.facts_readers import read_cluster_facts, read_folder_facts
from tests.explain.cluster import World, l2_state, session
from tests.fakekube.fake import FakeKube, write_kubeconfig

EXCLUDE = "node.kubernetes.io/exclude-from-external-load-balancers"


def _set(path: list[str], value: Any) -> Callable[[World], None]:
    """Set a field of an input object: path = [kind, name, key, key, ...]."""

    def mutate(world: World) -> None:
        target = world.find(path[0], path[1])
        for key in path[2:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = value

    return mutate


def _two(*mutations: Callable[[World], None]) -> Callable[[World], None]:
    def mutate(world: World) -> None:
        for m in mutations:
            m(world)

    return mutate


def _add_service(name: str, **spec: Any) -> Callable[[World], None]:
    from tests.explain.cluster import _service

    def mutate(world: World) -> None:
        fields = dict(spec)
        annotations = fields.pop("annotations", None)
        world.objects.append(_service(name, fields.pop("ip", None), annotations, **fields))

    return mutate


def _fact(key: tuple[str, str], status: dict[str, Any] | None) -> Callable[[World], None]:
    def mutate(world: World) -> None:
        if status is None:
            world.facts.pop(key)
        else:
            world.facts[key] = status

    return mutate


def _invalid_controller(world: World) -> None:
    world.states["controller"] = (
        False,
        "configuration error: peer router referencing non existing bfd profile gone",
    )


class Scenario(NamedTuple):
    name: str
    service: str
    mutate: Callable[[World], None]
    topic: str  # of the broken finding
    words: str  # in its text
    readings: tuple[str, ...] = ("pure", "folder", "cluster")
    fix: str = ""  # words of what to do, where the cause is not in the text already


ALL = ("pure", "folder", "cluster")
SHARING = 'can\'t change sharing key for "demo/copy", address also in use by demo/web'
INTERFACE = (
    "none of the L2Advertisement's interfaces can answer ARP on node-1 (eth9: does not exist)"
)
UNAVAILABLE = {"conditions": [{"type": "NetworkUnavailable", "status": "True"}]}
SCENARIOS = [
    Scenario(
        "type",
        "demo/web",
        _set(["Service", "web", "spec", "type"], "NodePort"),
        "ours",
        "type is NodePort: MetalLB handles only type LoadBalancer",
    ),
    Scenario(
        "class",
        "demo/web",
        _set(["Service", "web", "spec", "loadBalancerClass"], "other.io/lb"),
        "ours",
        "loadBalancerClass is other.io/lb",
    ),
    Scenario(
        "invalid config",
        "demo/web",
        _two(_set(["BGPPeer", "router", "spec", "bfdProfile"], "gone"), _invalid_controller),
        "configuration",
        "peer router referencing non existing bfd profile gone",
    ),
    Scenario(
        "no pool matches",
        "demo/new",
        _two(
            _set(
                ["IPAddressPool", "default", "spec", "serviceAllocation"], {"namespaces": ["prod"]}
            ),
            _add_service("new"),
        ),
        "pool",
        "no available IPs",
        fix="no pool is open to this Service",
    ),
    Scenario(
        "pool exhausted",
        "demo/new",
        _two(
            _add_service("full", ip="192.0.2.11", clusterIP="10.96.0.3"),
            _add_service("new", clusterIP="10.96.0.4"),
        ),
        "pool",
        "no available IPs",
        fix="the pools this Service may use are full",
    ),
    Scenario(
        "sharing conflict",
        "demo/copy",
        _add_service(
            "copy", annotations={"metallb.io/loadBalancerIPs": "192.0.2.10"}, clusterIP="10.96.0.5"
        ),
        "pool",
        SHARING,
    ),
    Scenario(
        "no endpoints",
        "demo/web",
        lambda w: w.remove("EndpointSlice", "web-1"),
        "L2 192.0.2.10",
        "the Service has no ready endpoint",
    ),
    Scenario(
        "node selector",
        "demo/web",
        _set(["L2Advertisement", "l2", "spec", "nodeSelectors"], [{"matchLabels": {"l2": "y"}}]),
        "L2 192.0.2.10",
        "no eligible node",
    ),
    Scenario(
        "excluded label",
        "demo/web",
        _set(["Node", "node-1", "metadata", "labels"], {EXCLUDE: ""}),
        "L2 192.0.2.10",
        "no eligible node",
    ),
    Scenario(
        "network unavailable",
        "demo/web",
        _set(["Node", "node-1", "status"], UNAVAILABLE),
        "L2 192.0.2.10",
        "no eligible node",
    ),
    Scenario(
        "not alive",
        "demo/web",
        lambda w: w.leases.update({"node-1": 60.0}),
        "L2 192.0.2.10",
        "no eligible node",
        ("pure", "cluster"),  # (a folder has no Leases: every node is alive)
    ),
    Scenario(
        "interface",
        "demo/web",
        _set(["L2Advertisement", "l2", "spec", "interfaces"], ["eth9"]),
        "interfaces",
        INTERFACE,
    ),
    Scenario(
        "responder not answering",
        "demo/web",
        _fact(("l2nodestates", "node-1"), l2_state("node-1", {"192.0.2.10": []})),
        "responder",
        "node-1 holds 192.0.2.10 but answers on no interface",
    ),
    Scenario(
        "responder without the address",
        "demo/web",
        _fact(("l2nodestates", "node-1"), l2_state("node-1", {})),
        "responder",
        "node-1 is elected but its responder does not hold 192.0.2.10",
    ),
    Scenario(
        "BGP session down",
        "demo/api",
        _fact(
            ("bgpsessionstates", "node-2.router"),
            session("node-2", "router", "192.0.2.1", "Active"),
        ),
        "router",
        "not sent: session Active",
    ),
    Scenario(
        "route filtered by peer selector",
        "demo/api",
        _set(["BGPAdvertisement", "bgp", "spec", "peers"], ["other"]),
        "router",
        "not sent: BGPAdvertisement bgp names other peers (spec.peers)",
    ),
    Scenario(
        "BFD down",
        "demo/api",
        _fact(
            ("bgpsessionstates", "node-1.other"),
            session("node-1", "other", "192.0.2.2", bfd="down"),
        ),
        "other",
        "session Established but BFD is down",
    ),
]
CASES = [pytest.param(s, r, id=f"{s.name}-{r}") for s in SCENARIOS for r in ALL if r in s.readings]

# The reasons of the node that would otherwise be eligible (node-2 has no local endpoint).
NODE_1_REASON = {
    "node selector": (
        "not eligible: no L2Advertisement of the pool selects this node (nodeSelectors)"
    ),
    "excluded label": f"not eligible: labelled {EXCLUDE}",
    "network unavailable": "not eligible: its NetworkUnavailable condition is True",
    "not alive": "not eligible: not alive (its speaker is not a member: Lease not renewed)",
}


def read(world: World, reading: str, tmp_path: Path) -> Facts:
    if reading == "pure":
        return world.pure()
    if reading == "folder":
        world.to_folder(tmp_path / "folder")
        return read_folder_facts(tmp_path / "folder")
    with FakeKube() as kube:
        for namespace in ("demo",):
            kube.add_namespace(namespace)
        world.objects = [o for o in world.objects if o["kind"] != "Namespace"]
        world.to_cluster(kube)
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", kube.url)
        return read_cluster_facts(str(kubeconfig))


def child(finding: Finding, topic: str) -> Finding:
    return next(c for c in finding.children if c.topic == topic)


@pytest.mark.parametrize("reading", ALL)
def test_a_healthy_cluster_breaks_nowhere(reading: str, tmp_path: Path) -> None:
    world = World()
    facts = read(world, reading, tmp_path)
    for service in ("demo/web", "demo/api"):
        report = explain(facts, service)
        assert report.breaks is None, report.to_json()
        assert not [f for top in report.findings for f in top.walk() if f.state == UNKNOWN]
    web = explain(facts, "demo/web")
    l2 = next(f for f in web.findings if f.topic == "L2 192.0.2.10")
    assert l2.text == "owner node-1"
    assert (
        child(l2, "node-2").text
        == "not eligible: no ready endpoint on this node (externalTrafficPolicy: Local)"
    )
    assert child(l2, "responder").text == "node-1 answers ARP on eth0"
    api = explain(facts, "demo/api")
    bgp = next(f for f in api.findings if f.topic == "BGP")
    texts = {(n.topic, p.topic): p.text for n in bgp.children for p in n.children}
    assert texts[("node-1", "router")] == (
        "sent: 198.51.100.1/32, communities 65000:7, LOCAL_PREF 150 "
        "(session Established since 2026-12-07T11:00:00Z)"
    )
    # eBGP: no LOCAL_PREF (RFC 4271 §5.1.5).
    assert texts[("node-2", "other")] == (
        "sent: 198.51.100.1/32, communities 65000:7 "
        "(session Established since 2026-12-07T11:00:00Z)"
    )


@pytest.mark.parametrize(("scenario", "reading"), CASES)
def test_explain_says_where_the_chain_breaks(
    scenario: Scenario, reading: str, tmp_path: Path
) -> None:
    world = World()
    scenario.mutate(world)
    report = explain(read(world, reading, tmp_path), scenario.service)
    broken = report.breaks
    assert broken is not None, report.to_json()
    assert (broken.topic, broken.state) == (scenario.topic, BROKEN), report.to_json()
    assert scenario.words in broken.text, broken.text
    assert broken.fix
    assert scenario.fix in broken.fix, broken.fix
    if scenario.name in NODE_1_REASON:
        l2 = next(f for f in report.findings if f.topic == scenario.topic)
        assert child(l2, "node-1").text == NODE_1_REASON[scenario.name]


def test_a_fact_no_node_reports_is_unknown_not_guessed() -> None:
    world = World()
    del world.facts[("bgpsessionstates", "node-2.router")]
    del world.facts[("l2nodestates", "node-1")]
    api = explain(world.pure(), "demo/api")
    assert api.breaks is None
    unknown = [f for top in api.findings for f in top.walk() if f.state == UNKNOWN]
    assert [(f.topic, f.text) for f in unknown][-1] == (
        "router",
        "route 198.51.100.1/32, communities 65000:7, LOCAL_PREF 150; session state unknown "
        "(node-2 publishes no BGPSessionState)",
    )
    web = explain(world.pure(), "demo/web")
    responder = next(f for top in web.findings for f in top.walk() if f.topic == "responder")
    assert (responder.state, responder.text) == (
        UNKNOWN,
        "node-1 publishes no L2NodeState (is its node role running?)",
    )


def test_an_unknown_service_is_said_so() -> None:
    report: Report = explain(World().pure(), "demo/nope")
    assert report.breaks is not None
    assert report.breaks.text == "no Service demo/nope"


def test_without_read_access_to_secrets_only_the_password_goes_unchecked(tmp_path: Path) -> None:
    """An operator may not read the MetalLB namespace's Secrets: a BGPPeer's passwordSecret is
    then not checked (and said so), instead of the whole configuration reading as invalid."""
    world = World()
    world.find("BGPPeer", "router")["spec"]["passwordSecret"] = {"name": "bgp-password"}
    with FakeKube() as kube:
        kube.add_namespace("demo")
        world.objects = [o for o in world.objects if o["kind"] != "Namespace"]
        world.to_cluster(kube)
        kube.inject_failure(403, method="GET", path="/secrets$")
        facts = read_cluster_facts(str(write_kubeconfig(tmp_path / "kubeconfig", kube.url)))
    assert facts.source == "cluster (not readable: Secret)"
    report = explain(facts, "demo/api")
    assert report.breaks is None, report.to_json()
    configuration = next(f for f in report.findings if f.topic == "configuration")
    assert child(configuration, "secrets").text == (
        "not readable with these credentials: BGPPeer passwords are not checked"
    )
