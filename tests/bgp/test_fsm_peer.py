"""The peer core with an injected clock: timers, sessions between two cores, routes, errors."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, ip_address

import pytest

from services.bgp.codec import (
    AS_TRANS,
    IPV4_UNICAST,
    IPV6_UNICAST,
    CeaseSubcode,
    ErrorCode,
    Keepalive,
    MessageType,
    Negotiated,
    Notification,
    Open,
    OpenSubcode,
    RouteRefresh,
    Update,
    end_of_rib,
)
from services.bgp.codec.attributes import (
    AsPath,
    Communities,
    LargeCommunities,
    LargeCommunity,
    LocalPref,
    MpReachNlri,
    NextHop,
    find,
)
from services.bgp.codec.capabilities import ExtendedNextHop, GracefulRestart
from services.bgp.codec.prefixes import parse_prefix
from services.bgp.fsm import Peer, Reason, RouteAttrs, State
from services.bgp.fsm.peer import Close, Connect, Send
from services.bgp.fsm.rib import AdjRibOut, SessionRoutingInfo

from .fsm_harness import (
    LOCAL,
    REMOTE,
    config,
    encode,
    notifications,
    peer_in,
    remote_open,
    sent_messages,
    wired,
)


def state(peer: Peer) -> State:
    """The peer's state, read through a call (so that mypy does not narrow it)."""
    return peer.state


CTX = Negotiated(four_octet_as=True, families=frozenset({IPV4_UNICAST, IPV6_UNICAST}))


# ---- timers -----------------------------------------------------------------------------------


def test_hold_timer_expires_without_messages_and_restarts_after_a_second() -> None:
    peer, conn = peer_in(State.ESTABLISHED, now=100.0)
    assert conn.hold_at == 109.0
    peer.data_received(conn.conn, encode(Keepalive(), CTX), 105.0)  # restarts the hold timer
    assert conn.hold_at == 114.0
    peer.handle_timer(113.9)
    assert peer.state == State.ESTABLISHED
    peer.take_actions()
    peer.handle_timer(114.0)
    actions = peer.take_actions()
    assert notifications(actions) == [(ErrorCode.HOLD_TIMER_EXPIRED, 0)]
    assert state(peer) == State.IDLE and peer.reason == Reason.HOLD_TIMER_EXPIRED
    assert peer.last_error is not None and peer.last_error.sent
    assert peer.next_deadline() == 115.0  # AutomaticStart after 1 s
    peer.handle_timer(115.0)
    assert state(peer) == State.CONNECT
    assert any(isinstance(a, Connect) for a in peer.take_actions())


def test_keepalives_at_the_negotiated_interval() -> None:
    peer, conn = peer_in(State.ESTABLISHED, now=0.0, hold_time=30, keepalive_time=10)
    # negotiated hold = min(30, 9) = 9, keepalive = min(10, 9 / 3) = 3
    assert conn.hold_time == 9 and conn.keepalive_interval == 3
    sent = []
    now = 0.0
    for _ in range(5):
        now = peer.next_deadline() or 0.0
        if now > 8:
            break
        peer.handle_timer(now)
        sent += [(now, m) for m in sent_messages(peer.take_actions(), CTX)]
    assert [t for t, m in sent if isinstance(m, Keepalive)] == [3.0, 6.0]


def test_hold_time_zero_means_no_keepalives_and_no_hold_timer() -> None:
    peer = Peer(config(hold_time=0), 0.0)
    peer.start(0.0)
    (connect,) = peer.take_actions()
    assert isinstance(connect, Connect)
    peer.connection_made(connect.conn, 0.0, LOCAL, REMOTE)
    peer.data_received(connect.conn, encode(remote_open(hold=0)), 0.0)
    peer.data_received(connect.conn, encode(Keepalive()), 0.0)
    conn = peer.connections[0]
    assert peer.state == State.ESTABLISHED
    assert conn.hold_at is None and conn.keepalive_at is None and peer.next_deadline() is None


