"""The solicited-node group through a bridge that snoops MLD and is itself the querier (issue 13).

A switch with MLD snooping forwards a Neighbor Solicitation for a solicited-node group
(RFC 4291 §2.7.1) only to the ports that reported the group, and forgets a port's group when no
report came for one membership interval (RFC 3810 §9.4, the bridge's
`mcast_membership_interval`). So the node must keep reporting the groups of the addresses it
answers for: when the querier asks, after its link went down and up, and after it lost carrier.

```
 node namespace                 peer namespace
 metallb-grpc l2
 ens4 --------------------- s4 ┐
                               brq (mcast_snooping 1, mcast_querier 1, short timers)
                 pq (client) - ps ┘
```

The client is ndisc6 on `pq`, whose solicitations go to the solicited-node group (a multicast
destination), through the bridge port `ps`. A raw socket on `ens4` in the node namespace sees
what the bridge delivered to the node.
"""

import select
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from ipaddress import IPv6Address

import pytest

from services.l2.core.frames import NeighborSolicitation, decode_frame
from tests.conftest import require_binary
from tests.l2.lab import L2Process, Lab, netns, raw_socket
from tests.l2.test_service import Run, set_announcements, spec

VIP = "fd77:4::70"  # announced; its group is ff02::1:ff00:70
UNJOINED = "fd77:4::99"  # nobody announces it; its group ff02::1:ff00:99 is added by hand
# The bridge's timers for the tests of queries (seconds): a query every second, answered within
# half a second, and a group forgotten after three seconds without a report.
QUERY, RESPONSE, MEMBERSHIP = 1.0, 0.5, 3.0
# The Linux bridge's defaults (query interval 125 s, query response interval 10 s, membership
# 260 s): after a port regains carrier the bridge queries it, and a host answers a query after a
# random delay of up to 10 s.
DEFAULTS = (125.0, 10.0, 260.0)
MLD_QUERY = 130
SO_RCVBUFFORCE = 33  # ICMPv6 type (RFC 2710 §3.6, RFC 3810 §5.1)


def timers(lab: Lab, query: float, response: float, membership: float) -> None:
    """Set the bridge's MLD timers (iproute2 takes them in hundredths of a second)."""
    lab.ip(
        lab.peer, "link", "set", "brq", "type", "bridge",
        "mcast_query_interval", str(round(query * 100)),
        "mcast_query_response_interval", str(round(response * 100)),
        "mcast_membership_interval", str(round(membership * 100)),
        "mcast_startup_query_interval", str(max(100, round(query * 100))),
    )  # fmt: skip


@pytest.fixture(scope="module")
def snooping(lab: Lab) -> Iterator[Lab]:
    """The snooping bridge of the picture, with the query timers above."""
    peer = lab.peer
    lab.ip(peer, "link", "add", "brq", "type", "bridge", "mcast_snooping", "1")
    timers(lab, QUERY, RESPONSE, MEMBERSHIP)
    lab.veth("ens4", "s4")
    lab.ip(peer, "link", "add", "ps", "type", "veth", "peer", "pq")
    for port in ("s4", "ps"):
        lab.ip(peer, "link", "set", port, "master", "brq")
        lab.ip(peer, "link", "set", port, "up")
    lab.ip(peer, "link", "set", "brq", "up")  # its link-local is the queries' source (no DAD)
    lab.ip(peer, "link", "set", "pq", "up")
    lab.ip(peer, "addr", "add", "fd77:4::100/64", "dev", "pq")
    # The querier last, with the timers set: a bridge that has just become the querier still
    # floods groups it has no entry for during one query response interval (hosts have not
    # answered yet); after that a solicitation for a group nobody reported reaches nobody.
    lab.ip(peer, "link", "set", "brq", "type", "bridge", "mcast_querier", "1")
    wait_until("the bridge filtering unreported groups", lambda: not delivered(lab, UNJOINED), 5)
    try:
        yield lab
    finally:
        lab.ip(lab.node, "link", "del", "ens4")
        lab.ip(peer, "link", "del", "ps")
        lab.ip(peer, "link", "del", "brq")


