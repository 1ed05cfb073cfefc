"""Our speaker against BIRD 2 in network namespaces: every check is read on BIRD's side."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from ipaddress import IPv6Address

import grpc
import pytest

from metallb.bgp.v1 import bgp_pb2, bgp_pb2_grpc
from metallb_rules.announce.bgp import PeerRoute
from metallb_rules.communities import Community
from tests.conftest import require_binary

from ..model_peers import peer as model_peer
from ..routes import request
from ..test_node_peer_sync import GivenDesired, run_pass
from .lab import Bird, Lab, Speaker, hold_timer_expires_while_frozen, lab, wait_for

pytestmark = pytest.mark.usefixtures("bird_lab")

OUR_AS = 4_200_000_001  # 4-octet: AS_TRANS in the OPEN, AS4 capability
BIRD_AS = 65002


def bird_conf(
    lab: Lab, *, local_as: int = BIRD_AS, peer_as: int = OUR_AS, extra: str = "", hold: int = 9
) -> str:
    return f"""
template bgp t {{
  local as {local_as}; hold time {hold}; connect delay time 1; error wait time 1, 10;
  graceful restart on; {extra}
}}
protocol bgp spk4 from t {{ local {lab.peer4}; neighbor {lab.spk4} as {peer_as};
  ipv4 {{ import all; export none; gateway direct; }}; }}
protocol bgp spk6 from t {{ local {lab.peer6}; neighbor {lab.spk6} as {peer_as};
  ipv6 {{ import all; export none; gateway direct; }}; }}
