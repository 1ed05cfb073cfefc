"""The neighbour-learning state machine of one link (services/bgp/unnumbered/tracker.py), on
virtual time: where the neighbour's address comes from, when it changes, what a change means for
the session, and when our Router Advertisements and Solicitation go out."""

from __future__ import annotations

from ipaddress import IPv6Address

from services.bgp.unnumbered.ra import ALL_NODES, ALL_ROUTERS, RouterAdvertisement
from services.bgp.unnumbered.tracker import (
    MIN_DELAY_BETWEEN_RAS,
    RA_INTERVAL,
    Link,
    LinkEvent,
    LinkTracker,
    Neighbour,
    Send,
    Source,
    View,
    session_action,
)

MAC = bytes.fromhex("020000000001")
OURS = IPv6Address("fe80::1")
A, B = IPv6Address("fe80::a"), IPv6Address("fe80::b")
UP = Link(index=7, up=True, mac=MAC, link_local=OURS)


def tracker(now: float = 0.0) -> LinkTracker:
    t = LinkTracker("eth1")
    t.link_changed(UP, now)
    return t


def kinds(actions: list[Send]) -> list[tuple[str, IPv6Address]]:
    return [(type(a.message).__name__, a.destination) for a in actions]


def test_link_up_solicits_and_advertises_at_once_then_every_interval() -> None:
    t = tracker()
    assert kinds(t.take_actions()) == [("RouterSolicitation", ALL_ROUTERS)]
    assert t.next_deadline() == 0.0
    t.handle_timer(0.0)
    (ra,) = t.take_actions()
    assert ra.destination == ALL_NODES and isinstance(ra.message, RouterAdvertisement)
    assert ra.message.router_lifetime == 0 and ra.message.source_lladdr == MAC
    assert t.next_deadline() == RA_INTERVAL == 10.0  # FRR's interval for unnumbered
    t.handle_timer(10.0)
    assert kinds(t.take_actions()) == [("RouterAdvertisement", ALL_NODES)]


def test_a_router_advertisement_teaches_the_neighbour_and_is_answered_soon() -> None:
    t = tracker()
    t.handle_timer(0.0)
    t.take_actions()
    t.router_advertisement(A, 1.0)
    view = t.view()
    assert view.neighbour is not None
    assert (view.neighbour.address, view.neighbour.source) == (A, Source.ROUTER_ADVERTISEMENT)
    # answered so the neighbour learns us too, but not within 3 s of the last RA (§10)
    assert t.next_deadline() == MIN_DELAY_BETWEEN_RAS
    t.router_advertisement(A, 2.0)  # the same neighbour again: nothing moves
    assert t.view() == view and t.next_deadline() == MIN_DELAY_BETWEEN_RAS


def test_a_solicitation_is_answered_within_the_rate_limit() -> None:
    t = tracker()
    t.handle_timer(0.0)
    t.take_actions()
    t.router_solicitation(A, 5.0)
    assert t.next_deadline() == 5.0
    t.handle_timer(5.0)
    assert kinds(t.take_actions()) == [("RouterAdvertisement", ALL_NODES)]
    assert t.view().neighbour is None  # a solicitation teaches nothing


def test_sources_by_strength_and_the_cache_follows_the_kernel() -> None:
    t = tracker()
    t.neighbour_cache({B: False, A: True}, 1.0)  # router-flagged entries first
    assert t.view().neighbour == _n(A, Source.NEIGHBOR_CACHE, 1.0)
    t.incoming_connection(A, 2.0)  # the same address from a stronger source: kept, upgraded
    assert t.view().neighbour == _n(A, Source.INCOMING_CONNECTION, 1.0)
    t.neighbour_cache({A: True}, 3.0)
    t.router_advertisement(A, 4.0)
    assert t.view().neighbour == _n(A, Source.ROUTER_ADVERTISEMENT, 1.0)
    t.neighbour_cache({}, 5.0)  # an RA-learned neighbour does not follow the cache
    assert t.view().neighbour_address == A
    t.incoming_connection(B, 6.0)  # a weaker source never displaces a stronger one
    assert t.view().neighbour_address == A

    c = tracker()
    c.neighbour_cache({A: False}, 1.0)
    c.neighbour_cache({}, 2.0)  # its entry went away (FAILED, flushed): forgotten
    assert c.view().neighbour is None


def test_a_new_neighbour_waits_while_a_session_to_the_current_one_is_up() -> None:
    t = tracker()
    t.router_advertisement(A, 1.0)
    t.session_state(True, 2.0)
    t.router_advertisement(B, 3.0)  # a second router on the link
    assert t.view().neighbour_address == A
    t.session_state(False, 4.0)  # the session to A went down: B takes over
    assert t.view().neighbour == _n(B, Source.ROUTER_ADVERTISEMENT, 4.0)
    # without a session the newest RA wins at once (a replaced router)
    t.router_advertisement(A, 5.0)
    assert t.view().neighbour_address == A
    # an offer of another address while up is dropped when the current one speaks again
    t.session_state(True, 6.0)
    t.router_advertisement(B, 7.0)
    t.router_advertisement(A, 8.0)
    t.session_state(False, 9.0)
    assert t.view().neighbour_address == A


def test_link_down_forgets_and_link_up_starts_over() -> None:
    t = tracker()
    t.router_advertisement(A, 1.0)
    t.take_actions()
    t.link_changed(Link(7, False, MAC, OURS), 2.0)
    assert t.view() == View() and t.next_deadline() is None
    t.router_advertisement(A, 3.0)  # nothing is learned on a link that is down
    assert t.view().neighbour is None
    t.link_changed(UP, 4.0)
    assert kinds(t.take_actions()) == [("RouterSolicitation", ALL_ROUTERS)]
    assert t.next_deadline() == 4.0
    t.link_changed(Link(7, True, MAC, None), 5.0)  # no link-local address: not usable
    assert not t.view().link_up
    t.link_changed(None, 6.0)  # the interface vanished
    assert not t.view().link_up
    t.router_advertisement(OURS, 7.0)  # our own address is never the neighbour
    assert t.view().neighbour is None


def test_what_a_change_means_for_the_session() -> None:
    up = View(True, 7, OURS, (), None)
    with_a = View(True, 7, OURS, (), _n(A, Source.ROUTER_ADVERTISEMENT, 1.0))
    with_b = View(True, 7, OURS, (), _n(B, Source.ROUTER_ADVERTISEMENT, 2.0))
    assert session_action(View(), up) is None
    assert session_action(up, with_a) is LinkEvent.NEIGHBOR_CHANGED
    assert session_action(with_a, with_b) is LinkEvent.NEIGHBOR_CHANGED
    assert session_action(with_a, View()) is LinkEvent.LINK_DOWN
    upgraded = View(True, 7, OURS, (), _n(A, Source.INCOMING_CONNECTION, 1.0))
    assert session_action(with_a, upgraded) is None  # only the source moved
    glob = View(True, 7, OURS, (IPv6Address("2001:db8::1"),), with_a.neighbour)
    assert session_action(with_a, glob) is LinkEvent.ADDRESS_CHANGED  # our next hop moved
    assert session_action(up, View(True, 7, IPv6Address("fe80::2"), (), None)) is None


def _n(address: IPv6Address, source: Source, at: float) -> Neighbour:
    return Neighbour(address, source, at)
