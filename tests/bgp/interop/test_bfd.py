"""BGP with BFD against BIRD 2 and FRR: our BGP service and our BFD service in the speaker
namespace (`metallb-grpc bgp --bfd unix:...` and `metallb-grpc bfd`), the peer in the other.

BFD runs at 50 ms x 3 and BGP holds for 90 s, so a teardown within a second can only be BFD's.
The time from the cut to our BFD Down and to our BGP teardown is read from the services
themselves (the BFD session's last_down_time, the peer's last_error.time: wall clocks of one
machine) and printed: `python3 -m pytest tests/bgp/interop/test_bfd.py -s -k cut`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from metallb.bfd.v1 import bfd_pb2, bfd_pb2_grpc
from metallb.bgp.v1 import bgp_pb2
from tests.conftest import require_binary

from .lab import Bird, Frr, Lab, Speaker, lab, run, wait_for
from .test_bird import BIRD_AS, OUR_AS

HOLD = 90
FAST = bgp_pb2.BfdSettings(
    receive_interval=timedelta(milliseconds=50),
    transmit_interval=timedelta(milliseconds=50),
    detect_multiplier=3,
)
TEARDOWN_LIMIT = 1.0  # seconds from the cut: 150 ms of detection, then at once (not 90 s)


def bird_conf(lab: Lab, *, bgp_bfd: bool = True) -> str:
    """BIRD's BGP asks its BFD for sessions (`bfd on`), or BFD runs on its own (`neighbor`)."""
    neighbors = (
        ""
        if bgp_bfd
        else f'  neighbor {lab.spk4} dev "{lab.peer_dev}" local {lab.peer4};\n'
        f'  neighbor {lab.spk6} dev "{lab.peer_dev}" local {lab.peer6};\n'
    )
    return f"""
protocol bfd bfd1 {{
  interface "*" {{ min rx interval 50 ms; min tx interval 50 ms; idle tx interval 300 ms;
                  multiplier 3; }};
{neighbors}}}
template bgp t {{
  local as {BIRD_AS}; hold time {HOLD}; connect delay time 1; error wait time 1, 10;
  bfd {"on" if bgp_bfd else "off"};
}}
protocol bgp spk4 from t {{ local {lab.peer4}; neighbor {lab.spk4} as {OUR_AS};
  ipv4 {{ import all; export none; }}; }}
protocol bgp spk6 from t {{ local {lab.peer6}; neighbor {lab.spk6} as {OUR_AS};
  ipv6 {{ import all; export none; }}; }}
"""


@dataclass
class World:
    lab: Lab
    speaker: Speaker
    bfd_proc: subprocess.Popen[bytes]
    bfd_sock: Path  # a restarted BFD service listens on the same path
    peers: dict[str, str]  # our peer name -> its address
    channel: grpc.Channel

    @property
    def bfd(self) -> bfd_pb2_grpc.BFDServiceStub:
        return bfd_pb2_grpc.BFDServiceStub(self.channel)

    def add_peers(self, peer_asn: int) -> None:
        for name, address in self.peers.items():
            conf = bgp_pb2.PeerConf(
                name=name, my_asn=OUR_AS, peer_asn=peer_asn, peer_address=address,
                connect_time=timedelta(seconds=2), hold_time=timedelta(seconds=HOLD),
                bfd_profile="fast", bfd=FAST,
            )  # fmt: skip
            self.speaker.stub.AddPeer(bgp_pb2.AddPeerRequest(peer=conf), timeout=10)

    def state(self, name: str) -> bgp_pb2.PeerState:
        return self.speaker.peer(name).state

    def all(self, check: Callable[[bgp_pb2.PeerState], bool]) -> bool:
        return all(check(self.state(name)) for name in self.peers)

    def up(self) -> bool:
        """Every session Established with its BFD session Up."""
        return self.all(
            lambda s: s.session_state == bgp_pb2.SESSION_STATE_ESTABLISHED and s.bfd_status == "up"
        )

    def bfd_down_time(self, address: str) -> float:
        key = bfd_pb2.SessionKey(peer_address=address)
        got = self.bfd.GetSession(bfd_pb2.GetSessionRequest(key=key), timeout=5)
        return float(got.session.state.last_down_time.ToNanoseconds()) / 1e9


@pytest.fixture
def world() -> Iterator[World]:
    with lab("bfd") as the_lab:
        bfd_proc, bfd_sock = the_lab.bfd_service()
        speaker = the_lab.speaker(bfd=bfd_sock)
        channel = grpc.insecure_channel(f"unix:{bfd_sock}")
        try:
            yield World(the_lab, speaker, bfd_proc, bfd_sock, {"b4": the_lab.peer4}, channel)
        finally:
            channel.close()
            speaker.close()
            # The BGP service first: while its watch is open, a SIGTERM'd BFD service waits
            # out its whole grace period (5 s) before it exits.
            the_lab.kill(speaker.proc.pid)


