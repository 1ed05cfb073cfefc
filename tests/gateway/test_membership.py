"""Membership and fencing (gateway/node/membership.py) as scenario tables on virtual time.

Each row happens at time `t` (seconds of the node's monotonic clock) and is followed by the
expected members among node-a..node-c, as node-a sees them, and whether node-a is fenced.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from gateway.node.membership import Membership, MembershipTiming

NODES = ("node-a", "node-b", "node-c")
TIMING = MembershipTiming(rejoin_hold=2.0, renew_deadline=10.0, resume_settle=0.35)


def lease(renew: str) -> dict[str, object]:
    return {"holderIdentity": "x", "renewTime": renew, "leaseDurationSeconds": 15}


def up(peer: str, session: str = "") -> Callable[[Membership, float], None]:
    return lambda m, t: m.bfd(peer, session or peer, True, t)


def down(peer: str, session: str = "") -> Callable[[Membership, float], None]:
    return lambda m, t: m.bfd(peer, session or peer, False, t)


def leases(*renewals: tuple[str, str]) -> Callable[[Membership, float], None]:
    return lambda m, t: m.leases([(node, lease(r)) for node, r in renewals], t)


def renewed(m: Membership, t: float) -> None:
    m.renewal(True, t)


def unreachable(m: Membership, t: float) -> None:
    m.renewal(False, t, api_reachable=False)


def nothing(m: Membership, t: float) -> None:
    pass


@dataclass(frozen=True)
class Row:
    t: float
    action: Callable[[Membership, float], None]
    live: set[str]
    fenced: bool = False


def play(rows: list[Row]) -> Membership:
    m = Membership("node-a", TIMING)
    for i, row in enumerate(rows):
        row.action(m, row.t)
        got = (m.live(NODES, row.t), m.fenced(row.t))
        assert got == (row.live, row.fenced), f"row {i} at t={row.t}"
        # Invariant: a verdict changes with time only at (or after) the announced deadline.
        deadline = m.next_deadline(row.t)
        assert deadline is None or deadline > row.t
    return m


ALL = {"node-a", "node-b", "node-c"}


def test_bfd_down_is_out_at_once_while_its_lease_is_still_current() -> None:
    play([
        Row(0.0, leases(("node-a", "1"), ("node-b", "1"), ("node-c", "1")), ALL),
        Row(0.5, renewed, ALL),
        Row(1.0, up("node-b"), ALL),
        Row(1.0, up("node-c"), ALL),
        # node-b dies: its Lease is current for 14 more seconds, BFD says Down now.
        Row(3.0, down("node-b"), {"node-a", "node-c"}),
        Row(14.9, nothing, {"node-a", "node-c"}),
    ])  # fmt: skip


def test_without_bfd_the_lease_decides_as_observed() -> None:
    play([
        Row(0.0, leases(("node-b", "1"), ("node-c", "1")), ALL),
        Row(10.0, leases(("node-b", "2"), ("node-c", "1")), ALL),  # only node-b renews
        Row(14.9, nothing, ALL),
        Row(15.0, nothing, {"node-a", "node-b"}),  # node-c: 15 s without a renewal seen
        Row(24.9, nothing, {"node-a", "node-b"}),
        Row(25.0, nothing, {"node-a"}),
    ])  # fmt: skip


def test_a_session_never_up_leaves_the_verdict_to_the_lease() -> None:
    play([
        Row(0.0, leases(("node-b", "1"), ("node-c", "1")), ALL),
        Row(0.1, down("node-b"), ALL),  # a new session, still Down: no verdict yet
        Row(15.0, nothing, {"node-a"}),
    ])  # fmt: skip


def test_an_api_outage_withdraws_nothing_and_bfd_still_removes_a_dead_node() -> None:
    play([
        Row(0.0, leases(("node-b", "1"), ("node-c", "1")), ALL),
        Row(0.0, renewed, ALL),
        Row(1.0, up("node-b"), ALL),
        Row(1.0, up("node-c"), ALL),
        Row(5.0, unreachable, ALL),
        # 60 s without a single Lease change seen: nothing withdrawn, no fencing (BFD is Up).
        Row(60.0, leases(), ALL),
        # node-c dies during the outage: out at once.
        Row(61.0, down("node-c"), {"node-a", "node-b"}),
        # The API is back: the Leases count as renewed now, not 60 s ago.
        Row(65.0, renewed, {"node-a", "node-b"}),
        Row(65.0, leases(("node-b", "1"), ("node-c", "1")), {"node-a", "node-b"}),
        Row(100.0, nothing, {"node-a", "node-b"}),  # node-b: BFD Up
    ])  # fmt: skip


def test_an_api_outage_freezes_the_lease_verdicts_of_nodes_without_bfd() -> None:
    play([
        Row(0.0, leases(("node-b", "1"), ("node-c", "1")), ALL),
        Row(5.0, unreachable, ALL),
        Row(60.0, leases(), ALL),
        Row(65.0, renewed, ALL),
        Row(65.0, leases(("node-b", "1"), ("node-c", "1")), ALL),
        Row(70.0, leases(("node-b", "2"), ("node-c", "1")), ALL),
        Row(79.9, nothing, ALL),
        Row(80.0, nothing, {"node-a", "node-b"}),  # node-c's Lease really stopped changing
    ])  # fmt: skip


def test_a_peer_coming_back_waits_for_the_hold_and_a_flap_restarts_it() -> None:
    play([
        Row(0.0, up("node-b"), {"node-a", "node-b"}),
        Row(1.0, down("node-b"), {"node-a"}),
        Row(2.0, up("node-b"), {"node-a"}),
        Row(3.0, down("node-b"), {"node-a"}),  # flaps
        Row(3.5, up("node-b"), {"node-a"}),
        Row(5.4, nothing, {"node-a"}),
        Row(5.5, nothing, {"node-a", "node-b"}),  # Up for 2 s
    ])  # fmt: skip


def test_a_node_with_several_sessions_is_out_only_when_all_are_down() -> None:
    play([
        Row(0.0, up("node-b", "192.0.2.2"), {"node-a", "node-b"}),
        Row(0.0, up("node-b", "2001:db8::2"), {"node-a", "node-b"}),
        Row(1.0, down("node-b", "192.0.2.2"), {"node-a", "node-b"}),
        Row(2.0, down("node-b", "2001:db8::2"), {"node-a"}),
    ])  # fmt: skip


def test_isolated_from_peers_and_api_fences_after_one_failed_renewal() -> None:
    m = play([
        Row(0.0, renewed, ALL - {"node-b", "node-c"}),
        Row(0.0, up("node-b"), {"node-a", "node-b"}),
        Row(0.0, up("node-c"), ALL),
        Row(3.0, down("node-b"), {"node-a", "node-c"}),
    ])  # fmt: skip
    assert not m.renewal_wanted()
    m.bfd("node-c", "node-c", False, 3.01)
    # BFD to every peer is lost: renew now to find out whether we are the one cut off.
    assert m.renewal_wanted() and not m.fenced(3.01)
    play_on(m, [
        Row(4.01, unreachable, {"node-a"}, fenced=True),  # renewal timed out: stop answering
    ])  # fmt: skip
    assert not m.renewal_wanted()


def play_on(m: Membership, rows: list[Row]) -> None:
    for i, row in enumerate(rows):
        row.action(m, row.t)
        assert (m.live(NODES, row.t), m.fenced(row.t)) == (row.live, row.fenced), f"row {i}"


def test_lost_bfd_with_a_renewable_lease_keeps_answering_as_the_survivor() -> None:
    m = Membership("node-a", TIMING)
    m.renewal(True, 0.0)
    m.bfd("node-b", "b", True, 0.0)
    m.bfd("node-b", "b", False, 1.0)
    assert m.renewal_wanted()
    m.renewal(True, 1.2)
    assert not m.fenced(1.2)
    assert m.live(NODES, 1.2) == {"node-a"}
    # ...until renewals stop succeeding for the renew deadline (one still outstanding).
    assert m.next_deadline(1.2) == 11.2
    assert not m.fenced(11.1)
    assert m.fenced(11.2)


def test_a_fenced_node_answers_again_only_after_the_hold() -> None:
    m = Membership("node-a", TIMING)
    m.renewal(True, 0.0)
    m.bfd("node-b", "b", True, 0.0)
    m.renewal(False, 0.5, api_reachable=False)  # the API went away first: not fenced (BFD Up)
    assert not m.fenced(0.5)
    m.bfd("node-b", "b", False, 1.0)
    assert m.renewal_wanted() and not m.fenced(1.0)  # a failure before the loss says nothing
    m.renewal(False, 1.2, api_reachable=False)
    assert m.fenced(1.2)  # the renewal asked for failed and no peer is left
    m.bfd("node-b", "b", True, 2.0)  # the link is back
    assert m.fenced(3.9)
    assert m.next_deadline(2.0) == 4.0
    m.bfd("node-b", "b", False, 3.0)  # flaps: the hold starts again
    m.bfd("node-b", "b", True, 3.5)
    assert m.fenced(5.4)
    assert not m.fenced(5.5)
    # node-b sees node-a back after the same hold: node-a sees node-b back at the same moment.
    assert m.live(NODES, 5.5) == {"node-a", "node-b"}


def test_a_renewal_failed_before_bfd_was_lost_does_not_fence() -> None:
    """A renewal failed during an API-server outage that has just ended; then both peers'
    sessions go Down (one restarted, one leaving): the node asks for a renewal and keeps
    answering; it succeeds, so the node is the survivor, not the one cut off."""
    m = Membership("node-a", TIMING)
    m.renewal(True, 0.0)
    m.bfd("node-b", "b", True, 0.0)
    m.bfd("node-c", "c", True, 0.0)
    m.renewal(False, 20.0, api_reachable=False)  # the outage: past renew_deadline since 0.0
    m.bfd("node-b", "b", False, 25.0)  # killed, restarting
    m.bfd("node-c", "c", False, 26.0)  # leaving (AdminDown)
    assert m.renewal_wanted()
    assert not m.fenced(26.0)
    assert m.live(NODES, 26.0) == {"node-a"}
    m.renewal(True, 26.1)
    assert not m.fenced(26.1)
    assert not m.fenced(30.0)


def test_without_peers_a_node_never_fences() -> None:
    m = Membership("node-a", TIMING)
    m.renewal(False, 0.0, api_reachable=False)
    assert not m.fenced(100.0)
    m.bfd("node-b", "b", False, 1.0)  # a session that never came Up is not a lost one
    assert not m.fenced(100.0)


@pytest.mark.parametrize("skew", [-30.0, 0.0, 30.0])
def test_wall_clock_skew_of_the_renewing_host_is_irrelevant(skew: float) -> None:
    # renewTime is written by the other host's clock; only its changes count.
    stamp = f"2026-01-01T00:00:{30 + int(skew):02d}.000000Z"
    m = Membership("node-a", TIMING)
    m.leases([("node-b", lease(stamp))], 0.0)
    assert m.live(NODES, 14.9) == {"node-a", "node-b"}
    assert m.live(NODES, 15.0) == {"node-a"}


def test_a_fenced_node_waits_for_every_returning_peer_before_answering() -> None:
    m = Membership("node-a", TIMING)
    m.renewal(False, 0.0, api_reachable=False)
    m.bfd("node-b", "b", True, 0.0)
    m.bfd("node-c", "c", True, 0.0)
    m.bfd("node-b", "b", False, 1.0)
    m.bfd("node-c", "c", False, 1.0)
    assert not m.fenced(2.0)
    assert m.next_deadline(2.0) == 3.5  # no answer to the renewal asked for: renewal_wait
    assert m.fenced(3.5)
    m.bfd("node-b", "b", True, 2.0)
    m.bfd("node-c", "c", True, 2.5)  # a little later
    assert m.fenced(4.0)  # node-c is not counted in yet: we would take its addresses
    assert m.next_deadline(4.0) == 4.5
    assert not m.fenced(4.5)
    assert m.live(NODES, 4.5) == ALL


def resumed(m: Membership, t: float) -> None:
    m.resumed(t, detection=0.15)  # 50 ms x 3


def resumed_slow(m: Membership, t: float) -> None:
    m.resumed(t, detection=0.9)  # 300 ms x 3, MetalLB's BFDProfile defaults


def test_a_resumed_node_whose_sessions_go_down_rejoins_like_a_returning_peer() -> None:
    # node-a frozen from 5.0 to 7.0: its peers counted it out and took its addresses. Its
    # BFD service, frozen too, reports the timed-out sessions right after the resume; node-a
    # can still renew its Lease, yet must not elect itself for everyone's addresses.
    play([
        Row(0.0, leases(("node-b", "1"), ("node-c", "1")), ALL),
        Row(0.0, renewed, ALL),
        Row(1.0, up("node-b"), ALL),
        Row(1.0, up("node-c"), ALL),
        Row(7.0, resumed, ALL),
        Row(7.01, down("node-b"), {"node-a", "node-c"}, fenced=True),
        Row(7.02, down("node-c"), {"node-a"}, fenced=True),
        Row(7.2, renewed, {"node-a"}, fenced=True),  # the Lease renews: still cut off
        Row(8.2, up("node-b"), {"node-a"}, fenced=True),  # back Up after the slow start
        Row(8.3, up("node-c"), {"node-a"}, fenced=True),
        Row(10.19, nothing, {"node-a"}, fenced=True),  # node-b still in its hold
        Row(10.2, nothing, {"node-a", "node-b"}, fenced=True),  # node-c still in its hold
        # The peers count node-a in after the same hold: it answers with them.
        Row(10.3, nothing, ALL),
    ])  # fmt: skip


def test_a_resume_with_sessions_staying_up_changes_nothing() -> None:
    m = play([
        Row(0.0, leases(("node-b", "1"), ("node-c", "1")), ALL),
        Row(1.0, up("node-b"), ALL),
        Row(1.0, up("node-c"), ALL),
        Row(7.0, resumed, ALL),  # only the node role stalled: BFD kept the sessions Up
        Row(7.5, nothing, ALL),
        # A peer dying later is an ordinary failover: out at once, we are not cut off.
        Row(9.0, down("node-b"), {"node-a", "node-c"}),
    ])  # fmt: skip
    assert m.resuming(7.49)
    assert not m.resuming(7.5)


def test_after_a_long_freeze_the_peers_leases_count_as_renewed_at_the_resume() -> None:
    # Frozen for 40 s, longer than a Lease: renewals could not be seen, so they are not
    # expired at the resume (client-go's start-up rule); the peers stay in by their Lease.
    play([
        Row(0.0, leases(("node-b", "1"), ("node-c", "1")), ALL),
        Row(40.0, resumed, ALL),
        Row(54.9, nothing, ALL),
        Row(55.0, nothing, {"node-a"}),
    ])  # fmt: skip


def test_a_resumed_node_whose_peers_died_meanwhile_answers_as_the_survivor() -> None:
    play([
        Row(0.0, leases(("node-b", "1"), ("node-c", "1")), ALL),
        Row(0.0, renewed, ALL),
        Row(1.0, up("node-b"), ALL),
        Row(1.0, up("node-c"), ALL),
        Row(7.0, resumed, ALL),
        Row(7.01, down("node-b"), {"node-a", "node-c"}, fenced=True),
        Row(7.02, down("node-c"), {"node-a"}, fenced=True),
        # Nobody comes back Up; their Leases, counted as renewed at 7.0, are not renewed.
        Row(21.99, renewed, {"node-a"}, fenced=True),
        Row(22.0, nothing, {"node-a"}),
    ])  # fmt: skip


def test_a_session_down_after_the_settle_time_is_an_ordinary_failover() -> None:
    play([
        Row(0.0, leases(("node-b", "1"), ("node-c", "1")), ALL),
        Row(0.0, renewed, ALL),
        Row(1.0, up("node-b"), ALL),
        Row(1.0, up("node-c"), ALL),
        Row(7.0, resumed, ALL),
        Row(7.6, down("node-b"), {"node-a", "node-c"}),
    ])  # fmt: skip


def test_with_a_slower_profile_a_later_down_still_says_we_were_cut_off() -> None:
    # At 300 ms x 3 our BFD service, refreshed once by the packets queued while frozen, times
    # its sessions out up to 900 ms after the resume.
    play([
        Row(0.0, leases(("node-b", "1"), ("node-c", "1")), ALL),
        Row(0.0, renewed, ALL),
        Row(1.0, up("node-b"), ALL),
        Row(1.0, up("node-c"), ALL),
        Row(7.0, resumed_slow, ALL),
        Row(8.2, down("node-b"), {"node-a", "node-c"}, fenced=True),
        Row(8.2, down("node-c"), {"node-a"}, fenced=True),
    ])  # fmt: skip
