"""Unnumbered BGP (BGPPeer `interface`) against FRR and BIRD 2 in network namespaces.

The lab's link keeps only IPv6 link-local addresses (its global addresses are flushed): FRR runs
`neighbor IFACE interface remote-as external` and learns us from our Router Advertisements, as we
learn it from its own; BIRD has our link-local address configured, scoped to its interface, and
connects to us. Each must install our IPv4 route (RFC 8950: `via inet6 fe80::…`) and our IPv6
route with our link-local next hop in its kernel table, checked with `ip route` in its namespace.
Then a link flap (the routes go and come back) and BFD Down over the link-local (FRR's bfdd
frozen: our BFD session goes Down, the BGP session is torn down at once though it holds 90 s).
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from metallb.bgp.v1 import bgp_pb2
from tests.conftest import require_binary

from .lab import Frr, Lab, Speaker, lab, run, wait_for

OUR_AS, FRR_AS, BIRD_AS = 64512, 65001, 65002
V4, V6 = "198.51.100.7/32", "2001:db8:77::7/128"
FAST = bgp_pb2.BfdSettings(
    receive_interval=timedelta(milliseconds=50),
    transmit_interval=timedelta(milliseconds=50),
    detect_multiplier=3,
)


@dataclass
class World:
    lab: Lab
    speaker: Speaker

    def our_ll(self) -> str:
        return _ll(self.lab.spk_ns, self.lab.spk_dev)

    def their_ll(self) -> str:
        return _ll(self.lab.peer_ns, self.lab.peer_dev)

    def add_peer(self, **kw: object) -> None:
        conf = bgp_pb2.PeerConf(
            name="u", my_asn=OUR_AS, interface=self.lab.spk_dev, connect_time=timedelta(seconds=2)
        )
        for key, value in kw.items():
            if isinstance(value, bgp_pb2.BfdSettings | timedelta):
                getattr(conf, key).CopyFrom(
                    value if isinstance(value, bgp_pb2.BfdSettings) else _duration(value)
                )
            else:
                setattr(conf, key, value)
        self.speaker.stub.AddPeer(bgp_pb2.AddPeerRequest(peer=conf), timeout=10)
        routes = [bgp_pb2.Route(prefix=V4), bgp_pb2.Route(prefix=V6)]
        request = bgp_pb2.SetAdvertisementsRequest(
            advertisements=[bgp_pb2.PeerAdvertisements(peer="u", routes=routes)]
        )
        self.speaker.stub.SetAdvertisements(request, timeout=10)

    def state(self) -> bgp_pb2.PeerState:
        return self.speaker.peer("u").state

    def kernel_routes(self) -> tuple[str, str]:
        """The peer's kernel routes to our two prefixes ("" when absent)."""
        ns = self.lab.peer_ns
        v4 = run("ip", "-n", ns, "route", "show", V4, check=False).stdout.strip()
        v6 = run("ip", "-n", ns, "-6", "route", "show", V6, check=False).stdout.strip()
        return v4, v6

    def routes_installed(self) -> bool:
        """Both routes in the peer's kernel, through our link-local address on its link."""
        ll, dev = self.our_ll(), self.lab.peer_dev
        v4, v6 = self.kernel_routes()
        return f"via inet6 {ll} dev {dev}" in v4 and f"via {ll} dev {dev}" in v6


def _duration(value: timedelta) -> object:
    from google.protobuf.duration_pb2 import Duration

    out = Duration()
    out.FromTimedelta(value)
    return out


def _ll(ns: str, dev: str) -> str:
    out = run("ip", "-n", ns, "-6", "addr", "show", "dev", dev, "scope", "link").stdout
    match = re.search(r"inet6 (fe80::[0-9a-f:]+)/64", out)
    assert match, out
    return match.group(1)


def established(world: World) -> bool:
    return world.state().session_state == bgp_pb2.SESSION_STATE_ESTABLISHED


@pytest.fixture
def world() -> Iterator[World]:
    with lab("un") as the_lab:
        for ns, dev in ((the_lab.peer_ns, the_lab.peer_dev), (the_lab.spk_ns, the_lab.spk_dev)):
            run("ip", "-n", ns, "addr", "flush", "dev", dev, "scope", "global")
        speaker = the_lab.speaker()
        try:
            yield World(the_lab, speaker)
        finally:
            speaker.close()
            the_lab.kill(speaker.proc.pid)


@pytest.fixture
def bfd_world() -> Iterator[World]:
    with lab("unb") as the_lab:
        for ns, dev in ((the_lab.peer_ns, the_lab.peer_dev), (the_lab.spk_ns, the_lab.spk_dev)):
            run("ip", "-n", ns, "addr", "flush", "dev", dev, "scope", "global")
        _, bfd_sock = the_lab.bfd_service()
        speaker = the_lab.speaker(bfd=bfd_sock)
        try:
            yield World(the_lab, speaker)
        finally:
            speaker.close()
            # the BGP service first: a SIGTERM'd BFD service waits for its watchers
            the_lab.kill(speaker.proc.pid)