def test_connect_retry_backs_off_up_to_connect_time() -> None:
    peer = Peer(config(connect_time=5), 0.0)
    peer.start(0.0)
    now, waits = 0.0, []
    for _ in range(6):
        (connect,) = [a for a in peer.take_actions() if isinstance(a, Connect)]
        peer.connection_failed(connect.conn, now, "refused")  # Connect -> Active
        assert peer.state == State.ACTIVE
        deadline = peer.next_deadline()
        assert deadline is not None
        waits.append(deadline - now)
        now = deadline
        peer.handle_timer(now)  # Active -> Connect, a new attempt
        assert state(peer) == State.CONNECT
    assert waits == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_open_sent_waits_four_minutes_for_the_open() -> None:
    peer, conn = peer_in(State.OPEN_SENT, now=10.0)
    assert peer.next_deadline() == 250.0
    peer.handle_timer(250.0)
    assert notifications(peer.take_actions()) == [(ErrorCode.HOLD_TIMER_EXPIRED, 0)]
    assert conn.state == State.IDLE


# ---- sessions between two cores ---------------------------------------------------------------


def test_two_cores_establish_and_negotiate() -> None:
    wire = wired(
        config(my_asn=64512, peer_asn=4_200_000_000, peer_address="10.0.0.2"),
        config(my_asn=4_200_000_000, peer_asn=64512, peer_address="10.0.0.1", hold_time=30),
    )
    assert wire.a.state == State.ESTABLISHED and wire.b.state == State.ESTABLISHED
    conn = wire.a.established()
    assert conn is not None and conn.ctx.four_octet_as and conn.ctx.hold_time == 9
    assert conn.remote_open is not None and conn.remote_open.my_as == AS_TRANS
    assert conn.remote_open.asn == 4_200_000_000


def test_stop_sends_cease_with_the_shutdown_communication() -> None:
    wire = wired(
        config(peer_address="10.0.0.2"),
        config(my_asn=65002, peer_asn=64512, peer_address="10.0.0.1"),
    )
    wire.a.stop(1.0, message="maintenance", subcode=CeaseSubcode.ADMINISTRATIVE_SHUTDOWN)
    wire.pump(1.0)
    assert wire.a.state == State.IDLE and wire.b.state == State.IDLE
    assert wire.b.last_error is not None and wire.b.last_error.notification is not None
    assert wire.b.last_error.notification.shutdown_message() == "maintenance"
    assert wire.b.reason == Reason.NOTIFICATION_RECEIVED
    assert wire.a.next_deadline() is None  # stopped: no automatic restart
    assert wire.b.next_deadline() == 2.0  # the other side retries


def test_wrong_peer_as_is_refused_with_bad_peer_as() -> None:
    peer, conn = peer_in(State.OPEN_SENT)
    peer.data_received(conn.conn, encode(remote_open(asn=65099)), 1.0)
    assert notifications(peer.take_actions()) == [
        (ErrorCode.OPEN_MESSAGE_ERROR, OpenSubcode.BAD_PEER_AS)
    ]
    assert peer.state == State.IDLE and peer.reason == Reason.PROTOCOL_ERROR


@pytest.mark.parametrize(
    ("mode", "asn", "ok"),
    [
        ("internal", 64512, True),
        ("internal", 65002, False),
        ("external", 64512, False),
        ("external", 65002, True),
    ],
)
def test_dynamic_asn(mode: str, asn: int, ok: bool) -> None:
    peer, conn = peer_in(State.OPEN_SENT, peer_asn=0, dynamic_asn=mode)
    peer.data_received(conn.conn, encode(remote_open(asn=asn)), 1.0)
    assert (peer.connections[0].state == State.OPEN_CONFIRM) is ok if peer.connections else not ok


def test_ibgp_peer_with_our_identifier_is_refused() -> None:
    peer, conn = peer_in(State.OPEN_SENT, peer_asn=64512)
    peer.data_received(conn.conn, encode(remote_open(asn=64512, bgp_id=str(LOCAL))), 1.0)
    assert notifications(peer.take_actions()) == [
        (ErrorCode.OPEN_MESSAGE_ERROR, OpenSubcode.BAD_BGP_IDENTIFIER)
    ]


def test_malformed_update_is_answered_with_its_notification() -> None:
    peer, conn = peer_in(State.ESTABLISHED)
    update = Update(attributes=(AsPath.sequence(1),), nlri=(parse_prefix("1.0.0.0/8"),))
    bad = bytearray(encode(update, CTX))
    bad[-2] = 33  # the NLRI's prefix length: /33 is an Invalid Network Field (RFC 7606 §5.3)
    peer.data_received(conn.conn, bytes(bad), 1.0)
    assert notifications(peer.take_actions()) == [(ErrorCode.UPDATE_MESSAGE_ERROR, 10)]


