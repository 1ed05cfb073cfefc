"""The sans-I/O core: responder decisions, interface rules, the gratuitous schedule and the
announcement table, all without a socket."""

import dataclasses
import re
from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest

from metallb_rules.errors import InvalidArgumentError
from services.l2.core.drop import DropReason
from services.l2.core.frames import (
    BROADCAST_MAC,
    ArpFrame,
    ArpOperation,
    NeighborAdvertisement,
    NeighborSolicitation,
    decode_frame,
)
from services.l2.core.gratuitous import GratuitousSchedule
from services.l2.core.interfaces import (
    DEFAULT_EXCLUDES,
    Ineligible,
    Link,
    LinkFlag,
    carrier_returns,
    compile_excludes,
    eligibility,
)
from services.l2.core.responder import ALL, InterfaceView, Reply, Scope, decide
from services.l2.core.table import (
    AnnouncementSpec,
    AnnouncementStatus,
    EventType,
    L2Table,
)

OUR_MAC = bytes.fromhex("02000000000a")
PEER_MAC = bytes.fromhex("02000000000b")
OTHER_MAC = bytes.fromhex("02000000000c")
LL = IPv6Address("fe80::a")
ENS1 = InterfaceView(2, "ens1", OUR_MAC, LL, arp=True, ndp=True)
VIP4 = IPv4Address("10.77.1.10")
VIP6 = IPv6Address("fd77:1::10")
ANNOUNCED: dict[IPv4Address | IPv6Address, Scope] = {
    VIP4: Scope(False, frozenset({"ens1"})),
    VIP6: ALL,
}


def arp(
    op: int = ArpOperation.REQUEST, dst: bytes = BROADCAST_MAC, target: str = "10.77.1.10"
) -> ArpFrame:
    return ArpFrame(
        dst, PEER_MAC, op, PEER_MAC, IPv4Address("10.77.1.100"), b"\0" * 6, IPv4Address(target)
    )


def ns(
    target: str = "fd77:1::10", dst: bytes = b"\x33\x33\xff\x00\x00\x10", slla: bool = True
) -> NeighborSolicitation:
    return NeighborSolicitation(
        dst,
        PEER_MAC,
        IPv6Address("fe80::b"),
        IPv6Address("ff02::1:ff00:10"),
        IPv6Address(target),
        PEER_MAC if slla else None,
    )


# --- decide: one row per rule ------------------------------------------------------------------

NOT_ENS1 = InterfaceView(3, "ens2", OUR_MAC, LL, arp=True, ndp=True)
NO_ARP = InterfaceView(2, "ens1", OUR_MAC, LL, arp=False, ndp=True)
NO_NDP = InterfaceView(2, "ens1", OUR_MAC, None, arp=True, ndp=False)


@pytest.mark.parametrize(
    ("frame", "interface", "reason"),
    [
        (arp(op=ArpOperation.REPLY), ENS1, DropReason.ARP_REPLY),
        (arp(op=7), ENS1, DropReason.ARP_REPLY),
        (arp(dst=OTHER_MAC), ENS1, DropReason.ETHERNET_DESTINATION),
        (arp(target="10.77.1.11"), ENS1, DropReason.ANNOUNCE_IP),
        (arp(), NOT_ENS1, DropReason.NOT_MATCH_INTERFACE),
        (arp(), NO_ARP, DropReason.ARP_DISABLED),
        (ns(slla=False), ENS1, DropReason.NO_SOURCE_LL),
        (ns(dst=OTHER_MAC), ENS1, DropReason.ETHERNET_DESTINATION),
        (ns(target="fd77:1::11"), ENS1, DropReason.ANNOUNCE_IP),
        (ns(), NO_NDP, DropReason.NDP_DISABLED),
        (
            NeighborAdvertisement(OUR_MAC, PEER_MAC, LL, LL, VIP6, PEER_MAC),
            ENS1,
            DropReason.NOT_SOLICITATION,
        ),
    ],
    ids=lambda v: v.value if isinstance(v, DropReason) else "",
)
def test_decide_drops_with_reason(
    frame: ArpFrame | NeighborSolicitation | NeighborAdvertisement,
    interface: InterfaceView,
    reason: DropReason,
) -> None:
    assert decide(frame, interface, ANNOUNCED) == reason


