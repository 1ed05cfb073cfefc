"""The gateway end to end, in network namespaces (`tests/e2e/world.py` has the picture).

From a manifests folder: the controller allocates through IPAM and writes status; each node role
drives its node's BGP and L2 services; BIRD (the router) and arping (the client) are the only
judges. The tests run in file order over one world: allocation, routes, ARP, then restarts of
IPAM, one node's BGP and one node's L2 process (nothing BIRD or the client sees may change), and
last the deletion of a service file (its route and its ARP answers go away).

BFD: every node runs `metallb-grpc bfd`, its BGP service registers the peer's session there
(`--bfd`), and BIRD runs BFD towards both nodes: BIRD must see both sessions Up.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import signal
import subprocess
import threading
import time
from collections.abc import Iterator

import grpc
import pytest

from metallb.bgp.v1 import bgp_pb2, bgp_pb2_grpc
from metallb.l2.v1 import l2_pb2, l2_pb2_grpc
from tests.conftest import require_binary
from tests.conftest import require_root as shared_require_root
from tests.e2e.lab import CLIENT_IP, LINK, NODE_IPS, SUBNET, Bird, Lab, Route, sh, wait_for
from tests.e2e.world import COMMUNITIES, LOCAL_PREF, SERVICES, World, build, ipam_allocations
from tests.e2e.world import ingress as status_ingress

POOL = [ipaddress.ip_address(f"{SUBNET}.{i}") for i in range(200, 221)]


def require_root() -> None:
    shared_require_root("network namespaces, raw sockets, port 179")


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    require_root()
    for tool in ("ip", "bird", "birdc", "arping", "timeout"):
        require_binary(tool)
    lab = Lab()

    def terminated(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let the clean-up below finish
        raise KeyboardInterrupt(f"signal {signum}")

    # A SIGTERM (a CI timeout) must still remove the namespaces: turn it into an exception.
    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield build(lab)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            lab.close()
        finally:
            signal.signal(signal.SIGTERM, previous)
        listed = sh("ip", "netns", "list").stdout.split()
        assert not [ns for ns in listed if ns.startswith(lab.prefix)], listed
        assert not [p.name for p in lab.procs.values() if p.alive()]


# ---- what the folder, IPAM, BIRD and the client say ---------------------------------------------


def ingress(world: World, name: str) -> list[str]:
    return status_ingress(world.manifests, name)


def status_ips(world: World) -> dict[str, list[str]]:
    return {name: ingress(world, name) for name in SERVICES if world.service_file(name).exists()}


def allocations(world: World) -> dict[str, list[str]]:
    return ipam_allocations(world.sockets["ipam"])


def allocations_or_none(world: World) -> dict[str, list[str]] | None:
    try:
        return allocations(world)
    except grpc.RpcError:
        return None


def bgp_peer(world: World, node: str) -> bgp_pb2.Peer | None:
    try:
        with grpc.insecure_channel(f"unix:{world.sockets[f'{node}-bgp']}") as channel:
            stub = bgp_pb2_grpc.BGPServiceStub(channel)
            got: bgp_pb2.GetPeerResponse = stub.GetPeer(
                bgp_pb2.GetPeerRequest(name="router"), timeout=5
            )
        return got.peer
    except grpc.RpcError:
        return None


def bgp_held(world: World, node: str) -> list[str]:
    """The prefixes `node`'s BGP service advertises (for failure messages)."""
    try:
        with grpc.insecure_channel(f"unix:{world.sockets[f'{node}-bgp']}") as channel:
            stub = bgp_pb2_grpc.BGPServiceStub(channel)
            listed: bgp_pb2.ListAdvertisementsResponse = stub.ListAdvertisements(
                bgp_pb2.ListAdvertisementsRequest(), timeout=5
            )
        return sorted(r.prefix for p in listed.peers for r in p.routes)
    except grpc.RpcError as err:
        return [f"error: {err}"]


def l2_announced(world: World, node: str) -> list[str]:
    try:
        with grpc.insecure_channel(f"unix:{world.sockets[f'{node}-l2']}") as channel:
            stub = l2_pb2_grpc.L2ServiceStub(channel)
            listed: l2_pb2.ListAnnouncementsResponse = stub.ListAnnouncements(
                l2_pb2.ListAnnouncementsRequest(), timeout=5
            )
        return sorted(a.ip for a in listed.announcements if LINK in a.answering_on)
    except grpc.RpcError:
        return []