def test_received_routes_are_counted_not_installed() -> None:
    peer, conn = peer_in(State.ESTABLISHED)
    from services.bgp.codec.attributes import Origin

    update = Update(
        attributes=(Origin(), AsPath.sequence(65002), NextHop(IPv4Address("10.0.0.2"))),
        nlri=(parse_prefix("198.51.100.0/24"), parse_prefix("198.51.101.0/24")),
    )
    peer.data_received(conn.conn, encode(update, conn.ctx), 1.0)
    assert len(peer.received) == 2
    peer.data_received(
        conn.conn, encode(Update(withdrawn=(parse_prefix("198.51.100.0/24"),)), conn.ctx), 1.0
    )
    assert len(peer.received) == 1
    assert peer.counters.received[MessageType.UPDATE] == 2


def test_connection_collision_keeps_the_higher_identifiers_connection() -> None:
    """§6.8: both sides dial; the connection initiated by the lower identifier is dumped."""
    a = Peer(config(peer_address="10.0.0.2"), 0.0)  # router id 10.0.0.1 (lower)
    a.start(0.0)
    (out_a,) = [x for x in a.take_actions() if isinstance(x, Connect)]
    a.connection_made(out_a.conn, 0.0, LOCAL, REMOTE)  # our own connection: OpenSent
    a.take_actions()
    a.data_received(out_a.conn, encode(remote_open()), 0.0)  # -> OpenConfirm
    a.take_actions()
    inc = a.incoming(0.0, LOCAL, REMOTE)  # the peer's connection arrives
    assert inc is not None and len(a.connections) == 2
    a.take_actions()
    a.data_received(inc, encode(remote_open()), 0.0)  # OPEN on the second connection
    actions = a.take_actions()
    # our identifier is lower: the connection we initiated is dumped
    closed = [x.conn for x in actions if isinstance(x, Close)]
    assert closed == [out_a.conn]
    cease = [(ErrorCode.CEASE, CeaseSubcode.CONNECTION_COLLISION_RESOLUTION)]
    assert (
        notifications([x for x in actions if isinstance(x, Send) and x.conn == out_a.conn]) == cease
    )
    assert [c.conn for c in a.connections] == [inc]
    a.data_received(inc, encode(Keepalive()), 0.0)
    assert a.state == State.ESTABLISHED


def test_a_collision_the_peer_resolves_is_not_a_session_error() -> None:
    """§6.8: while both connections are open the peer may dump one with Cease/Connection
    Collision Resolution; the session goes on over the other, so that NOTIFICATION is not the
    peer's last error (it hid the real reason of the restart, e.g. ADDRESS_CHANGED)."""
    a = Peer(config(peer_address="10.0.0.2"), 0.0)
    a.start(0.0)
    (out_a,) = [x for x in a.take_actions() if isinstance(x, Connect)]
    a.connection_made(out_a.conn, 0.0, LOCAL, REMOTE)
    inc = a.incoming(0.0, LOCAL, REMOTE)
    assert inc is not None and len(a.connections) == 2
    a.take_actions()
    cease = Notification(ErrorCode.CEASE, CeaseSubcode.CONNECTION_COLLISION_RESOLUTION)
    a.data_received(out_a.conn, encode(cease), 0.0)
    assert a.last_error is None
    assert [c.conn for c in a.connections] == [inc]
    a.data_received(inc, encode(remote_open()) + encode(Keepalive()), 0.0)
    assert a.state == State.ESTABLISHED and a.last_error is None


def test_a_collision_cease_before_the_other_connection_arrives_is_not_an_error() -> None:
    """The peer may dump our connection for its own, which we have not accepted yet (seen with
    FRR over an unnumbered link): noted as a collision, the last error kept."""
    peer, conn = peer_in(State.OPEN_CONFIRM)
    cease = Notification(ErrorCode.CEASE, CeaseSubcode.CONNECTION_COLLISION_RESOLUTION)
    peer.data_received(conn.conn, encode(cease), 0.0)
    assert peer.last_error is None
    assert peer.reason == Reason.COLLISION


