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

import functools
import os
import signal
import socket
import time
from collections.abc import Iterator
from ipaddress import IPv6Address

import pytest

from gateway.node.app import RENEW_TIMEOUT
from services.l2.core.frames import (
    NeighborAdvertisement,
    NeighborSolicitation,
    decode_frame,
    parse_mac,
)
from services.l2.core.resume import DEFAULT_RESUME_TIMING
from tests.conftest import require_binary, require_root
from tests.e2e.failover_lab import NODES, VIP6, FailoverLab, failover_lab
from tests.e2e.lab import LINK, wait_for
from tests.l2.lab import netns

FAILOVER_BOUND = 1.0
FENCE_BOUND = 0.15 + 2 * RENEW_TIMEOUT + 0.5
# Planned hand-offs of each kind per test. The old owner answers until it sees the new owner's
# gratuitous ARP / unsolicited NA (reported by its L2 service), and 0.1 s later (AFTER_SEEN) a
# pass of its node role withdraws the address; the fixed hand-off delay (1 s) is the fallback.
HANDOFFS = 3
HANDOFF_FALLBACK = 1.0
OVERLAP_BOUND = 0.5


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
    moved = functools.partial(lab.answered_by_another, family, owner, "echo")
    wait_for(f"IPv{family} echo replies from another node", moved, FAILOVER_BOUND + 1.0, 0.02)
    silence = prober.silence_after(family, since, time.monotonic(), "echo")
    assert silence <= FAILOVER_BOUND, f"no IPv{family} echo reply for {silence:.3f} s"


# A source address of the client's NUD probe that the prober never uses, so its answer is told
# apart from the answers to the prober's multicast NS.
NUD_SOURCE = IPv6Address("fe80::7e7e")


def nud_answered(lab: FailoverLab, node: str, within: float = 1.0) -> float:
    """Send the client's neighbour-unreachability probe (RFC 4861 §7.3.3: a unicast NS for the
    service's IPv6 address to `node`'s MAC) every 50 ms until `node` answers it with a solicited
    NA; how long that took."""
    me = parse_mac(lab.macs["client"])
    mac = parse_mac(lab.macs[node])
    probe = NeighborSolicitation(mac, me, NUD_SOURCE, IPv6Address(VIP6), IPv6Address(VIP6), me)
    with netns(lab.lab.ns("client")):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86DD))
    with sock:
        sock.bind((LINK, 0))
        sock.settimeout(0.05)
        start = time.monotonic()
        while time.monotonic() - start < within:
            sock.send(probe.encode())
            try:
                while True:
                    frame = decode_frame(sock.recv(2048))
                    if (
                        isinstance(frame, NeighborAdvertisement)
                        and frame.solicited
                        and frame.ip_dst == NUD_SOURCE
                        and frame.target == IPv6Address(VIP6)
                        and frame.eth_src == mac
                    ):
                        return time.monotonic() - start
            except (TimeoutError, ValueError):
                continue
    raise AssertionError(f"{node} did not answer a unicast NS to its MAC within {within} s")


