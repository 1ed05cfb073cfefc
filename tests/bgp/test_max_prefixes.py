"""A bound on what is kept of received routes (issue #15: 800,000 /32 took the service from
89 MB to 527 MB). Received routes are only counted; above max_prefixes the peer stops counting
(default, the session stays) or closes with Cease / Maximum Number of Prefixes Reached."""

from __future__ import annotations

from ipaddress import IPv4Address

from hypothesis import given
from hypothesis import strategies as st

from services.bgp.codec import AFI, CeaseSubcode, ErrorCode, Notification, Update
from services.bgp.codec.attributes import AsPath, NextHop, Origin
from services.bgp.codec.prefixes import Prefix, make_prefix
from services.bgp.fsm import State
from services.bgp.fsm.config import DEFAULT_MAX_PREFIXES
from services.bgp.fsm.received import ReceivedPrefixes

from .fsm_harness import encode, notifications, peer_in, sent_messages
from .strategies import ipv4_prefix, ipv6_prefix

ATTRS = (Origin(), AsPath.sequence(65002), NextHop(IPv4Address("10.0.0.2")))


def nets(first: int, count: int) -> tuple[Prefix, ...]:
    return tuple(make_prefix(AFI.IPV4, 0x0B000000 + i, 32) for i in range(first, first + count))


def test_default_bound() -> None:
    peer, _ = peer_in(State.ESTABLISHED)
    assert peer.config.max_prefixes == DEFAULT_MAX_PREFIXES == 100_000


def test_above_the_bound_the_session_stays_and_counting_stops() -> None:
    peer, conn = peer_in(State.ESTABLISHED, max_prefixes=3)
    peer.data_received(conn.conn, encode(Update(attributes=ATTRS, nlri=nets(0, 5)), conn.ctx), 1.0)
    assert notifications(peer.take_actions()) == []
    assert peer.state == State.ESTABLISHED
    assert len(peer.received) == 3 and peer.received.ignored == 2 and peer.prefix_limit_reached
    withdraw = Update(withdrawn=nets(0, 1))
    peer.data_received(conn.conn, encode(withdraw, conn.ctx), 2.0)
    assert len(peer.received) == 2
    again = Update(attributes=ATTRS, nlri=nets(1, 2))  # already counted: no growth, no loss
    peer.data_received(conn.conn, encode(again, conn.ctx), 3.0)
    assert len(peer.received) == 2 and peer.received.ignored == 2


def test_cease_closes_with_rfc_4486_subcode_and_waits_before_retrying() -> None:
    peer, conn = peer_in(State.ESTABLISHED, max_prefixes=3, max_prefix_cease=True)
    peer.data_received(conn.conn, encode(Update(attributes=ATTRS, nlri=nets(0, 4)), conn.ctx), 1.0)
    (sent,) = [m for m in sent_messages(peer.take_actions()) if isinstance(m, Notification)]
    assert (sent.code, sent.subcode) == (
        ErrorCode.CEASE,
        CeaseSubcode.MAXIMUM_NUMBER_OF_PREFIXES_REACHED,
    )
    assert sent.data == bytes.fromhex("00010100000003")  # RFC 4486 §4: AFI, SAFI, bound
    assert peer.state == State.IDLE
    assert peer.auto_start_at == 1.0 + 120  # connectTime unset: the longest back-off
    assert peer.last_error is not None and "more than 3 prefixes" in peer.last_error.message


def test_a_new_session_starts_counting_again() -> None:
    peer, conn = peer_in(State.ESTABLISHED, max_prefixes=2)
    peer.data_received(conn.conn, encode(Update(attributes=ATTRS, nlri=nets(0, 3)), conn.ctx), 1.0)
    assert peer.prefix_limit_reached
    peer.connection_lost(conn.conn, 2.0, "reset")
    assert len(peer.received) == 0 and peer.received.ignored == 0
    assert not peer.prefix_limit_reached


@given(st.lists(st.one_of(ipv4_prefix, ipv6_prefix), max_size=30))
def test_kept_prefixes_are_the_ones_given(items: list[Prefix]) -> None:
    kept = ReceivedPrefixes(1000)
    assert kept.add(items) == 0
    assert set(kept) == set(items) and len(kept) == len(set(items))
    kept.discard(items[:3])
    assert set(kept) == set(items) - set(items[:3])