def test_another_cease_while_opening_is_an_error() -> None:
    peer, conn = peer_in(State.OPEN_CONFIRM)
    cease = Notification(ErrorCode.CEASE, CeaseSubcode.ADMINISTRATIVE_SHUTDOWN)
    peer.data_received(conn.conn, encode(cease), 0.0)
    assert peer.last_error is not None
    assert peer.last_error.reason == Reason.NOTIFICATION_RECEIVED


def test_established_session_refuses_new_connections_unless_graceful_restart() -> None:
    peer, _ = peer_in(State.ESTABLISHED)
    assert peer.incoming(1.0, LOCAL, REMOTE) is None
    gr, conn = peer_in(State.OPEN_SENT, graceful_restart=True)
    gr.data_received(conn.conn, encode(remote_open(gr=True)), 0.0)
    gr.data_received(conn.conn, encode(Keepalive()), 0.0)
    gr.take_actions()
    new = gr.incoming(1.0, LOCAL, REMOTE)  # RFC 4724 §4.2: the peer restarted
    assert new is not None and gr.state == State.OPEN_SENT
    assert notifications(gr.take_actions()) == []  # the old one is dropped silently


# ---- routes -----------------------------------------------------------------------------------


def announced(messages: Sequence[object]) -> set[object]:
    out: set[object] = set()
    for m in messages:
        if isinstance(m, Update):
            out |= set(m.nlri)
            reach = find(m.attributes, MpReachNlri)
            if reach:
                out |= set(reach.nlri)
    return out


def test_routes_are_diffed_packed_and_end_with_end_of_rib() -> None:
    wire = wired(
        config(peer_address="10.0.0.2", dual_stack=True),
        config(my_asn=65002, peer_asn=64512, peer_address="10.0.0.1", dual_stack=True),
    )
    wire.a.extra_next_hop6 = None
    many = {parse_prefix(f"10.{i // 256}.{i % 256}.1/32"): RouteAttrs((1,)) for i in range(3000)}
    wire.a.set_routes(many)
    actions = wire.a.take_actions()
    data = b"".join(x.data for x in actions if isinstance(x, Send))
    messages = sent_messages([Send(0, data)], CTX)
    assert announced(messages) == set(many)
    updates = [m for m in messages if isinstance(m, Update)]
    assert len(updates) == 4 + 2  # 3000 × 5 octets fit in 4 messages, + 2 End-of-RIB
    assert all(len(encode(u, CTX)) <= 4096 for u in updates)
    assert end_of_rib(IPV4_UNICAST) in updates[-2:] and end_of_rib(IPV6_UNICAST) in updates[-2:]
    # the same set again: nothing to send
    wire.a.set_routes(many)
    assert wire.a.take_actions() == []
    # one changed, one gone: one UPDATE each
    fewer = dict(many)
    gone = next(iter(fewer))
    del fewer[gone]
    changed = next(iter(fewer))
    fewer[changed] = RouteAttrs((2,))
    wire.a.set_routes(fewer)
    messages = sent_messages(wire.a.take_actions(), CTX)
    assert [m.withdrawn for m in messages if isinstance(m, Update) and m.withdrawn] == [(gone,)]
    assert announced(messages) == {changed}


def test_ebgp_and_ibgp_attributes() -> None:
    def info(internal: bool) -> SessionRoutingInfo:
        return SessionRoutingInfo(CTX, 64512, internal, IPv4Address("10.0.0.1"), None)

    attrs = RouteAttrs((0xFDE80064,), (LargeCommunity(1, 2, 3),), 200)
    for internal in (False, True):
        rib = AdjRibOut()
        rib.set_desired({parse_prefix("192.0.2.1/32"): attrs})
        (update,) = rib.updates(info(internal))
        path = find(update.attributes, AsPath)
        assert path == (AsPath.sequence() if internal else AsPath.sequence(64512))
        lp = find(update.attributes, LocalPref)
        assert (lp == LocalPref(200)) if internal else lp is None  # RFC 4271 §5.1.5
        assert find(update.attributes, Communities) == Communities((0xFDE80064,))
        assert find(update.attributes, LargeCommunities) == LargeCommunities(
            (LargeCommunity(1, 2, 3),)
        )
        assert find(update.attributes, NextHop) == NextHop(IPv4Address("10.0.0.1"))