"""


def add_peers(s: Speaker, lab: Lab, **kw: object) -> None:
    for name, addr in (("b4", lab.peer4), ("b6", lab.peer6)):
        args: dict[str, object] = dict(
            name=name,
            my_asn=OUR_AS,
            peer_asn=BIRD_AS,
            peer_address=addr,
            connect_time=timedelta(seconds=2),
        )
        args.update(kw)
        s.stub.AddPeer(bgp_pb2.AddPeerRequest(peer=bgp_pb2.PeerConf(**args)), timeout=10)  # type: ignore[arg-type]


def ads(
    n4: int = 0, n6: int = 0, peers: tuple[str, ...] = ("b4", "b6"), **kw: object
) -> bgp_pb2.SetAdvertisementsRequest:
    """n4 /32 and n6 /128 to every peer of `peers` (each session takes its own families)."""
    prefixes = [f"198.18.{i // 256}.{i % 256}/32" for i in range(n4)]
    prefixes += [f"fd00:198:18::{i:x}/128" for i in range(n6)]
    return request(peers, prefixes, **kw)


@pytest.fixture
def env() -> Iterator[tuple[Lab, Bird, Speaker]]:
    with lab("b") as the_lab:
        bird = the_lab.bird(bird_conf(the_lab))
        speaker = the_lab.speaker()
        try:
            yield the_lab, bird, speaker
        finally:
            speaker.close()


def test_ebgp_v4_v6_4octet_communities_and_withdrawal(env: tuple[Lab, Bird, Speaker]) -> None:
    the_lab, bird, s = env
    add_peers(s, the_lab)
    wait_for("both sessions", lambda: bird.established("spk4") and bird.established("spk6"))
    s.stub.SetAdvertisements(ads(3, 3, communities=["65000:100", "large:1:2:3"]), timeout=10)
    wait_for("3 + 3 routes on BIRD", lambda: bird.count("spk4") == 3 and bird.count("spk6") == 3)
    v4 = bird.route("198.18.0.1/32")
    assert "BGP.as_path: 4200000001" in v4 and f"BGP.next_hop: {the_lab.spk4}" in v4
    assert "BGP.community: (65000,100)" in v4 and "BGP.large_community: (1, 2, 3)" in v4
    assert "BGP.local_pref" not in v4.replace("BGP.local_pref: 100", "")  # eBGP: none sent
    v6 = bird.route("fd00:198:18::1/128")
    assert f"BGP.next_hop: {the_lab.spk6}" in v6 and "(65000,100)" in v6
    assert "Session:          external AS4" in bird.cmd("show", "protocols", "all", "spk4")
    s.stub.SetAdvertisements(ads(1, 1), timeout=10)  # fewer, and without communities
    wait_for("withdrawals", lambda: bird.count("spk4") == 1 and bird.count("spk6") == 1)
    assert "BGP.community" not in bird.route("198.18.0.0/32")
    peer = s.peer("b4")
    assert peer.state.capabilities.four_octet_as and peer.state.prefixes_advertised == 1
    # The bulk form: one RouteGroup, prefixes packed as NLRI, one community for all of them.
    group = bgp_pb2.RouteGroup(
        ipv4_nlri=bytes([32, 198, 18, 0, 7, 24, 198, 18, 1]),
        ipv6_nlri=bytes([128]) + IPv6Address("fd00:198:18::7").packed,
    )
    group.communities.add(asn=65000, value=7)
    bulk = bgp_pb2.SetAdvertisementsRequest()
    for name in ("b4", "b6"):
        bulk.advertisements.add(peer=name, groups=[group])
    s.stub.SetAdvertisements(bulk, timeout=10)
    wait_for("the group's routes", lambda: bird.count("spk4") == 2 and bird.count("spk6") == 1)
    assert "BGP.community: (65000,7)" in bird.route("198.18.1.0/24")
    assert "BGP.community: (65000,7)" in bird.route("198.18.0.7/32")
    assert "BGP.community: (65000,7)" in bird.route("fd00:198:18::7/128")


def test_ibgp_local_pref() -> None:
    with lab("i") as the_lab:
        bird = the_lab.bird(bird_conf(the_lab, local_as=64512, peer_as=64512, extra="direct;"))
        s = the_lab.speaker()
        try:
            add_peers(s, the_lab, my_asn=64512, peer_asn=64512)
            wait_for("iBGP sessions", lambda: bird.established("spk4") and bird.established("spk6"))
            s.stub.SetAdvertisements(ads(1, 1, local_pref=250), timeout=10)
            wait_for("routes", lambda: bird.count("spk4") == 1 and bird.count("spk6") == 1)
            for prefix in ("198.18.0.0/32", "fd00:198:18::/128"):
                route = bird.route(prefix)
                assert "BGP.local_pref: 250" in route and "BGP.as_path: \n" in route + "\n"
            assert "Session:          internal" in bird.cmd("show", "protocols", "all", "spk4")
        finally:
            s.close()


def test_md5_good_and_wrong_password() -> None:
    with lab("m") as the_lab:
        bird = the_lab.bird(bird_conf(the_lab, extra='password "s3cret";'))
        s = the_lab.speaker()
        try:
            add_peers(s, the_lab, password="s3cret")
            wait_for("MD5 sessions", lambda: bird.established("spk4") and bird.established("spk6"))
            for name, addr in (("b4", the_lab.peer4), ("b6", the_lab.peer6)):
                wrong = bgp_pb2.PeerConf(
                    name=name, my_asn=OUR_AS, peer_asn=BIRD_AS, peer_address=addr,
                    password="wrong", connect_time=timedelta(seconds=2),
                )  # fmt: skip
                s.stub.UpdatePeer(bgp_pb2.UpdatePeerRequest(peer=wrong), timeout=10)
            time.sleep(5)  # several connection attempts; the kernel drops unsigned-by-key SYNs
            assert not bird.established("spk4") and not bird.established("spk6")
            assert not s.established("b4") and not s.established("b6")
        finally:
            s.close()


def test_hold_timer_expires_when_bird_is_frozen(env: tuple[Lab, Bird, Speaker]) -> None:
    the_lab, bird, s = env
    add_peers(s, the_lab, hold_time=timedelta(seconds=3))
    wait_for("sessions", lambda: s.established("b4") and s.established("b6"))
    assert s.peer("b4").state.negotiated_hold_time.seconds == 3
    hold_timer_expires_while_frozen(s, "b4", bird.pid)
    wait_for("the session to come back", lambda: s.established("b4"), timeout=20)


def test_route_refresh_is_answered(env: tuple[Lab, Bird, Speaker]) -> None:
    the_lab, bird, s = env
    add_peers(s, the_lab)
    wait_for("sessions", lambda: s.established("b4") and bird.established("spk4"))
    s.stub.SetAdvertisements(ads(5, 0), timeout=10)
    wait_for("routes", lambda: bird.count("spk4") == 5)
    before = s.peer("b4").state
    assert "Route refresh" in bird.cmd("show", "protocols", "all", "spk4")
    bird.cmd("reload", "in", "spk4")  # BIRD asks us with ROUTE-REFRESH (RFC 2918)

    def answered() -> bool:
        now = s.peer("b4").state
        return now.received.route_refresh == 1 and now.sent.update > before.sent.update

    wait_for("the refresh to be answered", answered, timeout=10)
    assert bird.count("spk4") == 5
    assert s.established("b4")


def restarting(bird: Bird) -> bool:
    """BIRD holds our routes as stale, waiting for our End-of-RIB (RFC 4724 §4.2)."""
    return "Neighbor graceful restart active" in bird.cmd("show", "protocols", "all", "spk4")


def test_graceful_restart_after_sigkill(env: tuple[Lab, Bird, Speaker]) -> None:
    the_lab, bird, s = env
    add_peers(s, the_lab, enable_graceful_restart=True)
    wait_for("sessions", lambda: bird.established("spk4") and bird.established("spk6"))
    s.stub.SetAdvertisements(ads(50, 50), timeout=10)
    wait_for("routes", lambda: bird.count("spk4") == 50 and bird.count("spk6") == 50)
    assert "AF preserved: ipv4" in bird.cmd("show", "protocols", "all", "spk4")
    counts: list[tuple[int, int]] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():  # bounded by the test's own timeouts
            counts.append((bird.count("spk4"), bird.count("spk6")))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        s.proc.send_signal(signal.SIGKILL)
        s.proc.wait(timeout=5)
        s.close()
        wait_for("BIRD to start the graceful restart", lambda: restarting(bird), timeout=10)
        stale = bird.cmd("show", "route", "all", "for", "198.18.0.1/32")
        assert "198.18.0.1/32" in stale  # kept while we are away
        s2 = the_lab.speaker("speaker2")
        try:
            add_peers(s2, the_lab, enable_graceful_restart=True)
            wait_for("new sessions", lambda: s2.established("b4") and s2.established("b6"))
            time.sleep(1.0)  # the routes stay (stale) though we have not spoken yet
            assert bird.count("spk4") == 50 and restarting(bird)
            s2.stub.SetAdvertisements(ads(50, 50), timeout=10)
            wait_for("our End-of-RIB to end the restart", lambda: not restarting(bird))
            time.sleep(0.5)
        finally:
            s2.close()
    finally:
        stop.set()
        watcher.join()
    assert counts and min(c[0] for c in counts) == 50 and min(c[1] for c in counts) == 50
    assert bird.count("spk4") == 50 and bird.count("spk6") == 50
    stats = bird.cmd("show", "protocols", "all", "spk4")
    withdraws = next(line for line in stats.splitlines() if "Import withdraws:" in line)
    assert withdraws.split()[2] == "0", withdraws  # nothing was withdrawn


def test_dual_stack_address_family(env: tuple[Lab, Bird, Speaker]) -> None:
    """dualStackAddressFamily: both families on each session, with real next hops of each."""
    the_lab, bird, s = env
    conf = f"""