def bfd_sessions_up(bird: Bird, count: int) -> bool:
    return bird.cmd("show", "bfd", "sessions").count(" Up ") == count


def assert_torn_down_by_bfd(world: World, name: str, cut_at: float) -> tuple[float, float]:
    """(BFD detection, BGP teardown) in seconds from `cut_at`; the reason names BFD."""
    wait_for(
        f"{name} to leave Established",
        lambda: world.state(name).session_state != bgp_pb2.SESSION_STATE_ESTABLISHED,
        timeout=5,
        interval=0.01,
    )
    error = world.state(name).last_error
    assert error.reason == bgp_pb2.STATE_REASON_BFD_DOWN, error
    assert error.message == "BFD down: control detection time expired"
    assert (error.notification.code, error.notification.subcode) == (6, 10)  # RFC 9384
    assert error.notification.sent
    detected = world.bfd_down_time(world.peers[name]) - cut_at
    torn_down = error.time.ToNanoseconds() / 1e9 - cut_at
    assert 0 < detected <= torn_down < TEARDOWN_LIMIT, (detected, torn_down)
    return detected, torn_down


@pytest.mark.usefixtures("bird_lab")
def test_bird_frozen_or_cut_bfd_tears_bgp_down_at_once_then_both_come_back(
    world: World,
) -> None:
    """(a) SIGSTOP, then a link cut: BFD Down in ~150 ms, BGP torn down at once, hold 90 s;
    (c) BIRD resumed, the link back: BFD Up and BGP Established again, both families."""
    the_lab = world.lab
    world.peers["b6"] = the_lab.peer6
    bird = the_lab.bird(bird_conf(the_lab))
    world.add_peers(BIRD_AS)
    wait_for("BGP Established with BFD Up", world.up)
    assert bfd_sessions_up(bird, 2)
    assert world.state("b4").negotiated_hold_time.seconds == HOLD
    figures = []
    for how in ("SIGSTOP", "link down"):
        cut_at = time.time()
        if how == "SIGSTOP":
            os.kill(bird.pid, signal.SIGSTOP)
        else:
            run("ip", "-n", the_lab.peer_ns, "link", "set", the_lab.peer_dev, "down")
        try:
            for name in world.peers:
                detected, torn_down = assert_torn_down_by_bfd(world, name, cut_at)
                figures.append(f"{how} {name}: BFD Down after {detected * 1e3:.0f} ms, "
                               f"BGP torn down after {torn_down * 1e3:.0f} ms")  # fmt: skip
        finally:
            if how == "SIGSTOP":
                os.kill(bird.pid, signal.SIGCONT)
            else:
                run("ip", "-n", the_lab.peer_ns, "link", "set", the_lab.peer_dev, "up")
        back_at = time.monotonic()
        wait_for("BGP Established with BFD Up again", world.up, timeout=30)
        wait_for("BIRD's BFD Up again", lambda: bfd_sessions_up(bird, 2))
        figures.append(f"{how}: back after {time.monotonic() - back_at:.1f} s")
    print("\n" + "\n".join(figures))


@pytest.mark.usefixtures("bird_lab")
def test_birdc_disable_bfd_is_silence_so_a_teardown_bgp_comes_back_without_bfd(
    world: World,
) -> None:
    """(b) `birdc disable bfd1` sends no AdminDown (BIRD 2.0.12 just stops, checked with
    tcpdump): for us it is a path failure. BIRD's BGP ignores its own BFD going away, so the
    session comes back, unprotected until BFD is enabled again."""
    bird = world.lab.bird(bird_conf(world.lab))
    world.add_peers(BIRD_AS)
    wait_for("BGP Established with BFD Up", world.up)
    cut_at = time.time()
    bird.cmd("disable", "bfd1")
    assert_torn_down_by_bfd(world, "b4", cut_at)
    wait_for(
        "BGP Established again, BFD down",
        lambda: world.state("b4").session_state == bgp_pb2.SESSION_STATE_ESTABLISHED,
        timeout=30,
    )
    assert world.state("b4").bfd_status == "down: control detection time expired"
    bird.cmd("enable", "bfd1")
    wait_for("BFD Up again", world.up)
    assert world.state("b4").established_transitions == 2