def test_arp_request_answered_unicast_with_our_mac() -> None:
    for dst in (BROADCAST_MAC, OUR_MAC):
        reply = decide(arp(dst=dst), ENS1, ANNOUNCED)
        assert isinstance(reply, Reply) and reply.ip == VIP4
        assert isinstance(reply.frame, ArpFrame)
        assert reply.frame.operation == ArpOperation.REPLY
        assert (reply.frame.eth_dst, reply.frame.target_mac) == (PEER_MAC, PEER_MAC)
        assert (reply.frame.sender_mac, reply.frame.sender_ip) == (OUR_MAC, VIP4)
        assert reply.frame.target_ip == IPv4Address("10.77.1.100")


def test_ns_answered_with_solicited_na_on_any_interface_for_all_scope() -> None:
    for interface in (ENS1, NOT_ENS1):
        reply = decide(ns(), interface, ANNOUNCED)
        assert isinstance(reply, Reply)
        na = reply.frame
        assert isinstance(na, NeighborAdvertisement)
        assert (na.solicited, na.override, na.router) == (True, False, False)
        assert (na.eth_dst, na.ip_dst) == (PEER_MAC, IPv6Address("fe80::b"))
        assert (na.target, na.target_lla, na.ip_src) == (VIP6, OUR_MAC, VIP6)
        assert decode_frame(na.encode()) == na  # a valid frame, checksum included


def test_unicast_ns_of_neighbour_unreachability_detection_answered_only_for_our_mac() -> None:
    """A client's NUD probe (RFC 4861 §7.3.3: a unicast NS to the address, to the MAC it has
    cached) is answered by the owner whose MAC it is, so a new owner whose unsolicited NA moved
    the client's entry keeps it reachable; sent to another MAC, it is not ours to answer."""
    probe = NeighborSolicitation(OUR_MAC, PEER_MAC, IPv6Address("fe80::b"), VIP6, VIP6, PEER_MAC)
    reply = decide(probe, ENS1, ANNOUNCED)
    assert isinstance(reply, Reply) and reply.ip == VIP6
    assert isinstance(reply.frame, NeighborAdvertisement) and reply.frame.solicited
    assert (reply.frame.eth_dst, reply.frame.target_lla) == (PEER_MAC, OUR_MAC)
    elsewhere = dataclasses.replace(probe, eth_dst=b"\x02\x00\x00\x00\x00\x99")
    assert decide(elsewhere, ENS1, ANNOUNCED) == DropReason.ETHERNET_DESTINATION


# --- interface eligibility ---------------------------------------------------------------------

UP_BCAST = LinkFlag.UP | LinkFlag.BROADCAST
DEFAULT = compile_excludes(DEFAULT_EXCLUDES)


def link(name: str = "eth0", flags: int = UP_BCAST, **kw: object) -> Link:
    fields: dict[str, object] = {"mac": OUR_MAC, "master": None, "link_local": LL}
    fields.update(kw)
    return Link(1, name, flags, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("candidate", "arp_reason", "ndp_reason"),
    [
        (link(), None, None),
        (link("docker0"), Ineligible.EXCLUDED, Ineligible.EXCLUDED),
        (link("veth12ab"), Ineligible.EXCLUDED, Ineligible.EXCLUDED),
        (link("lo", LinkFlag.UP | LinkFlag.LOOPBACK), Ineligible.EXCLUDED, Ineligible.EXCLUDED),
        (link("lo0"), None, None),  # ^lo$ is anchored
        (link("mydocker"), None, None),  # ^docker.* is anchored at the start
        (link(flags=LinkFlag.BROADCAST), Ineligible.DOWN, Ineligible.DOWN),
        (link(master=7), Ineligible.ENSLAVED, Ineligible.ENSLAVED),
        (link(flags=UP_BCAST | LinkFlag.NOARP), Ineligible.NOARP, Ineligible.NOARP),
        (link(mac=None), Ineligible.NOT_ETHERNET, Ineligible.NOT_ETHERNET),
        (link(flags=LinkFlag.UP), Ineligible.NOT_BROADCAST, None),
        (link(link_local=None), None, Ineligible.NO_IPV6_LINK_LOCAL),
        # MetalLB's order: the exclude list first, then UP, then master, then NOARP.
        (link("docker0", LinkFlag.NOARP, master=3), Ineligible.EXCLUDED, Ineligible.EXCLUDED),
        (link(flags=LinkFlag.NOARP, master=3), Ineligible.DOWN, Ineligible.DOWN),
    ],
)
def test_eligibility_rules(
    candidate: Link, arp_reason: Ineligible | None, ndp_reason: Ineligible | None
) -> None:
    result = eligibility(candidate, DEFAULT)
    assert (result.arp, result.ndp) == (arp_reason, ndp_reason)


