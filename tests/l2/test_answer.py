"""The prepared reply table (what the hot path runs) against `decide` (the rules), the flood
guard that bounds real-time priority, and the per-thread counters."""

import dataclasses
import threading
from collections.abc import Mapping
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.l2 import ARP, Ether

from services.l2.core.answer import LinkReplies, build_replies
from services.l2.core.drop import DropReason, FrameDecodeError
from services.l2.core.frames import (
    BROADCAST_MAC,
    ArpFrame,
    NeighborAdvertisement,
    NeighborSolicitation,
    decode_frame,
    format_mac,
    gratuitous_arp,
    unsolicited_na,
)
from services.l2.core.priority import FloodGuard
from services.l2.core.responder import ALL, InterfaceView, Reply, Scope, decide
from services.l2.metrics import L2Metrics

IPAddress = IPv4Address | IPv6Address

OUR_MAC = bytes.fromhex("02000000000a")
PEER_MAC = bytes.fromhex("02000000000b")
LL = IPv6Address("fe80::a")
ENS1 = InterfaceView(2, "ens1", OUR_MAC, LL, arp=True, ndp=True)
ENS2 = InterfaceView(3, "ens2", bytes.fromhex("02000000000c"), LL, arp=True, ndp=True)
NO_ARP = InterfaceView(4, "ens3", OUR_MAC, None, arp=False, ndp=False)
ON_ENS1 = IPv4Address("10.77.1.10")
ON_ENS2 = IPv4Address("10.77.1.11")
EVERYWHERE = IPv4Address("10.77.1.12")
NOBODY = IPv4Address("10.77.1.13")
V6 = IPv6Address("fd77:1::10")
ANNOUNCED: dict[IPAddress, Scope] = {
    ON_ENS1: Scope(False, frozenset({"ens1"})),
    ON_ENS2: Scope(False, frozenset({"ens2"})),
    EVERYWHERE: ALL,
    V6: Scope(False, frozenset({"ens1"})),
}
VIEWS = {v.index: v for v in (ENS1, ENS2, NO_ARP)}
TABLE = build_replies(VIEWS, ANNOUNCED, str)  # tag: the address as text


def reference(data: bytes, view: InterfaceView, announced: Mapping[IPAddress, Scope]) -> object:
    """What `decide` says: the encoded reply and its address, or the drop reason."""
    try:
        frame = decode_frame(data)
    except FrameDecodeError as err:
        return err.reason
    result = decide(frame, view, announced)
    if isinstance(result, Reply):
        return result.frame.encode(), str(result.ip)
    return result


# --- the table gives what decide gives ---------------------------------------------------------

macs = st.sampled_from([BROADCAST_MAC, OUR_MAC, PEER_MAC]) | st.binary(min_size=6, max_size=6)
targets = st.sampled_from([ON_ENS1, ON_ENS2, EVERYWHERE, NOBODY]) | st.integers(0, 2**32 - 1).map(
    IPv4Address
)
arp_requests = st.builds(
    ArpFrame,
    macs,
    macs,
    st.sampled_from([1, 1, 1, 2, 3]),
    macs,
    st.integers(0, 2**32 - 1).map(IPv4Address),
    macs,
    targets,
).map(lambda frame: frame.encode())


def _mutated(frame: bytes, at: int, value: int, tail: bytes, cut: int) -> bytes:
    """`frame` with one octet changed, padding added (Ethernet's 60-octet minimum) and/or cut."""
    data = bytearray(frame + tail)
    if at < len(data):
        data[at] = value
    return bytes(data[: len(data) - cut])


frames = (
    arp_requests
    | st.builds(
        _mutated,
        arp_requests,
        st.integers(0, 45),
        st.integers(0, 255),
        st.sampled_from([b"", b"\x00" * 18]),
        st.sampled_from([0, 0, 0, 1, 20, 41]),
    )
    | st.builds(
        lambda ns: ns.encode(),
        st.builds(
            NeighborSolicitation,
            st.sampled_from([OUR_MAC, b"\x33\x33\xff\x00\x00\x10", PEER_MAC]),
            st.just(PEER_MAC),
            st.just(IPv6Address("fe80::b")),
            st.just(IPv6Address("ff02::1:ff00:10")),
            st.sampled_from([V6, IPv6Address("fd77:1::99")]),
            st.sampled_from([PEER_MAC, None]),
        ),
    )
    | st.binary(max_size=64)
)