def frr_conf(lab: Lab, *, bfd: bool = False) -> str:
    dev = lab.peer_dev
    return f"""router bgp {FRR_AS}
 bgp router-id 192.0.2.1
 no bgp ebgp-requires-policy
 neighbor {dev} interface remote-as external
 neighbor {dev} timers 3 9
 neighbor {dev} timers connect 1
{f" neighbor {dev} bfd profile fast" if bfd else ""}
 address-family ipv4 unicast
  neighbor {dev} activate
 exit-address-family
 address-family ipv6 unicast
  neighbor {dev} activate
 exit-address-family
exit
"""


@pytest.mark.usefixtures("frr_lab")
def test_frr_interface_peer_with_dynamic_asn_external(world: World) -> None:
    """FRR `neighbor IFACE interface remote-as external`, ours `dynamicASN: external`: each
    learns the other from Router Advertisements; FRR installs both routes via our link-local."""
    world.add_peer(dynamic_asn=bgp_pb2.DYNAMIC_ASN_EXTERNAL)
    frr = Frr(world.lab, frr_conf(world.lab))
    start = time.monotonic()
    wait_for("Established with FRR", lambda: established(world), timeout=30)
    print(f"\nFRR unnumbered: Established after {time.monotonic() - start:.1f} s")
    wait_for("FRR's kernel routes via our link-local", world.routes_installed)
    state = world.state()
    link = state.unnumbered
    dev = world.lab.spk_dev
    assert link.link_up and link.interface == dev
    assert link.local_address == f"{world.our_ll()}%{dev}"
    assert link.neighbor_address == f"{world.their_ll()}%{dev}"
    assert link.neighbor_source == bgp_pb2.NEIGHBOR_SOURCE_ROUTER_ADVERTISEMENT
    assert link.router_advertisements_sent >= 1 and link.router_advertisements_received >= 1
    assert state.peer_asn == FRR_AS and state.local_address == world.our_ll()
    assert set(state.capabilities.families) == {1, 2}
    assert list(state.capabilities.extended_next_hop) == [1]  # IPv4 over IPv6 (RFC 8950)
    summary = frr.json("show bgp summary")
    assert summary["ipv4Unicast"]["peers"][world.lab.peer_dev]["pfxRcd"] == 1
    assert summary["ipv6Unicast"]["peers"][world.lab.peer_dev]["pfxRcd"] == 1


@pytest.mark.usefixtures("bird_lab")
def test_bird_link_local_neighbour_scoped_to_its_interface(world: World) -> None:
    """BIRD 2 with `neighbor fe80::… % 'IFACE'` (our address, scoped) connects to us: we learn
    it from that connection (or from the neighbour entry the kernel made for it first)."""
    world.add_peer(peer_asn=BIRD_AS)
    bird = world.lab.bird(f"""
protocol kernel {{ ipv4 {{ export all; }}; }}
protocol kernel {{ ipv6 {{ export all; }}; }}
protocol bgp u {{
  local as {BIRD_AS};
  neighbor {world.our_ll()} % '{world.lab.peer_dev}' as {OUR_AS};
  hold time 9; connect delay time 1; error wait time 1, 10;
  ipv4 {{ import all; export none; extended next hop on; }};
  ipv6 {{ import all; export none; }};
}}
""")
    wait_for("Established with BIRD", lambda: established(world), timeout=30)
    wait_for("BIRD's kernel routes via our link-local", world.routes_installed)
    assert bird.established("u")
    link = world.state().unnumbered
    assert link.neighbor_address == f"{world.their_ll()}%{world.lab.spk_dev}"
    assert link.neighbor_source in (
        bgp_pb2.NEIGHBOR_SOURCE_INCOMING_CONNECTION,
        bgp_pb2.NEIGHBOR_SOURCE_NEIGHBOR_CACHE,
    )
    assert f"BGP.next_hop: :: {world.our_ll()}" in bird.route(V4)


@pytest.mark.usefixtures("frr_lab")
def test_link_flap_takes_the_routes_away_and_brings_them_back(world: World) -> None:
    world.add_peer(peer_asn=FRR_AS)
    Frr(world.lab, frr_conf(world.lab))
    wait_for("Established with FRR", lambda: established(world), timeout=30)
    wait_for("FRR's kernel routes", world.routes_installed)
    spk_ns, dev = world.lab.spk_ns, world.lab.spk_dev
    run("ip", "-n", spk_ns, "link", "set", dev, "down")
    wait_for("our side to see the link down", lambda: not world.state().unnumbered.link_up, 5)
    state = world.state()
    assert state.last_error.reason == bgp_pb2.STATE_REASON_LINK_DOWN
    assert state.session_state != bgp_pb2.SESSION_STATE_ESTABLISHED
    assert not state.unnumbered.neighbor_address  # forgotten with the link
    wait_for("FRR's kernel routes gone", lambda: world.kernel_routes() == ("", ""), 10)
    back = time.monotonic()
    run("ip", "-n", spk_ns, "link", "set", dev, "up")
    wait_for("Established again", lambda: established(world), timeout=30)
    wait_for("FRR's kernel routes back", world.routes_installed)
    print(f"\nlink up: Established and routes back after {time.monotonic() - back:.1f} s")
    assert world.state().established_transitions == 2