def test_ipv4_routes_over_an_ipv6_session_use_extended_next_hop() -> None:
    a = config(peer_address="fd00::2", dual_stack=True)
    b = config(my_asn=65002, peer_asn=64512, peer_address="fd00::1", dual_stack=True)
    wire = wired(a, b)
    conn = wire.a.established()
    assert conn is not None and IPV4_UNICAST in conn.ctx.extended_nexthop
    assert any(isinstance(c, ExtendedNextHop) for c in conn.local_open.capabilities)  # type: ignore[union-attr]
    wire.a.set_routes({parse_prefix("192.0.2.1/32"): RouteAttrs()})
    messages = sent_messages(wire.a.take_actions(), conn.ctx)
    reach = [find(m.attributes, MpReachNlri) for m in messages if isinstance(m, Update)]
    assert reach[0] is not None and reach[0].next_hops == (ip_address("fd00::1"),)  # our address


def test_route_refresh_resends_what_we_advertise() -> None:
    wire = wired(
        config(peer_address="10.0.0.2"),
        config(my_asn=65002, peer_asn=64512, peer_address="10.0.0.1"),
    )
    wire.a.set_routes({parse_prefix("192.0.2.1/32"): RouteAttrs()})
    wire.pump(1.0)
    assert set(wire.b.received) == {parse_prefix("192.0.2.1/32")}
    before = wire.a.counters.sent[MessageType.UPDATE]
    b_conn = wire.b.established()
    assert b_conn is not None
    b_conn.send(RouteRefresh(IPV4_UNICAST))
    wire.pump(2.0)
    assert wire.a.counters.received[MessageType.ROUTE_REFRESH] == 1
    assert wire.a.counters.sent[MessageType.UPDATE] == before + 1


def test_graceful_restart_holds_routes_until_the_caller_has_spoken() -> None:
    a = config(peer_address="10.0.0.2", graceful_restart=True)
    b = config(my_asn=65002, peer_asn=64512, peer_address="10.0.0.1", graceful_restart=True)
    wire = wired(a, b)
    conn = wire.a.established()
    assert conn is not None and conn.local_open is not None
    (gr,) = [c for c in conn.local_open.capabilities if isinstance(c, GracefulRestart)]
    assert gr.restarting and gr.restart_time == 120
    assert all(f.forwarding_preserved for f in gr.families)
    assert wire.b.eor_received == set()  # nothing until the advertisements are set
    wire.a.set_routes({parse_prefix("192.0.2.1/32"): RouteAttrs()})
    wire.pump(1.0)
    assert wire.b.eor_received == {IPV4_UNICAST} and len(wire.b.received) == 1
    assert not wire.a.restarting  # later sessions do not claim a restart


def test_timers_follow_parse_timers() -> None:
    assert (config(hold_time=None).hold_time, config(hold_time=None).keepalive_time) == (90, 30)
    only_hold = config(hold_time=12)
    assert (only_hold.hold_time, only_hold.keepalive_time) == (12, 4)
    only_ka = config(hold_time=None, keepalive_time=5)
    assert (only_ka.hold_time, only_ka.keepalive_time) == (15, 5)
    assert config(hold_time=0, keepalive_time=0).hold_time == 0


def test_open_carries_local_asn_and_capabilities() -> None:
    peer = Peer(config(local_asn=4_200_000_001, peer_asn=65002, dual_stack=True), 0.0)
    message = peer.build_open(LOCAL)
    assert isinstance(message, Open) and message.my_as == AS_TRANS
    assert message.asn == 4_200_000_001 and message.bgp_id == LOCAL
    assert message.hold_time == 9
    plain = Peer(config(disable_mp=True), 0.0).build_open(LOCAL)
    assert not [c for c in plain.capabilities if type(c).__name__ == "Multiprotocol"]


def test_notification_from_peer_is_the_last_error() -> None:
    peer, conn = peer_in(State.ESTABLISHED)
    peer.data_received(conn.conn, encode(Notification(ErrorCode.CEASE, 4)), 1.0)
    assert peer.state == State.IDLE and peer.reason == Reason.NOTIFICATION_RECEIVED
    assert peer.last_error is not None and not peer.last_error.sent