@given(frames, st.sampled_from(list(VIEWS.values())))
def test_table_answers_exactly_as_decide(data: bytes, view: InterfaceView) -> None:
    assert TABLE.links[view.index].answer(data) == reference(data, view, ANNOUNCED)


def request(target: IPv4Address, dst: str = "ff:ff:ff:ff:ff:ff") -> bytes:
    peer = format_mac(PEER_MAC)
    return bytes(
        Ether(dst=dst, src=peer) / ARP(op=1, hwsrc=peer, psrc="10.77.1.100", pdst=str(target))
    )


@pytest.mark.parametrize(
    ("view", "target", "outcome"),
    [
        (ENS1, ON_ENS1, "reply"),
        (ENS1, EVERYWHERE, "reply"),
        (ENS1, ON_ENS2, DropReason.NOT_MATCH_INTERFACE),
        (ENS1, NOBODY, DropReason.ANNOUNCE_IP),
        (ENS2, ON_ENS2, "reply"),
        (ENS2, ON_ENS1, DropReason.NOT_MATCH_INTERFACE),
        (NO_ARP, ON_ENS1, DropReason.ARP_DISABLED),
    ],
)
def test_table_rows(view: InterfaceView, target: IPv4Address, outcome: object) -> None:
    result = TABLE.links[view.index].answer(request(target))
    if outcome != "reply":
        assert result == outcome
        return
    assert not isinstance(result, DropReason)
    reply, tag = result
    assert tag == str(target)
    arp = Ether(reply)[ARP]  # scapy, the oracle
    assert (arp.op, arp.psrc, arp.pdst) == (2, str(target), "10.77.1.100")
    assert arp.hwsrc == format_mac(view.mac) and arp.hwdst == format_mac(PEER_MAC)
    assert Ether(reply).dst == format_mac(PEER_MAC)


def test_padded_request_answered_and_unicast_to_our_mac_only() -> None:
    link = TABLE.links[ENS1.index]
    padded = request(ON_ENS1) + b"\x00" * 18  # what a NIC delivers: 60 octets
    assert not isinstance(link.answer(padded), DropReason)
    assert not isinstance(link.answer(request(ON_ENS1, format_mac(OUR_MAC))), DropReason)
    assert link.answer(request(ON_ENS1, "02:00:00:00:00:99")) == DropReason.ETHERNET_DESTINATION


def test_ipv6_goes_through_the_codec_and_carries_its_tag() -> None:
    link = TABLE.links[ENS1.index]
    ns = NeighborSolicitation(OUR_MAC, PEER_MAC, IPv6Address("fe80::b"), V6, V6, PEER_MAC).encode()
    result = link.answer(ns)
    assert not isinstance(result, DropReason) and result[1] == str(V6)
    assert TABLE.links[ENS2.index].answer(ns) == DropReason.ETHERNET_DESTINATION


def test_a_new_table_is_a_new_object_and_the_old_one_keeps_answering_as_it_did() -> None:
    """The swap is one assignment: a frame being answered with the old table finishes with
    the old set; nothing is mutated in place."""
    old: LinkReplies[str] = TABLE.links[ENS1.index]
    new = build_replies(VIEWS, {ON_ENS2: ANNOUNCED[ON_ENS2]}, str).links[ENS1.index]
    assert old.answer(request(ON_ENS1))[1] == str(ON_ENS1)  # type: ignore[index]
    assert new.answer(request(ON_ENS1)) == DropReason.ANNOUNCE_IP
    assert new.answer(request(ON_ENS2)) == DropReason.NOT_MATCH_INTERFACE
    with pytest.raises(TypeError):
        old.arp[NOBODY.packed] = (b"", "x")  # type: ignore[index]


# --- the flood guard -----------------------------------------------------------------------------


def test_flood_guard_leaves_realtime_above_the_limit_and_returns_when_quiet() -> None:
    guard = FloodGuard(limit=100, window=0.1)
    rows: list[tuple[float, int, bool | None]] = [
        (0.00, 1, None),  # light load: stays real-time
        (0.05, 99, None),  # 100 in the window: at the limit, not above
        (0.06, 1, False),  # 101: leaves real-time at once
        (0.10, 1, None),  # new window
        (0.15, 60, None),  # 61 in it: more than half the limit
        (0.21, 1, None),  # that window was too busy to return
        (0.35, 1, True),  # the last window held 1: back to real time
        (0.36, 50, None),
        (10.0, 1, None),  # an idle gap while real-time changes nothing
    ]
    realtime = True
    for now, frames, expected in rows:
        assert guard.observe(now, frames) == expected, (now, frames)
        realtime = realtime if expected is None else expected
        assert guard.realtime == realtime