def endpoint_nodes(name: str) -> set[str]:
    return {SERVICES[name][1]}


def announcing_nodes(name: str) -> set[str]:
    """BGP: every node for externalTrafficPolicy Cluster, the endpoint nodes for Local."""
    policy, _ = SERVICES[name]
    return set(NODE_IPS) if policy == "Cluster" else endpoint_nodes(name)


def elected(ip: str, candidates: set[str]) -> str:
    """MetalLB's L2 election with no preferred nodes: lowest sha256(node + "#" + ip)."""
    return min(candidates, key=lambda node: hashlib.sha256(f"{node}#{ip}".encode()).digest())


def expected_routes(world: World) -> set[Route]:
    routes = set()
    for name, ips in status_ips(world).items():
        for ip in ips:
            for node in announcing_nodes(name):
                routes.add(
                    Route(
                        f"{ip}/32",
                        node,
                        NODE_IPS[node],
                        tuple(sorted(c for c in COMMUNITIES if not c.startswith("large:"))),
                        tuple(sorted(c for c in COMMUNITIES if c.startswith("large:"))),
                        LOCAL_PREF,
                    )
                )
    return routes


def expected_answers(world: World) -> dict[str, str]:
    """Per service address, the MAC of the node that must answer ARP for it."""
    out = {}
    for name, ips in status_ips(world).items():
        candidates = set(NODE_IPS) if SERVICES[name][0] == "Cluster" else endpoint_nodes(name)
        for ip in ips:
            out[ip] = world.lab.mac(elected(ip, candidates))
    return out


def answered_by(world: World, ip: str, count: int = 3) -> set[str]:
    macs = world.lab.arping(ip, count=count, deadline=count + 1)
    return set(macs) if len(macs) >= count else set()


class BirdWatch:
    """Samples BIRD's table every 100 ms in a thread and records every table that differs
    from `expected` (the routes, their next hops and attributes)."""

    def __init__(self, bird: Bird, expected: set[Route]) -> None:
        self.bird, self.expected = bird, expected
        self.deviations: list[tuple[float, set[Route]]] = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = time.monotonic()

    def __enter__(self) -> BirdWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def _run(self) -> None:
        while not self._stop.is_set():
            seen = self.bird.routes()
            self.samples += 1
            if seen != self.expected:
                self.deviations.append((round(time.monotonic() - self._start, 2), seen))
            self._stop.wait(0.1)