@pytest.mark.parametrize("family", [4, 6])
def test_a_killed_owner_is_replaced_within_the_bound(lab: FailoverLab, family: int) -> None:
    prober = lab.prober
    assert prober is not None
    owner = lab.settle()[family]
    killed_at = time.monotonic()
    lab.kill(owner)  # every process of the node: BFD, L2 and the node role
    after = wait_for(
        "another node to answer",
        functools.partial(lab.answered_by_another, family, owner),
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
        # and the client's NUD probes, now sent to the new owner's MAC, are answered
        assert nud_answered(lab, after) < 1.0
    lab.restart(owner)
    lab.settle()


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("fault", ["link", "stop"])
def test_a_cut_or_frozen_owner_is_replaced_within_the_bound(
    lab: FailoverLab, fault: str, family: int
) -> None:
    prober = lab.prober
    assert prober is not None
    owner = lab.settle()[family]
    start = time.monotonic()
    if fault == "link":
        lab.link(owner, up=False)  # its bridge port down
    else:
        lab.signal(owner, signal.SIGSTOP)  # every process of the node frozen
    try:
        another = functools.partial(lab.answered_by_another, family, owner)
        wait_for("another node to answer", another, 10, 0.02)
        time.sleep(0.3)  # real time on the wire: the answers after the takeover
        silence = prober.silence_after(family, start, time.monotonic())
        assert silence <= FAILOVER_BOUND, f"no IPv{family} answer for {silence:.3f} s ({fault})"
        echo_resumes(lab, family, owner, start)
    finally:
        if fault == "link":
            lab.link(owner, up=True)
        else:
            lab.signal(owner, signal.SIGCONT)
    lab.settle(quiet=5.0)  # it comes back: Up again, the hold, the hand-off


# Peers count a node back in only once its BFD sessions are Up again (slow start: about 1 s
# after it resumes) and have stayed Up for the 2 s rejoin hold: until then the addresses it owned
# belong to the node that took over, and the resumed node must answer for none of them.
BEFORE_HAND_BACK = 1.9


def test_a_resumed_owner_never_answers_beside_the_node_that_took_over(lab: FailoverLab) -> None:
    prober = lab.prober
    assert prober is not None
    owners = lab.settle()
    owner = owners[4]
    mac = lab.macs[owner]
    lab.signal(owner, signal.SIGSTOP)  # every process of the node frozen
    try:
        another = functools.partial(lab.answered_by_another, 4, owner)
        wait_for("another node to answer", another, 10, 0.02)
        # Real time: frozen a while longer, so probes queue up in its sockets (seconds old
        # when it resumes) and its BFD sessions time out on both sides.
        time.sleep(1.0)
    finally:
        resumed = time.monotonic()
        lab.signal(owner, signal.SIGCONT)
    time.sleep(BEFORE_HAND_BACK)  # real time on the wire: what the client hears meanwhile
    end = resumed + BEFORE_HAND_BACK
    for family in (4, 6):
        doubles = prober.double_answers(family, resumed, end)
        stale = len([h for h in prober.answers(family, resumed, end) if h.mac == mac])
        assert (doubles, stale) == (0, 0), (
            f"IPv{family}: {doubles} probe intervals answered by two MACs, {stale} answers "
            f"from the resumed {owner} before the others counted it in again"
        )
    lab.settle(quiet=5.0)


@pytest.mark.parametrize("process", ["role", "l2"])
def test_one_frozen_process_of_the_owner_moves_nothing(lab: FailoverLab, process: str) -> None:
    """Each service survives the freeze of any other: with its BFD service running, the owner
    stays counted in by its peers, so nobody takes over. A frozen node role notices the gap in
    its clock, finds its sessions Up and keeps its set; a frozen L2 service holds its answers
    after the gap until a confirmation that does not come, then answers again (`hold_max`), and
    never answers the requests queued while it was frozen (it did before: a burst of a second's
    worth of answers). The role variant guards the node role's freeze detection: it must not
    withdraw anything when its sessions stay Up."""
    prober = lab.prober
    assert prober is not None
    owner = lab.settle()[4]
    popen = lab.lab.procs[f"{owner}-{process}"].popen
    assert popen is not None
    start = time.monotonic()
    os.killpg(popen.pid, signal.SIGSTOP)  # its process group: `timeout` runs it
    try:
        time.sleep(1.0)  # real time: the freeze itself
    finally:
        resumed = time.monotonic()  # (before: the resumed process may answer at once)
        os.killpg(popen.pid, signal.SIGCONT)
    back = resumed + (DEFAULT_RESUME_TIMING.hold_max if process == "l2" else 0.0)
    wait_for("the owner to answer", lambda: lab.node_of(prober.owner(4, 0.05)) == owner, 10)
    answered = time.monotonic()
    time.sleep(1.0)  # real time: it goes on answering
    end = time.monotonic()
    for family in (4, 6):
        owners = [lab.node_of(mac) for mac in prober.owners(family, start, end)]
        roles = lab.lab.logs(*(f"{n}-role" for n in NODES))
        assert len(owners) == 1, f"IPv{family}: the owner changed: {owners[:6]}\n{roles}"
        # No more answers right after the resume than probes sent then: no stale burst.
        answers = len(prober.answers(family, resumed, resumed + 0.5))
        probes = len([t for t in list(prober.sent) if resumed - 0.1 <= t < resumed + 0.5])
        assert answers <= probes, f"IPv{family}: {answers} answers to {probes} probes"
    assert answered - back <= FAILOVER_BOUND
    if process == "role":  # the L2 service answered all along
        assert prober.lost_probes(4, start, end) == 0
    lab.settle()


def test_an_api_outage_moves_nothing_until_an_owner_dies(lab: FailoverLab) -> None:
    """The API server away for longer than a Lease duration: with every node healthy nothing is
    withdrawn and nothing moves (Leases alone would have withdrawn everything); then the owner
    of the IPv4 address is killed while the API server is still away, and BFD alone moves its
    addresses within the bound (membership follows BFD during the outage: the Lease verdicts
    frozen at its start do not keep a dead node in)."""
    prober = lab.prober
    assert prober is not None
    owners = lab.settle()
    owner = owners[4]
    start = time.monotonic()
    lab.api_link(up=False)
    try:
        # Longer than a Lease duration (15 s): Leases alone would have withdrawn everything.
        time.sleep(20)  # real time: the outage itself
        killed_at = time.monotonic()
        for family, node in owners.items():
            assert prober.owners(family, start, killed_at) == [lab.macs[node]]
            assert prober.longest_silence(family, start, killed_at) < 0.2
            assert prober.double_answers(family, start, killed_at) == 0
        lab.kill(owner)
        for family in [f for f, node in owners.items() if node == owner]:
            another = functools.partial(lab.answered_by_another, family, owner)
            wait_for(f"another node to answer for the IPv{family} address", another, 10, 0.02)
        time.sleep(0.3)  # real time on the wire: the answers after the takeover
        for family in [f for f, node in owners.items() if node == owner]:
            silence = prober.silence_after(family, killed_at, time.monotonic())
            assert silence <= FAILOVER_BOUND, (
                f"IPv{family}: no answer for {silence:.3f} s after {owner} died, API server away"
            )
        end = time.monotonic()
        for family, node in owners.items():
            if node != owner:  # the other address stays where it was
                assert prober.owners(family, start, end) == [lab.macs[node]]
    finally:
        lab.api_link(up=True)
    lab.restart(owner)
    lab.settle()


@pytest.mark.parametrize("kind", ["sigterm", "exclude", "selector"])
def test_a_planned_hand_off_loses_no_probe(lab: FailoverLab, kind: str) -> None:
    """The owner's node role stopped (SIGTERM), the owner excluded with the label, or the
    L2Advertisement's selectors changed to leave it out: HANDOFFS times each, not one probe of
    either address unanswered, and the old owner stops once it has seen the new one announce."""
    prober = lab.prober
    assert prober is not None
    for _ in range(HANDOFFS):
        owners = lab.settle()
        owner = owners[4]
        moved = [family for family, node in owners.items() if node == owner]
        start = time.monotonic()
        lab.hand_off(kind, owner)
        moved_away = functools.partial(lambda old: lab.node_of(prober.owner(4)) != old, owner)
        wait_for("another node to answer", moved_away, 10)
        time.sleep(HANDOFF_FALLBACK + 0.5)  # real time: past the longest the old one may answer
        end = time.monotonic()
        for family in (4, 6):
            assert prober.lost_probes(family, start, end) == 0, f"IPv{family}, {kind}"
        for family in moved:
            both = prober.overlap(family, start, end, lab.macs[owner])
            assert both <= OVERLAP_BOUND, f"IPv{family}: both answered for {both:.3f} s"
            assert prober.answers(family, start, end)[-1].mac != lab.macs[owner]
        lab.take_back(kind, owner)
    lab.settle()


def test_an_isolated_owner_stops_answering_within_the_fence_bound(lab: FailoverLab) -> None:
    owner = lab.settle()[4]
    assert lab.announced(owner)
    cut_at = time.monotonic()
    lab.link(owner, up=False)  # its peers and the API server are behind that link
    try:
        wait_for("the isolated owner to withdraw", lambda: not lab.announced(owner), 10, 0.02)
        fenced_after = time.monotonic() - cut_at
        assert fenced_after <= FENCE_BOUND
        # The others took the address over meanwhile.
        prober = lab.prober
        assert prober is not None
        wait_for("another owner", lambda: lab.node_of(prober.owner(4)) not in (None, owner), 5)
    finally:
        lab.link(owner, up=True)
    lab.settle()
