"""L2 failover with real processes (tests/e2e/failover_lab.py has the picture): three nodes, each
running the BFD service, the L2 service and the node role against the fake API server, and a
client probing both service addresses (ARP for IPv4, Neighbor Solicitation for IPv6, and ICMP
echo to each, which every node accepts as kube-proxy would) every 10 ms.
The tests run in file order over one lab; each leaves every node running and the addresses
settled.

Bounds asserted (gateway/node/membership.py): with BFD at 50 ms × 3, a dead owner's address is
answered again within FAILOVER_BOUND (a detection time, 150 ms, plus one pass of the next node;
the bound leaves room for a loaded 2-core machine); an isolated owner withdraws within
FENCE_BOUND (detection, then one renewal of two requests of RENEW_TIMEOUT each, then one pass).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import grpc
import pytest

from gateway.node.app import RENEW_TIMEOUT
from metallb.l2.v1 import l2_pb2, l2_pb2_grpc
from tests.conftest import require_binary, require_root
from tests.e2e.failover_lab import NODES, FailoverLab, failover_lab
from tests.e2e.lab import wait_for

FAILOVER_BOUND = 1.0
FENCE_BOUND = 0.15 + 2 * RENEW_TIMEOUT + 0.5
# A hand-off loses no probe (bench/failover.py counts them); on a loaded machine an answer can
# come after the next probe left, so a test tolerates that much. Break before make would lose
# 5 to 10 (an AdminDown reaches the peers at their next packet, 50 ms, then a pass).
JITTER_PROBES = 2


@pytest.fixture(scope="module")
def lab() -> Iterator[FailoverLab]:
    require_root("network namespaces and raw sockets")
    for tool in ("ip", "timeout"):
        require_binary(tool)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # a CI timeout still cleans up
    try:
        with failover_lab() as built:
            built.settle()
            yield built
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt(f"signal {signum}")


def echo_resumes(lab: FailoverLab, family: int, owner: str, since: float) -> None:
    """The client's ICMP echo requests (to the address, through its kernel's neighbour cache)
    are answered by another node than `owner` within the bound, and were never unanswered for
    longer: the gratuitous ARP / unsolicited NA moved the client's traffic to a node that
    accepts it (kube-proxy-like, tests/e2e/failover_lab.py)."""
    prober = lab.prober
    assert prober is not None

    def moved() -> bool:
        node = lab.node_of(prober.owner(family, 0.05, kind="echo"))
        return node is not None and node != owner

    wait_for(f"IPv{family} echo replies from another node", moved, FAILOVER_BOUND + 1.0, 0.02)
    silence = prober.silence_after(family, since, time.monotonic(), "echo")
    assert silence <= FAILOVER_BOUND, f"no IPv{family} echo reply for {silence:.3f} s"


def announced(lab: FailoverLab, node: str) -> list[str]:
    with grpc.insecure_channel(f"unix:{lab.run / node / 'l2.sock'}") as channel:
        stub = l2_pb2_grpc.L2ServiceStub(channel)
        reply = stub.ListAnnouncements(l2_pb2.ListAnnouncementsRequest(), timeout=5)
    return sorted(a.ip for a in reply.announcements)


@pytest.mark.parametrize("family", [4, 6])
def test_a_killed_owner_is_replaced_within_the_bound(lab: FailoverLab, family: int) -> None:
    prober = lab.prober
    assert prober is not None
    owner = lab.settle()[family]
    killed_at = time.monotonic()
    lab.kill(owner)  # every process of the node: BFD, L2 and the node role
    after = wait_for(
        "another node to answer",
        lambda: (n := lab.node_of(prober.owner(family, 0.05))) not in (None, owner) and n,
        10,
        0.02,
    )
    time.sleep(0.5)  # real time on the wire: let answers and the NA burst be heard
    silence = prober.silence_after(family, killed_at, time.monotonic())
    assert silence <= FAILOVER_BOUND, f"no answer for {silence:.3f} s after {owner} died"
    echo_resumes(lab, family, owner, killed_at)
    assert after in NODES
    if family == 6:  # the new owner's unsolicited NA (RFC 4861 §7.2.6) right at the takeover
        burst = prober.unsolicited(6, lab.macs[after], killed_at)
        assert burst and burst[0].t - killed_at <= FAILOVER_BOUND
    lab.restart(owner)
    lab.settle()


@pytest.mark.parametrize("fault", ["link", "stop"])
def test_a_cut_or_frozen_owner_is_replaced_within_the_bound(lab: FailoverLab, fault: str) -> None:
    prober = lab.prober
    assert prober is not None
    owner = lab.settle()[4]
    start = time.monotonic()
    if fault == "link":
        lab.link(owner, up=False)  # its bridge port down
    else:
        lab.signal(owner, signal.SIGSTOP)  # every process of the node frozen
    try:
        wait_for(
            "another node to answer",
            lambda: lab.node_of(prober.owner(4, 0.05)) not in (None, owner),
            10,
            0.02,
        )
        time.sleep(0.3)  # real time on the wire: the answers after the takeover
        silence = prober.silence_after(4, start, time.monotonic())
        assert silence <= FAILOVER_BOUND, f"no answer for {silence:.3f} s ({fault})"
        echo_resumes(lab, 4, owner, start)
    finally:
        if fault == "link":
            lab.link(owner, up=True)
        else:
            lab.signal(owner, signal.SIGCONT)
    lab.settle(quiet=5.0)  # it comes back: Up again, the hold, the hand-off


def test_an_excluded_owner_hands_over_without_a_lost_probe(lab: FailoverLab) -> None:
    prober = lab.prober
    assert prober is not None
    owner = lab.settle()[4]
    start = time.monotonic()
    lab.exclude(owner, on=True)
    try:
        wait_for(
            "another node to answer", lambda: lab.node_of(prober.owner(4)) not in (None, owner), 10
        )
        time.sleep(2.0)  # real time: past the 1 s hand-off
        end = time.monotonic()
        for family in (4, 6):
            assert prober.lost_probes(family, start, end) <= JITTER_PROBES, f"IPv{family}"
    finally:
        lab.exclude(owner, on=False)
    lab.settle(quiet=5.0)


def test_an_api_outage_with_healthy_nodes_moves_nothing(lab: FailoverLab) -> None:
    prober = lab.prober
    assert prober is not None
    owners = lab.settle()
    start = time.monotonic()
    lab.api_link(up=False)
    try:
        # Longer than a Lease duration (15 s): Leases alone would have withdrawn everything.
        time.sleep(20)  # real time: the outage itself
    finally:
        lab.api_link(up=True)
    end = time.monotonic()
    for family, owner in owners.items():
        assert prober.owners(family, start, end) == [lab.macs[owner]]
        assert prober.longest_silence(family, start, end) < 0.2
        assert prober.double_answers(family, start, end) == 0
    lab.settle()


def test_a_terminated_owner_hands_over_without_a_lost_probe(lab: FailoverLab) -> None:
    prober = lab.prober
    assert prober is not None
    owner = lab.settle()[4]
    start = time.monotonic()
    role = lab.lab.procs[f"{owner}-role"]
    assert role.popen is not None
    role.popen.send_signal(signal.SIGTERM)  # the node role only: a planned stop
    role.popen.wait(10)
    time.sleep(1.0)  # real time: after the hand-off the new owner answers alone
    end = time.monotonic()
    for family in (4, 6):
        assert prober.lost_probes(family, start, end) <= JITTER_PROBES, f"IPv{family}"
    assert lab.node_of(prober.owner(4)) != owner
    for name in lab.processes(owner):
        lab.lab.stop(name, signal.SIGKILL)
    lab.restart(owner)
    lab.settle()


def test_an_isolated_owner_stops_answering_within_the_fence_bound(lab: FailoverLab) -> None:
    owner = lab.settle()[4]
    assert announced(lab, owner)
    cut_at = time.monotonic()
    lab.link(owner, up=False)  # its peers and the API server are behind that link
    try:
        wait_for("the isolated owner to withdraw", lambda: not announced(lab, owner), 10, 0.02)
        fenced_after = time.monotonic() - cut_at
        assert fenced_after <= FENCE_BOUND
        # The others took the address over meanwhile.
        prober = lab.prober
        assert prober is not None
        wait_for("another owner", lambda: lab.node_of(prober.owner(4)) not in (None, owner), 5)
    finally:
        lab.link(owner, up=True)
    lab.settle()