@pytest.mark.usefixtures("bird_lab")
def test_killed_bfd_service_leaves_bgp_established_restarted_it_comes_up(world: World) -> None:
    """(d) SIGKILL of our BFD service: BIRD sees its BFD session time out, we tear nothing down;
    a new BFD service gets the session again from the BGP service and it comes Up. BIRD's BGP
    runs without BFD here (`bfd off`, BFD from a `neighbor` line): with `bfd on` BIRD itself
    would end the session when our BFD goes silent."""
    the_lab = world.lab
    bird = the_lab.bird(bird_conf(the_lab, bgp_bfd=False))
    world.add_peers(BIRD_AS)
    wait_for("BGP Established with BFD Up", world.up)
    world.lab.kill(world.bfd_proc.pid, signal.SIGKILL)
    world.bfd_proc.wait(timeout=5)
    wait_for("BIRD's BFD Down", lambda: not bfd_sessions_up(bird, 1), timeout=5)
    wait_for("the status", lambda: "unreachable" in world.state("b4").bfd_status, timeout=5)
    time.sleep(1.0)  # many detection times
    state = world.state("b4")
    assert state.session_state == bgp_pb2.SESSION_STATE_ESTABLISHED
    assert state.established_transitions == 1 and not state.HasField("last_error")
    world.bfd_proc, world.bfd_sock = the_lab.bfd_service()  # same socket path
    wait_for("BFD Up again through the new BFD service", world.up, timeout=10)
    wait_for("BIRD's BFD Up", lambda: bfd_sessions_up(bird, 1))
    assert world.state("b4").established_transitions == 1  # never went down
    sessions = world.bfd.ListSessions(bfd_pb2.ListSessionsRequest(), timeout=5).sessions
    assert [
        (s.conf.peer_address, s.conf.profile.receive_interval.ToMilliseconds()) for s in sessions
    ] == [(the_lab.peer4, 50)]


FRR_AS = 65005


def frr_confs(lab: Lab) -> tuple[str, str]:
    bgpd = f"""router bgp {FRR_AS}
 bgp router-id {lab.peer4}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor {lab.spk4} remote-as {OUR_AS}
 neighbor {lab.spk4} timers connect 1
 neighbor {lab.spk4} bfd profile fast
 address-family ipv4 unicast
  neighbor {lab.spk4} activate
 exit-address-family
exit
"""
    bfdd = "bfd\n profile fast\n  receive-interval 50\n  transmit-interval 50\n exit\nexit\n"
    return bgpd, bfdd


@pytest.mark.usefixtures("frr_lab")
def test_frr_link_cut_tears_down_its_admin_down_does_not(world: World) -> None:
    """FRR bgpd + bfdd (`neighbor X bfd profile fast`). A link cut tears BGP down at once.
    FRR's `profile fast / shutdown` sends AdminDown: RFC 5882 §3.2, not a path failure, so our
    session stays Established (FRR 8.4's own bgpd keeps it too) and BFD comes back Up after
    `no shutdown`."""
    require_binary("/usr/lib/frr/bfdd")  # fails under CI, skips elsewhere
    the_lab = world.lab
    frr = Frr(the_lab, *frr_confs(the_lab))
    world.add_peers(FRR_AS)
    wait_for("BGP Established with BFD Up", world.up, timeout=30)
    before = world.state("b4")
    frr.cmd("configure", "bfd", "profile fast", "shutdown")
    wait_for("the peer's AdminDown", lambda: "AdminDown" in world.state("b4").bfd_status)
    time.sleep(0.5)  # several of our detection times
    state = world.state("b4")
    assert state.session_state == bgp_pb2.SESSION_STATE_ESTABLISHED
    assert state.established_transitions == before.established_transitions
    assert state.last_error == before.last_error  # nothing happened to the session
    frr.cmd("configure", "bfd", "profile fast", "no shutdown")
    wait_for("BFD Up again", world.up)
    cut_at = time.time()
    run("ip", "-n", the_lab.peer_ns, "link", "set", the_lab.peer_dev, "down")
    try:
        detected, torn_down = assert_torn_down_by_bfd(world, "b4", cut_at)
    finally:
        run("ip", "-n", the_lab.peer_ns, "link", "set", the_lab.peer_dev, "up")
    print(f"\nFRR link down: BFD Down after {detected * 1e3:.0f} ms, "
          f"BGP torn down after {torn_down * 1e3:.0f} ms")  # fmt: skip
    wait_for("BGP Established with BFD Up again", world.up, timeout=30)
    peer = frr.json("show bgp neighbors " + the_lab.spk4)[the_lab.spk4]
    assert peer["peerBfdInfo"]["status"] == "Up"