def mdb(lab: Lab) -> str:
    return lab.run(lab.peer, require_binary("bridge"), "mdb", "show").stdout


def group_on_port(lab: Lab, group: str) -> bool:
    return any(f"port s4 grp {group} " in line for line in mdb(lab).splitlines())


def answered(lab: Lab, ip: str, wait_ms: int = 300, tries: int = 2) -> bool:
    """ndisc6 from the client: a solicitation to the solicited-node group of `ip` answered."""
    probe = subprocess.run(
        ["ip", "netns", "exec", lab.peer, require_binary("ndisc6"), "-1",
         "-r", str(tries), "-w", str(wait_ms), ip, "pq"],
        capture_output=True, text=True, timeout=10, check=False,
    )  # fmt: skip
    return probe.returncode == 0


def wait_until(what: str, predicate: Callable[[], bool], timeout: float) -> float:
    """Poll `predicate` until true; the seconds it took."""
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout, f"{what}: not within {timeout} s"
        time.sleep(0.05)  # real time: the bridge's timers and the kernel's reports
    return time.monotonic() - start


def answered_throughout(lab: Lab, seconds: float) -> list[float]:
    """Solicit the VIP for `seconds`; the times (from the start) of the unanswered ones."""
    start = time.monotonic()
    missed = []
    while (now := time.monotonic() - start) < seconds:
        if not answered(lab, VIP):
            missed.append(round(now, 2))
    return missed


@contextmanager
def capture(lab: Lab) -> Iterator[list[bytes]]:
    """Every frame the bridge delivers to the node's ens4 while the block runs (and 0.2 s
    after: frames still on their way)."""
    with netns(lab.node):
        sock = raw_socket("ens4")
    sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)  # read after the block
    frames: list[bytes] = []
    try:
        yield frames
        end = time.monotonic() + 0.2
        while select.select([sock], [], [], max(0.0, end - time.monotonic()))[0]:
            frames.append(sock.recv(2048))
    finally:
        sock.close()


def delivered(lab: Lab, ip: str) -> bool:
    """Whether a solicitation from the client for `ip` reaches the node's link."""
    with capture(lab) as frames:
        answered(lab, ip, wait_ms=100, tries=1)
    return solicitations_for(frames, ip) > 0


def solicitations_for(frames: list[bytes], ip: str) -> int:
    target = IPv6Address(ip)
    count = 0
    for data in frames:
        try:
            frame = decode_frame(data)
        except Exception:  # not ARP or NDP (MLD, other traffic)
            continue
        if isinstance(frame, NeighborSolicitation) and frame.target == target:
            count += 1
    return count


def mld_queries(frames: list[bytes]) -> int:
    """General and group-specific MLD queries among `frames` (behind the Router Alert
    hop-by-hop header, RFC 2711, as MLD messages are sent)."""
    count = 0
    for data in frames:
        if data[12:14] != b"\x86\xdd" or len(data) < 64:
            continue
        next_header, offset = data[20], 54
        if next_header == 0:  # hop-by-hop options
            next_header, offset = data[54], 54 + (data[55] + 1) * 8
        if next_header == 58 and len(data) > offset and data[offset] == MLD_QUERY:
            count += 1
    return count


def announce(arun: Run, l2: L2Process, *ips: str) -> None:
    def answering() -> bool:
        response = arun(set_announcements(l2, *(spec(ip, "ens4") for ip in ips)))
        return all(a.answering_on for a in response.announcements)

    wait_until("ens4 eligible for NDP", answering, 5)