def test_custom_and_empty_exclude_lists() -> None:
    assert eligibility(link("docker0"), None).arp is None
    custom = compile_excludes(["^ens2$", "wg"])
    assert eligibility(link("ens2"), custom).arp == Ineligible.EXCLUDED
    assert eligibility(link("ens20"), custom).arp is None
    assert eligibility(link("mywg0"), custom).arp == Ineligible.EXCLUDED  # unanchored: anywhere


def test_carrier_returns_are_links_running_again_or_with_carrier_regained_since() -> None:
    running = UP_BCAST | LinkFlag.RUNNING
    ens1, ens2 = Link(2, "ens1", running, OUR_MAC), Link(3, "ens2", running, OTHER_MAC)
    back, seen = carrier_returns([ens1, ens2], {})
    assert back == [2, 3]  # seen for the first time
    assert carrier_returns([ens1, ens2], seen) == ([], seen)
    no_carrier = Link(3, "ens2", UP_BCAST, OTHER_MAC)  # IFF_UP, no IFF_RUNNING
    back, seen = carrier_returns([ens1, no_carrier], seen)
    assert (back, seen) == ([], {2: 0})
    assert carrier_returns([ens1, ens2], seen)[0] == [3]  # running again
    # Carrier lost and regained between two reads: no flag changed, the count did.
    bounced = Link(2, "ens1", running, OUR_MAC, carrier_ups=1)
    assert carrier_returns([bounced, ens2], {2: 0, 3: 0})[0] == [2]


# --- the gratuitous schedule -------------------------------------------------------------------


def test_schedule_sends_at_once_then_every_1_1_s_for_5_s() -> None:
    schedule = GratuitousSchedule()
    schedule.enqueue(VIP4, 100.0)
    sent = []
    now = 100.0
    while (deadline := schedule.next_deadline()) is not None:
        now = deadline
        sent += [round(now - 100.0, 3) for _ in schedule.due(now)]
    assert sent == [0.0, 1.1, 2.2, 3.3, 4.4]


def test_schedule_reenqueue_extends_cancel_stops_and_late_timer_does_not_burst() -> None:
    schedule = GratuitousSchedule()
    schedule.enqueue(VIP4, 0.0)
    assert schedule.due(0.0) == [VIP4]
    assert schedule.due(1.1) == schedule.due(2.2) == [VIP4]
    schedule.enqueue(VIP4, 3.0)  # not sent again now: only the window grows, to 8.0
    assert schedule.due(3.0) == []
    times = []
    while (deadline := schedule.next_deadline()) is not None:
        times += [round(deadline, 3) for _ in schedule.due(deadline)]
    assert times == [3.3, 4.4, 5.5, 6.6, 7.7]
    schedule.enqueue(VIP6, 0.0)
    schedule.due(0.0)
    assert schedule.due(3.0) == [VIP6]  # one round, not three catch-up rounds
    assert schedule.next_deadline() == pytest.approx(3.3)
    schedule.cancel(VIP6)
    assert schedule.next_deadline() is None and schedule.due(10.0) == []


# --- the announcement table: ordered rows, invariants after each -------------------------------


def spec(ip: str, *names: str, owner: str = "") -> AnnouncementSpec:
    scope = Scope(False, frozenset(names)) if names else ALL
    return AnnouncementSpec(ip_address(ip), scope, owner)


LINKS = [
    Link(2, "ens1", UP_BCAST, OUR_MAC, None, LL),
    Link(3, "ens2", UP_BCAST, OTHER_MAC, None, IPv6Address("fe80::c")),
    Link(4, "docker7", UP_BCAST, PEER_MAC, None, IPv6Address("fe80::d")),
]


def _check_invariants(table: L2Table) -> None:
    snapshot = table.snapshot()
    assert set(snapshot.announced) == {a.announcement.ip for a in table.announcements()}
    for state in table.announcements():
        for name in state.answering_on:
            assert state.announcement.scope.matches(name)
        assert (state.status == AnnouncementStatus.ANNOUNCING) == bool(state.answering_on)
    assert all(v.name != "docker7" for v in snapshot.views.values())
    for groups in table.groups().values():
        assert all(g.packed[:13] == bytes.fromhex("ff02" + "00" * 9 + "01ff") for g in groups)