template bgp ds {{ local as {BIRD_AS}; hold time 9; connect delay time 1; error wait time 1, 10; }}
protocol bgp ds4 from ds {{ local {the_lab.peer4}; neighbor {the_lab.spk4} as {OUR_AS};
  ipv4 {{ import all; export none; gateway direct; }};
  ipv6 {{ import all; export none; gateway direct; }}; }}
protocol bgp ds6 from ds {{ local {the_lab.peer6}; neighbor {the_lab.spk6} as {OUR_AS};
  ipv4 {{ import all; export none; gateway direct; extended next hop on; }};
  ipv6 {{ import all; export none; gateway direct; }}; }}
"""
    the_lab.kill(bird.pid)
    ds = the_lab.bird(conf)
    add_peers(s, the_lab, dual_stack_address_family=True)
    wait_for("dual-stack sessions", lambda: ds.established("ds4") and ds.established("ds6"))
    s.stub.SetAdvertisements(ads(2, 2), timeout=10)

    def imported(protocol: str) -> list[int]:
        out = ds.cmd("show", "protocols", "all", protocol)
        return [int(line.split()[1]) for line in out.splitlines() if "imported," in line]

    wait_for("2 + 2 routes per session", lambda: imported("ds4") == imported("ds6") == [2, 2])
    v6_over_v4 = ds.cmd("show", "route", "all", "protocol", "ds4", "for", "fd00:198:18::1/128")
    assert f"BGP.next_hop: {the_lab.spk6}" in v6_over_v4
    v4_over_v6 = ds.cmd("show", "route", "all", "protocol", "ds6", "for", "198.18.0.1/32")
    assert f"BGP.next_hop: {the_lab.spk4}" in v4_over_v6
    families = s.peer("b6").state.capabilities
    assert list(families.extended_next_hop) == [1]  # IPv4 over an IPv6 session (RFC 8950)


@pytest.mark.parametrize(
    ("peer_asn", "multihop", "ttl"),
    [(BIRD_AS, False, 1), (BIRD_AS, True, 255), (OUR_AS, False, 255)],
)
def test_ttl_is_1_for_single_hop_ebgp_else_255(peer_asn: int, multihop: bool, ttl: int) -> None:
    """The TTL of our SYN, read with tcpdump on the peer's side (no BGP daemon needed)."""
    tcpdump = require_binary("tcpdump")
    with lab("t") as the_lab:
        s = the_lab.speaker()
        syn = f"tcp[tcpflags] & tcp-syn != 0 and src host {the_lab.spk4} and dst port 179"
        capture = subprocess.Popen(
            ["ip", "netns", "exec", the_lab.peer_ns, tcpdump, "-l", "-n", "-v", "-c", "1",
             "-i", the_lab.peer_dev, syn],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert capture.stderr is not None
            capture.stderr.readline()  # "listening on ...": the capture is running
            conf = bgp_pb2.PeerConf(
                name="b4", my_asn=OUR_AS, peer_asn=peer_asn, peer_address=the_lab.peer4,
                ebgp_multihop=multihop,
            )  # fmt: skip
            s.stub.AddPeer(bgp_pb2.AddPeerRequest(peer=conf), timeout=10)
            out, _ = capture.communicate(timeout=10)
            assert f"ttl {ttl}," in out, out
        finally:
            if capture.poll() is None:
                capture.kill()
                capture.wait()
            s.close()


def test_a_refused_peer_does_not_stop_the_good_peers_routes(env: tuple[Lab, Bird, Speaker]) -> None:
    """The node role's BGP lane (gateway/node/reconciler.py) with one peer the service refuses
    (an unnumbered peer on an interface name Linux refuses, which validation refuses before it
    gets here) and one good peer: BIRD receives the good peer's routes."""
    the_lab, bird, _ = env
    bad = model_peer("bad", interface="eth1/x", my_asn=OUR_AS, peer_asn=BIRD_AS)
    good = model_peer("b4", address=the_lab.peer4, my_asn=OUR_AS, peer_asn=BIRD_AS)
    routes = [
        PeerRoute(p, f"198.18.0.{i}/32", (Community.legacy(65000, i),))
        for p in ("bad", "b4")
        for i in range(1, 4)
    ]
    node = GivenDesired([bad, good], routes)

    async def converge() -> None:
        async with grpc.aio.insecure_channel(f"unix:{the_lab.dir / 'speaker.sock'}") as channel:
            await run_pass(node, bgp_pb2_grpc.BGPServiceStub(channel), 0.0)

    asyncio.run(converge())
    assert set(node.peer_errors) == {"bad"}
    wait_for("3 routes on BIRD from the good peer", lambda: bird.count("spk4") == 3)
    assert "BGP.community: (65000,2)" in bird.route("198.18.0.2/32")