def test_the_bridge_forgets_a_group_its_port_stops_reporting(snooping: Lab) -> None:
    """The premise of the tests below: a group entry that no report refreshes is gone after a
    membership interval, and a solicitation for it no longer reaches the node."""
    lab = snooping
    timers(lab, QUERY, RESPONSE, MEMBERSHIP)
    lab.run(lab.peer, require_binary("bridge"), "mdb", "add", "dev", "brq", "port", "s4",
            "grp", "ff02::1:ff00:99", "temp")  # fmt: skip  # as if a report had come
    assert delivered(lab, UNJOINED)  # (nobody answers it)
    wait_until("the unreported group forgotten",
               lambda: not group_on_port(lab, "ff02::1:ff00:99"), 2 * MEMBERSHIP)  # fmt: skip
    assert not delivered(lab, UNJOINED)


def test_the_group_stays_joined_across_mld_queries_and_is_left_on_withdraw(
    arun: Run, snooping: Lab, l2: L2Process
) -> None:
    lab = snooping
    timers(lab, QUERY, RESPONSE, MEMBERSHIP)
    announce(arun, l2, VIP)
    wait_until("our group reported", lambda: group_on_port(lab, "ff02::1:ff00:70"), 5)
    with capture(lab) as frames:
        missed = answered_throughout(lab, 4 * MEMBERSHIP)
    assert missed == [], f"unanswered at {missed} s"
    assert mld_queries(frames) >= 4 * MEMBERSHIP / QUERY - 2  # the querier did ask
    assert "temp" in next(line for line in mdb(lab).splitlines() if "ff00:70" in line).split()
    # Withdrawn: the group is left, the bridge forgets it, and solicitations stop reaching the
    # node (what a failure to keep the group would look like to the client).
    arun(set_announcements(l2))
    wait_until("our group forgotten", lambda: not group_on_port(lab, "ff02::1:ff00:70"),
               2 * MEMBERSHIP)  # fmt: skip
    assert not delivered(lab, VIP)


def back(lab: Lab) -> bool:
    """The link is back at both ends: the bridge port forwards, and the node's link runs with
    its link-local address (Linux may take up to a second for either: linkwatch)."""
    port = lab.run(lab.peer, require_binary("bridge"), "link", "show", "dev", "s4").stdout
    node = lab.ip(lab.node, "link", "show", "dev", "ens4")
    link_local = lab.ip(lab.node, "-6", "addr", "show", "dev", "ens4", "scope", "link")
    return "state forwarding" in port and "state UP" in node and "fe80::" in link_local


@pytest.mark.parametrize("flap", ["node link down and up", "switch port down and up"])
def test_the_group_is_reported_again_when_the_link_comes_back(
    arun: Run, snooping: Lab, l2: L2Process, flap: str
) -> None:
    """The bridge forgets the groups of a port that loses its link, and queries the port when
    it is back; a host answers that query after a random delay of up to the query response
    interval (10 s with the bridge's defaults, used here). Answered within a second of the
    link being back means the node reported its groups itself. The node's link goes
    down (its groups are left with its link-local address) or keeps IFF_UP while the switch
    port goes down (carrier only: a cable, a switch reboot; a flap shorter than the kernel's
    1 s link-event delay shows in no flag)."""
    lab = snooping
    timers(lab, *DEFAULTS)
    ns, ifname = (lab.node, "ens4") if flap.startswith("node") else (lab.peer, "s4")
    announce(arun, l2, VIP)
    try:
        wait_until("answered", lambda: answered(lab, VIP), 5)
        for _ in range(4):
            lab.ip(ns, "link", "set", ifname, "down")
            wait_until("the group flushed", lambda: not group_on_port(lab, "ff02::1:ff00:70"), 5)
            lab.ip(ns, "link", "set", ifname, "up")
            wait_until("the link back", lambda: back(lab), 5)
            took = wait_until("answered again", lambda: answered(lab, VIP, 100, 1), 15)
            assert took < 1.0, f"answered {took:.2f} s after the link was back"
    finally:
        arun(set_announcements(l2))
        timers(lab, QUERY, RESPONSE, MEMBERSHIP)