def test_table_scenario_diff_refcount_scope_and_links() -> None:
    table = L2Table(DEFAULT)
    table.set_links(LINKS)
    rows: list[tuple[list[AnnouncementSpec], tuple[list[str], list[str], list[str]]]] = [
        ([spec("10.77.1.10", "ens1", owner="a/web")], (["10.77.1.10"], [], [])),
        # idempotent: the same set again changes nothing
        ([spec("10.77.1.10", "ens1", owner="a/web")], ([], [], [])),
        # a second owner shares the address: updated, not announced again; scopes merge
        (
            [spec("10.77.1.10", "ens1", owner="a/web"), spec("10.77.1.10", "ens2", owner="b/db")],
            ([], [], ["10.77.1.10"]),
        ),
        # one owner leaves: still announced (reference count 1)
        ([spec("10.77.1.10", "ens2", owner="b/db")], ([], [], ["10.77.1.10"])),
        ([spec("10.77.1.10", "ens2", owner="b/db"), spec("fd77:1::10")], (["fd77:1::10"], [], [])),
        ([spec("fd77:1::10")], ([], ["10.77.1.10"], [])),
        ([spec("10.77.9.9", "nosuch0")], (["10.77.9.9"], ["fd77:1::10"], [])),
        ([], ([], ["10.77.9.9"], [])),
    ]
    for specs, (announced, withdrawn, updated) in rows:
        result = table.set_announcements(specs, 0.0)
        got = tuple(
            [str(ip) for ip in ips] for ips in (result.announced, result.withdrawn, result.updated)
        )
        assert got == (announced, withdrawn, updated), specs
        _check_invariants(table)
        if [str(s.ip) for s in specs] == ["10.77.9.9"]:
            (state,) = table.announcements()
            assert state.status == AnnouncementStatus.NO_INTERFACE


def test_table_answering_on_groups_and_events_follow_links() -> None:
    table = L2Table(DEFAULT)
    table.set_links(LINKS)
    table.set_announcements([spec("fd77:1::10", owner="x"), spec("10.77.1.10", "ens1")], 0.0)
    v6 = next(s for s in table.announcements() if s.announcement.ip.version == 6)
    assert v6.answering_on == ("ens1", "ens2")  # docker7 is excluded
    assert table.groups() == {
        2: frozenset({IPv6Address("ff02::1:ff00:10")}),
        3: frozenset({IPv6Address("ff02::1:ff00:10")}),
    }
    # ens2 goes down: an interface event, then the v6 announcement loses ens2
    down = [LINKS[0], Link(3, "ens2", LinkFlag.BROADCAST, OTHER_MAC, None, None), LINKS[2]]
    events = table.set_links(down)
    assert [e.type for e in events] == [EventType.INTERFACE_CHANGED, EventType.ANNOUNCEMENT_UPDATED]
    assert (
        events[0].interface is not None and events[0].interface.eligibility.arp == Ineligible.DOWN
    )
    assert events[1].announcement is not None
    assert events[1].announcement.answering_on == ("ens1",)
    assert 3 not in table.groups() and 3 not in table.snapshot().views
    events = table.set_links(LINKS[:1])
    assert [e.type for e in events] == [EventType.INTERFACE_REMOVED, EventType.INTERFACE_REMOVED]
    assert table.set_links(LINKS[:1]) == []


def test_table_gratuitous_frames_per_link_in_scope_and_none_after_withdraw() -> None:
    table = L2Table(DEFAULT)
    table.set_links(LINKS)
    table.set_announcements([spec("10.77.1.10", "ens1"), spec("fd77:1::10")], 0.0)
    rounds = table.gratuitous_due(0.0)
    per_link = sorted((view.name, str(ip), len(frames)) for view, ip, frames in rounds)
    assert per_link == [
        ("ens1", "10.77.1.10", 2),
        ("ens1", "fd77:1::10", 1),
        ("ens2", "fd77:1::10", 1),
    ]
    for view, _, frames in rounds:
        for data in frames:
            frame = decode_frame(data)
            assert frame.eth_src == view.mac
    table.set_announcements([], 1.0)
    assert table.gratuitous_due(1.1) == [] and table.schedule.next_deadline() is None


def test_table_refuses_duplicate_entries_and_changes_nothing() -> None:
    table = L2Table(DEFAULT)
    table.set_announcements([spec("10.77.1.10", "ens1", owner="a")], 0.0)
    with pytest.raises(InvalidArgumentError) as info:
        table.set_announcements(
            [spec("10.77.1.11"), spec("10.77.1.10", owner="a"), spec("10.77.1.10", owner="a")], 1.0
        )
    assert info.value.describe() == "announcements[2]: 10.77.1.10 is listed twice for owner 'a'"
    assert [str(s.announcement.ip) for s in table.announcements()] == ["10.77.1.10"]


def test_exclude_regex_is_metallb_join() -> None:
    pattern = compile_excludes(["^a", "b$"])
    assert pattern is not None and pattern.pattern == "(^a)|(b$)"
    assert isinstance(pattern, re.Pattern)
