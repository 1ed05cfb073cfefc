"""Our BFD service against FRR's bfdd and BIRD, in network namespaces.

One lab for the module (~15 s): our `metallb-grpc bfd` process in one namespace, FRR (zebra and
bfdd, as user frr) in a second one, BIRD in a third, veth links between them:

    ours vF  10.77.1.1x  <->  FRR  vU  10.77.1.10x     (one session per address pair)
    ours vB3 10.77.2.11  <->  BIRD vU3 10.77.2.101     300 ms x 3, and fd77:2::11 <-> fd77:2::101
    ours vB5 10.77.3.12  <->  BIRD vU5 10.77.3.102      50 ms x 3

Detection bounds. A silent cut is detected at most one detection time after the last packet,
which arrived before the cut, so Down must be reported within the detection time after the cut;
MARGIN (40 ms) covers starting the `ip` command that cuts (it is timed from before its spawn),
timer and scheduling delay, and the gRPC stream to this process. When our process is frozen,
FRR's view is read by polling vtysh, which adds its own period (POLL_MARGIN).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from metallb.bfd.v1 import bfd_pb2
from tests.bfd.lab import Bird, Frr, Lab, Ours, Watch, frr_profile, require_lab, wait_for
from tests.bfd.lab import ms as as_ms

MARGIN = 0.040
POLL_MARGIN = 0.200
UP = bfd_pb2.STATE_UP
DOWN = bfd_pb2.STATE_DOWN

# (ours, FRR's, FRR profile) — P1 300 ms, P2 50 ms (Poll/Final, cuts), P3 passive, P4 50 ms.
FRR_PAIRS = {
    "p300": ("10.77.1.11", "10.77.1.101"),
    "p50": ("10.77.1.12", "10.77.1.102"),
    "passive": ("10.77.1.13", "10.77.1.103"),
    "freeze": ("10.77.1.14", "10.77.1.104"),
    "multihop": ("10.77.1.15", "10.77.1.105"),
    "echo": ("10.77.1.16", "10.77.1.106"),
}

BIRD_CONF = """
router id 10.77.2.101;
protocol device {{ }}
protocol bfd {{
  interface "vU3" {{ min rx interval 300 ms; min tx interval 300 ms; idle tx interval 1000 ms;
                     multiplier 3; }};
  interface "vU5" {{ min rx interval 50 ms; min tx interval 50 ms; idle tx interval 1000 ms;
                     multiplier 3; }};
  neighbor 10.77.2.11 dev "vU3" local 10.77.2.101;
  neighbor fd77:2::11 dev "vU3" local fd77:2::101;
  neighbor 10.77.3.12 dev "vU5" local 10.77.3.102;
  neighbor 10.77.2.12 local 10.77.2.102 multihop;
{extra}}}
"""


@dataclass
class World:
    lab: Lab
    us: str
    frr_ns: str
    bird_ns: str
    frr: Frr
    bird: Bird
    ours: Ours
    watch: Watch


def frr_config() -> str:
    conf = "bfd\n" + frr_profile("p300", 300, 300) + frr_profile("p50", 50, 50)
    for name in ("p300", "p50", "freeze"):
        ours, theirs = FRR_PAIRS[name]
        profile = "p300" if name == "p300" else "p50"
        conf += f" peer {ours} local-address {theirs} interface vU\n  profile {profile}\n !\n"
    ours, theirs = FRR_PAIRS["multihop"]
    conf += f" peer {ours} multihop local-address {theirs}\n  profile p300\n !\n"
    echo = "  echo-mode\n  echo receive-interval 50\n  echo transmit-interval 50\n"
    conf = conf.replace("bfd\n", "bfd\n" + frr_profile("pecho", 300, 300, extra=echo), 1)
    ours, theirs = FRR_PAIRS["echo"]
    conf += f" peer {ours} local-address {theirs} interface vU\n  profile pecho\n !\n"
    return conf + "!\n"


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    require_lab()
    lab = Lab()
    try:
        us, frr_ns, bird_ns = lab.ns("us"), lab.ns("frr"), lab.ns("bird")
        lab.link(us, "vF", frr_ns, "vU")
        lab.addr(us, "vF", *(f"{a}/24" for a, _ in FRR_PAIRS.values()))
        lab.addr(frr_ns, "vU", *(f"{b}/24" for _, b in FRR_PAIRS.values()))
        lab.link(us, "vB3", bird_ns, "vU3")
        lab.link(us, "vB5", bird_ns, "vU5")
        lab.addr(us, "vB3", "10.77.2.11/24", "10.77.2.12/24", "fd77:2::11/64")
        lab.addr(bird_ns, "vU3", "10.77.2.101/24", "10.77.2.102/24", "fd77:2::101/64")
        lab.addr(us, "vB5", "10.77.3.12/24")
        lab.addr(bird_ns, "vU5", "10.77.3.102/24")
        # Echo packets come back through the peer's forwarding plane (RFC 5881 §4), both ways.
        for ns in (us, frr_ns):
            lab.exec(ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        frr = Frr.start(lab, frr_ns, frr_config())
        bird = Bird.start(lab, bird_ns, BIRD_CONF.format(extra=""))
        ours = Ours.start(lab, us)
        watch = ours.watch()
        for name in ("p300", "p50", "freeze"):
            mine, theirs = FRR_PAIRS[name]
            ms = 300 if name == "p300" else 50
            ours.add(theirs, mine, "vF", receive_interval=as_ms(ms), transmit_interval=as_ms(ms))
        ours.add("10.77.2.101", "10.77.2.11", "vB3")
        ours.add("fd77:2::101", "fd77:2::11", "vB3")
        ours.add(
            "10.77.3.102",
            "10.77.3.12",
            "vB5",
            receive_interval=as_ms(50),
            transmit_interval=as_ms(50),
        )
        yield World(lab, us, frr_ns, bird_ns, frr, bird, ours, watch)
        watch.stop()
        ours.close()
    finally:
        lab.close()


ALL = [
    ("10.77.1.101", "vF", 300),
    ("10.77.1.102", "vF", 50),
    ("10.77.1.104", "vF", 50),
    ("10.77.2.101", "vB3", 300),
    ("fd77:2::101", "vB3", 300),
    ("10.77.3.102", "vB5", 50),
]


def all_up(w: World) -> bool:
    return all(w.ours.state(peer, dev) == UP for peer, dev, _ in ALL)


def wait_down(w: World, t0: float, peer: str, bound: float) -> float:
    wait_for(f"{peer} Down", lambda: w.watch.first_state(t0, peer, DOWN) is not None, 5, 0.002)
    found = w.watch.first_state(t0, peer, DOWN)
    assert found is not None
    elapsed = found[0] - t0
    assert elapsed <= bound, f"{peer}: Down after {elapsed * 1000:.0f} ms > {bound * 1000:.0f} ms"
    return elapsed


def test_sessions_come_up_with_frr_and_bird_at_300_and_50_ms(world: World) -> None:
    wait_for("every session Up", lambda: all_up(world), 15, 0.1)
    for peer, dev, ms in ALL:
        state = world.ours.get(peer, dev).state
        assert state.remote_state == UP
        assert state.transmit_interval == as_ms(ms)
        assert state.detection_time == as_ms(3 * ms)
    frr_view = {p["peer"]: p for p in world.frr.peers()}
    assert frr_view["10.77.1.12"]["status"] == "up"
    assert frr_view["10.77.1.12"]["remote-transmit-interval"] == 50
    assert frr_view["10.77.1.11"]["remote-receive-interval"] == 300
    bird_view = world.bird.birdc("show", "bfd", "sessions")
    assert bird_view.count(" Up ") == 3, bird_view


def test_interval_change_is_negotiated_by_poll_and_final(world: World) -> None:
    wait_for("every session Up", lambda: all_up(world), 15, 0.1)
    for peer, dev, frr_check in (("10.77.1.101", "vF", True), ("10.77.2.101", "vB3", False)):
        before = world.ours.get(peer, dev)
        conf = before.conf
        conf.profile.transmit_interval.FromMilliseconds(200)
        world.ours.stub.UpdateSession(bfd_pb2.UpdateSessionRequest(session=conf), timeout=10)

        def negotiated(peer: str = peer, dev: str = dev) -> bool:
            state = world.ours.get(peer, dev).state
            # The transmit interval in use stays 300 ms: the peer's Required Min RX (§6.8.7).
            return not state.polling and state.local_desired_min_tx == as_ms(200)

        wait_for(f"{peer}: Final", negotiated, 5)
        after = world.ours.get(peer, dev).state
        assert (
            after.counters.poll_sequences_completed > before.state.counters.poll_sequences_completed
        )
        assert after.transmit_interval == as_ms(300)
        assert after.local_state == UP  # no flap
        if frr_check:
            wait_for(
                "FRR sees 200 ms",
                lambda: (
                    world.frr.peer("10.77.1.11", "10.77.1.101")["remote-transmit-interval"]  # type: ignore[index]
                    == 200
                ),
                5,
            )
        else:
            assert "10.77.2.11" in world.bird.birdc("show", "bfd", "sessions")
        conf.profile.transmit_interval.FromMilliseconds(300)
        world.ours.stub.UpdateSession(bfd_pb2.UpdateSessionRequest(session=conf), timeout=10)


def test_link_cut_is_detected_within_the_detection_time(world: World) -> None:
    wait_for("every session Up", lambda: all_up(world), 15, 0.1)
    t0 = time.monotonic()
    world.lab.exec(world.frr_ns, "ip", "link", "set", "vU", "down")
    world.lab.exec(world.bird_ns, "ip", "link", "set", "vU5", "down")
    try:
        fast = wait_down(world, t0, "10.77.1.102", 0.150 + MARGIN)
        # The BIRD link went down a few ms later than the FRR one: still within the margin.
        bird = wait_down(world, t0, "10.77.3.102", 0.150 + MARGIN)
        slow = wait_down(world, t0, "10.77.1.101", 0.900 + MARGIN)
        diag = world.ours.get("10.77.1.102", "vF").state.local_diagnostic
        assert diag == bfd_pb2.DIAGNOSTIC_CONTROL_DETECTION_TIME_EXPIRED
        print(f"link cut: Down after {fast * 1e3:.0f} / {bird * 1e3:.0f} / {slow * 1e3:.0f} ms")
    finally:
        world.lab.exec(world.frr_ns, "ip", "link", "set", "vU", "up")
        world.lab.exec(world.bird_ns, "ip", "link", "set", "vU5", "up")
    wait_for("every session Up again", lambda: all_up(world), 15, 0.1)


def test_frozen_peer_is_detected_within_the_detection_time(world: World) -> None:
    wait_for("every session Up", lambda: all_up(world), 15, 0.1)
    frr_pid, bird_pid = world.frr.bfdd_pid(), world.bird.pid()
    t0 = time.monotonic()
    os.kill(frr_pid, signal.SIGSTOP)
    os.kill(bird_pid, signal.SIGSTOP)
    try:
        wait_down(world, t0, "10.77.1.104", 0.150 + MARGIN)
        wait_down(world, t0, "10.77.3.102", 0.150 + MARGIN)
    finally:
        os.kill(frr_pid, signal.SIGCONT)
        os.kill(bird_pid, signal.SIGCONT)
    wait_for("every session Up again", lambda: all_up(world), 15, 0.1)


def test_peers_detect_our_frozen_process(world: World) -> None:
    wait_for("every session Up", lambda: all_up(world), 15, 0.1)

    seen: list[dict[str, object]] = []

    def frr_down() -> bool:
        peer = world.frr.peer("10.77.1.14", "10.77.1.104")
        if peer is not None and peer["status"] == "down":
            seen.append(peer)
        return bool(seen)

    def bird_down() -> bool:
        for line in world.bird.birdc("show", "bfd", "sessions").splitlines():
            if line.startswith("10.77.3.12 "):
                return " Up " not in line
        return False

    pid = world.ours.pid()
    t0 = time.monotonic()
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_for("FRR sees us Down", frr_down, 5, 0.01)
        frr_at = time.monotonic() - t0
        wait_for("BIRD sees us Down", bird_down, 5, 0.01)
        bird_at = time.monotonic() - t0
    finally:
        os.kill(pid, signal.SIGCONT)
    print(f"peers saw us Down after: FRR {frr_at * 1e3:.0f} ms, BIRD {bird_at * 1e3:.0f} ms")
    assert frr_at <= 0.150 + POLL_MARGIN
    assert bird_at <= 0.150 + 2 * POLL_MARGIN  # polled after FRR
    assert seen[0]["diagnostic"] == "control detection time expired"
    wait_for("every session Up again", lambda: all_up(world), 15, 0.1)


def test_passive_session_waits_for_the_peer(world: World) -> None:
    mine, theirs = FRR_PAIRS["passive"]
    world.ours.add(theirs, mine, "vF", passive_mode=True)
    time.sleep(2.5)  # an active session would have sent two or three slow packets by now
    state = world.ours.get(theirs, "vF").state
    assert state.counters.control_packets_out == 0
    assert state.local_state == DOWN
    world.frr.configure(f"peer {mine} local-address {theirs} interface vU", "profile p300")
    wait_for("passive session Up", lambda: world.ours.state(theirs, "vF") == UP, 10)
    assert world.ours.get(theirs, "vF").state.counters.control_packets_out > 0


CRAFT = """
import socket, struct, sys
src, dst = sys.argv[1], sys.argv[2]
ttl, my, your = (int(x) for x in sys.argv[3:6])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
s.bind((src, 49999))
# Version 1, State Down (would take an Up session Down), Detect Mult 3, Length 24.
s.sendto(struct.pack("!BBBBIIIII", 0x20, 0x40, 3, 24, my, your, 300000, 300000, 0), (dst, 3784))
"""


def test_single_hop_packet_with_ttl_below_255_is_dropped(world: World) -> None:
    wait_for("every session Up", lambda: all_up(world), 15, 0.1)
    mine, theirs = FRR_PAIRS["p300"]
    before = world.ours.get(theirs, "vF").state
    for ttl in (254, 64):
        world.lab.exec(
            world.frr_ns,
            sys.executable,
            "-c",
            CRAFT,
            theirs,
            mine,
            str(ttl),
            str(before.remote_discriminator),
            str(before.local_discriminator),
        )

    def dropped() -> bool:
        drops = world.ours.get(theirs, "vF").state.counters.drops
        return drops.get("ttl_not_255", 0) >= before.counters.drops.get("ttl_not_255", 0) + 2

    wait_for("two ttl_not_255 drops", dropped, 5)
    after = world.ours.get(theirs, "vF").state
    assert after.local_state == UP
    assert after.counters.down_transitions == before.counters.down_transitions


def test_frr_view_is_json(world: World) -> None:
    """Sanity of the lab itself: vtysh answers JSON for every FRR peer we configured."""
    peers = json.loads(world.frr.vtysh("show bfd peers json"))
    assert {p["peer"] for p in peers} >= {"10.77.1.11", "10.77.1.12", "10.77.1.14"}
    pids = subprocess.run(["ip", "netns", "pids", world.us], capture_output=True, check=True)
    assert str(world.ours.pid()).encode() in pids.stdout.split()


def test_multihop_sessions_with_frr_and_birds_ttl_64(world: World) -> None:
    """RFC 5883 on UDP 4784. FRR sends TTL 255 and passes our default minimum TTL (254); BIRD
    sends TTL 64 (tests/bfd/golden/README.md), so MetalLB's default drops it until the profile
    lowers minimumTtl."""
    mine, theirs = FRR_PAIRS["multihop"]
    world.ours.add(theirs, mine, multihop=True)
    wait_for("FRR multihop Up", lambda: world.ours.state(theirs) == UP, 10)
    frr_peer = world.frr.peer(mine, theirs)
    assert frr_peer is not None and frr_peer["multihop"] and frr_peer["status"] == "up"

    added = world.ours.add("10.77.2.102", "10.77.2.12", multihop=True)
    assert added.conf.profile.minimum_ttl == 254

    def ttl_drops() -> int:
        drops = world.ours.get("10.77.2.102").state.counters.drops
        return drops.get("ttl_below_minimum", 0)

    wait_for("BIRD's TTL-64 packets dropped", lambda: ttl_drops() >= 1, 10)
    assert world.ours.state("10.77.2.102") != UP
    conf = added.conf
    conf.profile.minimum_ttl = 64
    world.ours.stub.UpdateSession(bfd_pb2.UpdateSessionRequest(session=conf), timeout=10)
    wait_for("BIRD multihop Up", lambda: world.ours.state("10.77.2.102") == UP, 10)


def test_echo_function_with_frr_and_its_failure(world: World) -> None:
    """RFC 5880 §6.4 / RFC 5881 §4: our echoes loop through FRR's forwarding plane (and FRR's
    through ours); when FRR stops forwarding, the echo function fails (diag 2) within DetectMult
    echo intervals although control packets still flow."""
    mine, theirs = FRR_PAIRS["echo"]
    world.ours.add(theirs, mine, "vF", echo_mode=True, echo_interval=as_ms(50))
    wait_for("echo session Up", lambda: world.ours.state(theirs, "vF") == UP, 10)

    def echoing() -> bool:
        state = world.ours.get(theirs, "vF").state
        return state.echo_active and state.counters.echo_packets_in >= 20

    wait_for("echo packets looped back by FRR", echoing, 10)
    state = world.ours.get(theirs, "vF").state
    assert state.counters.down_transitions == 0
    assert 0 < state.echo_rtt.ToMicroseconds() < 50_000
    frr_peer = world.frr.peer(mine, theirs)
    assert frr_peer is not None and frr_peer["status"] == "up"
    assert frr_peer["echo-transmit-interval"] == 50  # FRR's own echo runs through our kernel

    t0 = time.monotonic()
    world.lab.exec(world.frr_ns, "sysctl", "-qw", "net.ipv4.ip_forward=0")
    try:
        wait_down(world, t0, theirs, 0.150 + MARGIN)
        found = world.watch.first_state(t0, theirs, DOWN)
        assert found is not None
        assert found[1].transition.diagnostic == bfd_pb2.DIAGNOSTIC_ECHO_FUNCTION_FAILED
        assert found[1].transition.reason == bfd_pb2.TRANSITION_REASON_ECHO_FAILED
    finally:
        world.lab.exec(world.frr_ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    wait_for("echo session Up again", lambda: world.ours.state(theirs, "vF") == UP, 10)
