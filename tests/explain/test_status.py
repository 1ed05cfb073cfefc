"""`metallb-grpc status`: pools as bars per family, BGP peers as `birdc show protocols` lists
them, BFD sessions, L2 announcements and configuration, from the cluster's facts; 100 columns."""

from pathlib import Path

from metallb_cli.status import render_status, status_summary
from tests.explain.cluster import World, l2_state, session
from tests.fakekube.fake import FakeKube, write_kubeconfig


def test_a_healthy_cluster_at_a_glance() -> None:
    summary = status_summary(World().pure())
    assert summary.healthy
    text = render_status(summary)
    assert max(len(line) for line in text.splitlines()) <= 100
    lines = text.splitlines()
    pools = lines[lines.index("Pools (addresses in use)") + 1 :][:3]
    assert pools == [
        "  NAME      IPv4                        IPv6  SERVICES",
        # 198.51.100.0/30: 4 addresses, one in use (demo/api).
        "  bgp-pool  [#####...............] 1/4  -     1",
        # 192.0.2.10/31: 2 addresses, one in use (demo/web).
        "  default   [##########..........] 1/2  -     1",
    ]
    peers = lines[lines.index("BGP peers") + 1 :][:5]
    assert peers[0].split() == ["NAME", "NODE", "STATE", "SINCE", "SENT", "INFO"]
    assert peers[1].split() == [
        "other",
        "node-1",
        "Established",
        "2026-12-07T11:00:00Z",
        "1",
        "192.0.2.2",
    ]
    l2 = lines[lines.index("L2 announcements") + 1 :][:2]
    assert l2[1].split() == ["192.0.2.10", "node-1", "eth0", "demo/web"]
    assert "\033[" not in text  # colour only when asked (a terminal)


def test_what_is_down_shows() -> None:
    world = World()
    world.facts[("bgpsessionstates", "node-2.router")] = session(
        "node-2", "router", "192.0.2.1", "Active", bfd="down"
    )
    world.facts[("l2nodestates", "node-1")] = l2_state("node-1", {"192.0.2.10": []})
    world.states["speaker-node-2"] = (False, "configuration error: bad")
    summary = status_summary(world.pure())
    assert not summary.healthy
    text = render_status(summary, colour=True)
    assert "\033[31;1m  router  node-2  Active" in text
    lines = render_status(summary).splitlines()
    bfd = lines[lines.index("BFD sessions") + 1 :][:2]
    assert bfd[1].split() == ["router", "node-2", "192.0.2.1", "down"]
    l2 = lines[lines.index("L2 announcements") + 1 :][:2]
    assert l2[1].split() == ["192.0.2.10", "node-1", "nowhere", "demo/web"]
    config = lines[lines.index("Configuration") + 1 :][:3]
    assert config[2].split() == ["speaker-node-2", "Invalid", "configuration", "error:", "bad"]


def test_status_against_the_fake_api_server(tmp_path: Path) -> None:
    from metallb_cli.facts_readers import read_cluster_facts

    world = World()
    with FakeKube() as kube:
        kube.add_namespace("demo")
        world.objects = [o for o in world.objects if o["kind"] != "Namespace"]
        world.to_cluster(kube)
        facts = read_cluster_facts(str(write_kubeconfig(tmp_path / "kubeconfig", kube.url)))
    summary = status_summary(facts)
    assert summary.healthy
    assert [(s.peer, s.node, s.state) for s in summary.sessions] == [
        ("other", "node-1", "Established"),
        ("other", "node-2", "Established"),
        ("router", "node-1", "Established"),
        ("router", "node-2", "Established"),
    ]
    assert [p.name for p in summary.pools] == ["bgp-pool", "default"]