class ClientWatch:
    """arping in the client namespace for the whole block (one request a second)."""

    def __init__(self, world: World, ip: str, seconds: int) -> None:
        self.world, self.ip, self.seconds = world, ip, seconds
        self.proc: subprocess.Popen[str] | None = None
        self.output = ""

    def __enter__(self) -> ClientWatch:
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.world.lab.ns("client"), "arping", "-c",
             str(self.seconds), "-w", str(self.seconds + 1), "-I", LINK, self.ip],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        try:
            self.output, _ = self.proc.communicate(timeout=self.seconds + 10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.output, _ = self.proc.communicate()

    def replies(self) -> list[str]:
        return [
            line.split("[", 1)[1].split("]", 1)[0].lower()
            for line in self.output.splitlines()
            if "reply from" in line
        ]


def bird_holds(world: World, want: set[Route], what: str, timeout: float = 30) -> None:
    """Wait until BIRD's table is exactly `want`; on timeout say what it held and why."""
    try:
        wait_for(what, lambda: world.bird.routes() == want, timeout, 0.2)
    except AssertionError as err:
        held = {n: (bgp_held(world, n), l2_announced(world, n)) for n in NODE_IPS}
        raise AssertionError(
            f"{err}\nwanted: {sorted(want)}\nBIRD: {sorted(world.bird.routes())}\n"
            f"nodes' BGP and L2 services hold: {held}\n"
            f"{world.bird.cmd('show', 'protocols')}\n{world.lab.logs()}"
        ) from None


def allocated(world: World) -> dict[str, list[str]]:
    got: dict[str, list[str]] = wait_for(
        "both services allocated", lambda: all(status_ips(world).values()) and status_ips(world), 30
    )
    return got


def converged(world: World) -> tuple[set[Route], dict[str, str]]:
    """Wait (bounded) for BIRD's table and the client's ARP answers to match the folder."""
    allocated(world)
    want = expected_routes(world)
    bird_holds(world, want, "the folder's routes")
    answers = expected_answers(world)
    for ip, mac in answers.items():
        answer = functools.partial(answered_by, world, ip, 1)
        wait_for(f"{mac} to answer ARP for {ip}", answer, 15, 0)
    return want, answers


# ---- the tests ------------------------------------------------------------------------------


def test_addresses_are_allocated_from_the_pool_and_recorded_in_status(world: World) -> None:
    got = allocated(world)
    flat = [ipaddress.ip_address(ip) for name in SERVICES for ip in got[name]]
    assert len(flat) == len(set(flat)) == len(SERVICES), got
    assert all(ip in POOL for ip in flat), got
    # The placeholder took the first address and was deleted (world.py): it is free again.
    assert POOL[0] not in flat, got
    assert all(ip != ipaddress.ip_address(CLIENT_IP) for ip in flat)
    assert wait_for("IPAM to hold what status says", lambda: allocations(world) == got, 10)


def test_bird_learns_cluster_from_every_node_and_local_from_endpoint_nodes(world: World) -> None:
    allocated(world)
    for node in NODE_IPS:
        wait_for(f"BIRD's session to {node}", functools.partial(world.bird.established, node), 30)
    want = expected_routes(world)
    assert len(want) == 3  # cluster via node1 and node2, local via node2 only
    bird_holds(world, want, "BIRD's table")
    cluster = ingress(world, "cluster")[0]
    local = ingress(world, "local")[0]
    hops: dict[str, set[str]] = {r.prefix: set() for r in want}
    for route in world.bird.routes():
        hops[route.prefix].add(route.next_hop)
    assert hops == {
        f"{cluster}/32": {NODE_IPS["node1"], NODE_IPS["node2"]},
        f"{local}/32": {NODE_IPS[SERVICES["local"][1]]},
    }
    # iBGP: no AS in the path; the attributes of the BGPAdvertisement.
    text = world.bird.cmd("show", "route", "all", "for", f"{cluster}/32")
    assert text.count("BGP.as_path: \n") == 2, text
    assert text.count("BGP.local_pref: 150") == 2, text
    assert text.count("BGP.community: (65000,100)") == 2, text
    assert text.count("BGP.large_community: (64512, 1, 1)") == 2, text


def test_client_arping_gets_the_elected_nodes_mac(world: World) -> None:
    allocated(world)
    answers = expected_answers(world)
    assert len(answers) == len(SERVICES)
    local = ingress(world, "local")[0]
    assert answers[local] == world.lab.mac(SERVICES["local"][1])  # only its endpoint node
    for ip, mac in answers.items():
        got = wait_for(f"ARP answers for {ip}", functools.partial(answered_by, world, ip), 15, 0)
        assert got == {mac}, (ip, got, {n: world.lab.mac(n) for n in NODE_IPS})
    # Exactly one node holds each address in its L2 service.
    holders = {ip: {n for n in NODE_IPS if ip in l2_announced(world, n)} for ip in answers}
    owners = {ip: {n for n in NODE_IPS if world.lab.mac(n) == mac} for ip, mac in answers.items()}
    assert holders == owners


def bird_bfd_up(world: World) -> set[str]:
    """Neighbours whose BFD session BIRD reports Up."""
    out = set()
    for line in world.bird.cmd("show", "bfd", "sessions").splitlines():
        words = line.split()
        if len(words) >= 3 and words[1] == LINK and words[2] == "Up":
            out.add(words[0])
    return out


def test_bird_sees_bfd_up_towards_every_node(world: World) -> None:
    converged(world)
    peers = {node: bgp_peer(world, node) for node in NODE_IPS}
    statuses = {node: peer.state.bfd_status if peer else None for node, peer in peers.items()}
    wait_for(
        f"BIRD's BFD sessions Up towards both nodes (our peers' bfd_status: {statuses})",
        lambda: bird_bfd_up(world) == set(NODE_IPS.values()),
        8,
        0.2,
    )


def test_restarted_ipam_changes_nothing(world: World) -> None:
    routes, answers = converged(world)
    before = status_ips(world)
    # A fresh IPAM (not restored from status) would hand out the lowest address first.
    assert str(POOL[0]) not in [ip for ips in before.values() for ip in ips]
    cluster = ingress(world, "cluster")[0]
    with BirdWatch(world.bird, routes) as watch, ClientWatch(world, cluster, 6) as client:
        world.lab.restart("ipam")
        assert wait_for(
            "the controller to restore IPAM", lambda: allocations_or_none(world) == before, 20
        )
    assert status_ips(world) == before
    assert watch.samples > 5 and watch.deviations == [], watch.deviations[:3]
    assert client.replies() == [answers[cluster]] * 6, client.output


def test_restarted_bgp_process_keeps_the_routes_in_bird(world: World) -> None:
    routes, answers = converged(world)
    before = status_ips(world)
    since = world.bird.cmd("show", "protocols", "node1")
    cluster = ingress(world, "cluster")[0]
    with BirdWatch(world.bird, routes) as watch, ClientWatch(world, cluster, 5) as client:
        world.lab.restart("node1-bgp")
        wait_for(
            "BIRD's node1 session to come back",
            lambda: (
                world.bird.established("node1")
                and world.bird.cmd("show", "protocols", "node1") != since
            ),
            30,
            0.2,
        )

        mine = sum(1 for r in routes if r.protocol == "node1")

        def advertised() -> bool:
            peer = bgp_peer(world, "node1")
            return peer is not None and peer.state.prefixes_advertised == mine

        wait_for(f"node1 to advertise its {mine} prefix(es) again", advertised, 20)
        time.sleep(1.5)  # BIRD handles End-of-RIB (flushing stale routes) just after
    assert watch.samples > 5 and watch.deviations == [], watch.deviations[:3]
    assert world.bird.routes() == routes
    assert status_ips(world) == before == allocations(world)
    assert client.replies() == [answers[cluster]] * 5, client.output
    for ip, mac in answers.items():
        assert answered_by(world, ip) == {mac}


def test_restarted_l2_process_answers_again_with_the_same_mac(world: World) -> None:
    routes, answers = converged(world)
    before = status_ips(world)
    cluster = ingress(world, "cluster")[0]
    owner = next(n for n in NODE_IPS if world.lab.mac(n) == answers[cluster])
    with BirdWatch(world.bird, routes) as watch:
        world.lab.restart(f"{owner}-l2")
        start = time.monotonic()
        wait_for(
            f"the node role to give {owner}'s restarted L2 service {cluster} again",
            lambda: cluster in l2_announced(world, owner),
            15,
            0.05,
        )
        resent = time.monotonic() - start
        got = wait_for(
            f"{owner}'s restarted L2 service to answer for {cluster}",
            lambda: answered_by(world, cluster, 1),
            15,
            0,
        )
        gap = time.monotonic() - start
    assert got == {answers[cluster]}, got
    for ip, mac in answers.items():
        assert answered_by(world, ip) == {mac}, ip
    assert watch.deviations == [], watch.deviations[:3]
    assert status_ips(world) == before == allocations(world)
    print(
        f"restarted L2 service: announcement back after {resent:.2f} s, "
        f"ARP answered after {gap:.2f} s (from the moment it listened)"
    )


def test_deleting_a_service_withdraws_its_route_and_arp_answers(world: World) -> None:
    routes, answers = converged(world)
    cluster = ingress(world, "cluster")[0]
    local = ingress(world, "local")[0]
    # Deleted once the folder is quiet (converged above): a deletion while readers are reloading
    # can freeze one of them (gateway/folder.py, see test_folder_source_race.py).
    world.service_file("cluster").unlink()
    remaining = {r for r in routes if r.prefix != f"{cluster}/32"}
    assert remaining and len(remaining) == len(routes) - 2
    bird_holds(world, remaining, "BIRD to drop the deleted service", 20)
    wait_for(
        f"ARP for {cluster} to go unanswered",
        lambda: not world.lab.arping(cluster, count=1, deadline=1),
        15,
        0,
    )
    assert world.lab.arping(cluster, count=2, deadline=3) == []
    assert not any(cluster in l2_announced(world, n) for n in NODE_IPS)
    assert answered_by(world, local) == {answers[local]}
    wait_for("IPAM to release it", lambda: "cluster" not in allocations(world), 10)
    assert allocations(world) == {"local": [local]}