def test_flood_guard_returns_after_an_idle_gap() -> None:
    guard = FloodGuard(limit=10, window=0.1)
    assert guard.observe(0.0, 11) is False
    assert guard.observe(60.0, 1) is True  # a minute later, the first frame finds it quiet


# --- counters: one writer each, summed at scrape -------------------------------------------------


def test_counters_from_many_threads_sum_exactly_and_survive_retirement() -> None:
    metrics = L2Metrics()
    slot = metrics.slot(ON_ENS1)
    assert metrics.slot(ON_ENS1) == slot and metrics.slot(ON_ENS2) != slot
    per_thread = 20_000
    start = threading.Barrier(5)

    def hot_path(retire: bool) -> None:
        counters = metrics.hot_counters()
        start.wait()
        for _ in range(per_thread):
            counters.requests[slot] += 1
            counters.responses[slot] += 1
            counters.dropped[DropReason.ANNOUNCE_IP] += 1
        if retire:
            metrics.retire(counters)

    threads = [threading.Thread(target=hot_path, args=(i % 2 == 0,)) for i in range(4)]
    for thread in threads:
        thread.start()
    start.wait()
    scraped = [metrics.totals().requests.get(slot, 0) for _ in range(50)]  # while they count
    for thread in threads:
        thread.join()
    assert scraped == sorted(scraped)  # never goes backwards, even across retirement
    total = metrics.totals()
    assert total.requests[slot] == total.responses[slot] == 4 * per_thread
    assert total.dropped[DropReason.ANNOUNCE_IP] == 4 * per_thread
    text = "\n".join(f"{s.name}{s.labels} {s.value}" for m in metrics.collect() for s in m.samples)
    assert f"metallb_layer2_requests_received{{'ip': '{ON_ENS1}'}} {4 * per_thread}" in text
    assert str(ON_ENS2) not in text  # no series before its first count


def test_another_host_announcing_one_of_our_addresses_is_recognised() -> None:
    """The new owner's gratuitous ARP (RFC 5227 §3 Announcement, MetalLB's pair) and
    unsolicited NA (RFC 4861 §7.2.6) name the address and its MAC; anything else does not."""
    ens1 = TABLE.links[ENS1.index]
    request, reply = gratuitous_arp(PEER_MAC, ON_ENS1)
    assert ens1.announced_elsewhere(request.encode()) == (ON_ENS1, PEER_MAC)
    assert ens1.announced_elsewhere(reply.encode()) == (ON_ENS1, PEER_MAC)
    assert ens1.announced_elsewhere(unsolicited_na(PEER_MAC, V6).encode()) == (V6, PEER_MAC)
    mine = (*gratuitous_arp(OUR_MAC, ON_ENS1), unsolicited_na(OUR_MAC, V6))
    not_ours = (*gratuitous_arp(PEER_MAC, NOBODY), unsolicited_na(PEER_MAC, V6))
    others = [
        *(frame.encode() for frame in mine),  # our own
        gratuitous_arp(PEER_MAC, NOBODY)[0].encode(),  # an address we do not answer for
        gratuitous_arp(PEER_MAC, ON_ENS2)[0].encode(),  # answered on ens2 only
        not_ours[2].encode()[:60],  # truncated
        ArpFrame(BROADCAST_MAC, PEER_MAC, 1, PEER_MAC, NOBODY, b"\0" * 6, ON_ENS1).encode(),
        NeighborSolicitation(
            b"\x33\x33\xff\x00\x00\x10", PEER_MAC, LL, V6, V6, PEER_MAC
        ).encode(),  # a question, not an announcement
        solicited(unsolicited_na(PEER_MAC, V6)).encode(),  # an answer to someone's question
    ]
    for frame in others:
        assert ens1.announced_elsewhere(frame) is None, frame.hex()
    assert (
        TABLE.links[ENS2.index].announced_elsewhere(unsolicited_na(PEER_MAC, V6).encode()) is None
    )


def solicited(na: NeighborAdvertisement) -> NeighborAdvertisement:
    return dataclasses.replace(na, solicited=True, override=False, eth_dst=OUR_MAC)