@pytest.mark.usefixtures("frr_lab")
def test_bfd_down_over_the_link_local_tears_the_session_down(bfd_world: World) -> None:
    """FRR bgpd + bfdd with `neighbor IFACE bfd profile fast`; our BFD session is single hop to
    FRR's link-local address on the interface. Freezing bfdd (bgpd keeps answering, hold 90 s)
    makes our BFD say Down: the BGP session goes at once, with Cease / BFD Down."""
    require_binary("/usr/lib/frr/bfdd")
    world = bfd_world
    world.add_peer(peer_asn=FRR_AS, hold_time=timedelta(seconds=90), bfd_profile="fast", bfd=FAST)
    bfdd = "bfd\n profile fast\n  receive-interval 50\n  transmit-interval 50\n exit\nexit\n"
    frr = Frr(world.lab, frr_conf(world.lab, bfd=True).replace("timers 3 9", "timers 30 90"), bfdd)
    wait_for(
        "Established with BFD Up",
        lambda: established(world) and world.state().bfd_status == "up",
        timeout=30,
    )
    cut = time.monotonic()
    os.kill(frr.pid("bfdd"), signal.SIGSTOP)
    try:
        wait_for("the teardown", lambda: not established(world), timeout=5, interval=0.01)
        took = time.monotonic() - cut
    finally:
        os.kill(frr.pid("bfdd"), signal.SIGCONT)
    error = world.state().last_error
    assert error.reason == bgp_pb2.STATE_REASON_BFD_DOWN, error
    assert (error.notification.code, error.notification.subcode) == (6, 10)  # RFC 9384
    assert took < 1.0
    print(f"\nunnumbered BFD: BGP torn down {took * 1e3:.0f} ms after bfdd froze")


@pytest.mark.usefixtures("frr_lab")
def test_a_replaced_router_with_another_address_is_followed(world: World) -> None:
    """The router on the link is replaced (FRR stopped, the link-local address changed, a new
    FRR started): the session to the old address goes down, the new router's RA names the new
    neighbour and the session and routes come back towards it."""
    world.add_peer(peer_asn=FRR_AS)
    Frr(world.lab, frr_conf(world.lab))
    wait_for("Established with FRR", lambda: established(world), timeout=30)
    old = world.their_ll()
    for daemon in ("bgpd", "zebra"):
        world.lab.kill(int((world.lab.dir / "frr" / f"{daemon}.pid").read_text().split()[0]))
    wait_for("the session to go down", lambda: not established(world), timeout=15)
    ns, dev = world.lab.peer_ns, world.lab.peer_dev
    run("ip", "-n", ns, "addr", "del", f"{old}/64", "dev", dev)
    run("ip", "-n", ns, "addr", "add", "fe80::beef/64", "dev", dev, "nodad")
    (world.lab.dir / "frr").rename(world.lab.dir / "frr-replaced")
    Frr(world.lab, frr_conf(world.lab))
    wait_for("Established with the new router", lambda: established(world), timeout=30)
    link = world.state().unnumbered
    assert link.neighbor_address == f"fe80::beef%{world.lab.spk_dev}"
    assert link.neighbor_source == bgp_pb2.NEIGHBOR_SOURCE_ROUTER_ADVERTISEMENT
    assert world.state().established_transitions == 2
    wait_for("the new router's kernel routes", world.routes_installed)


@pytest.mark.usefixtures("frr_lab")
def test_a_global_address_on_the_link_restarts_with_both_next_hops(world: World) -> None:
    """Our interface gains a global IPv6 address: the session restarts (ADDRESS_CHANGED) and the
    routes carry it before our link-local address (RFC 2545 §3, 32 octets); FRR still installs
    them via the link-local one."""
    world.add_peer(peer_asn=FRR_AS)
    frr = Frr(world.lab, frr_conf(world.lab))
    wait_for("Established with FRR", lambda: established(world), timeout=30)
    wait_for("FRR's kernel routes", world.routes_installed)
    run("ip", "-n", world.lab.spk_ns, "addr", "add", "fd77:fe::2/64", "dev", world.lab.spk_dev,
        "nodad")  # fmt: skip
    wait_for("a second session", lambda: world.state().established_transitions == 2, 30)
    assert world.state().last_error.reason == bgp_pb2.STATE_REASON_ADDRESS_CHANGED
    wait_for("FRR's kernel routes again", world.routes_installed)
    route = frr.json(f"show bgp ipv6 unicast {V6}")
    hops = {h.get("ip"): h.get("scope") for p in route.get("paths", []) for h in p["nexthops"]}
    assert hops == {"fd77:fe::2": "global", world.our_ll(): "link-local"}, route
