"""The Echo function (RFC 5880 §6.4, §6.8.9) driven by the same core."""

from __future__ import annotations

import itertools

import pytest

from services.bfd.core.drop import DropReason
from services.bfd.core.echo import EchoPacket, encode_echo
from services.bfd.core.events import PacketDropped, StateChanged
from services.bfd.core.packet import ControlPacket, Diagnostic, State, encode
from services.bfd.core.session import Session, SessionParams
from tests.bfd.harness import A_DISC, Pair

ECHO = SessionParams(echo_mode=True, echo_interval=50_000)


def test_echo_runs_while_up_and_keeps_the_session_up() -> None:
    pair = Pair(a_params=ECHO, b_params=ECHO)
    pair.run_for(3)
    assert pair.both_up() and pair.a.echo_active
    start = pair.now
    pair.run_for(10)
    assert pair.both_up()
    times = [t for t, name in pair.echoes if name == "a" and t >= start]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # max(our 50 ms, peer's Required Min Echo RX 50 ms), jittered, never below the peer's 50 ms.
    assert min(gaps) >= 0.05 - 1e-9 and max(gaps) <= 0.05 + 1e-9
    assert pair.a.counters.echo_out == pair.a.counters.echo_in > 150
    assert pair.a.last_echo_rtt == pytest.approx(0.0)
    # We advertise our echo interval as Required Min Echo RX only with echo mode on.
    assert all(s.packet.required_min_echo_rx == 50_000 for s in pair.wire)


def test_echo_rate_follows_a_slower_peer() -> None:
    pair = Pair(a_params=ECHO, b_params=SessionParams(echo_mode=True, echo_interval=200_000))
    pair.run_for(3)
    start = pair.now
    pair.run_for(10)
    times = [t for t, name in pair.echoes if name == "a" and t >= start]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.2 - 1e-9  # §6.8.9: never faster than the peer's minimum
    assert pair.a.echo_transmit_interval == 200_000


def test_lost_echoes_take_the_session_down_with_diag_2() -> None:
    pair = Pair(a_params=ECHO, b_params=ECHO)
    pair.run_for(3)
    pair.echo_loop = False  # control packets still flow, echoes do not come back
    t0 = pair.now
    pair.run_for(1)
    down = next(
        e for n, e in pair.events if n == "a" and isinstance(e, StateChanged) and e.at >= t0
    )
    assert (down.old, down.new, down.diag) == (
        State.UP,
        State.DOWN,
        Diagnostic.ECHO_FUNCTION_FAILED,
    )
    assert down.at - t0 <= 3 * 0.05 + 1e-9  # Detect Mult echo intervals
    # a tells b at once, with diag 2; the control path is fine, so they come back up later.
    told = next(x for x in pair.sent_by("a", since=down.at))
    assert (told.at, told.packet.state, told.packet.diag) == (down.at, State.DOWN, 2)


def test_no_echo_when_the_peer_does_not_loop_them() -> None:
    pair = Pair(a_params=ECHO)  # b advertises Required Min Echo RX 0 (§6.8.9: must not send)
    pair.run_for(10)
    assert pair.both_up()
    assert pair.echoes == [] and not pair.a.echo_active
    assert all(s.packet.required_min_echo_rx == 0 for s in pair.sent_by("b"))


def test_no_echo_before_up() -> None:
    pair = Pair(a_params=ECHO, b_params=ECHO)
    pair.a_to_b = False
    pair.run_for(10)
    assert pair.echoes == []


def test_no_echo_on_multihop() -> None:
    session = Session(A_DISC, ECHO, 0.0, multihop=True)
    assert not session.echo_active
    (packet,) = session.packets_to_send(0.0)
    assert packet[20:24] == bytes(4)  # Required Min Echo RX Interval 0 (RFC 5883)


def test_echo_drops() -> None:
    pair = Pair(a_params=ECHO, b_params=ECHO)
    pair.run_for(3)
    now = pair.now
    assert pair.a.receive_echo(b"garbage", now) == [PacketDropped(DropReason.ECHO_MALFORMED)]
    foreign = encode_echo(EchoPacket(A_DISC + 1, 1, 0))
    assert pair.a.receive_echo(foreign, now) == [PacketDropped(DropReason.ECHO_NOT_OURS)]
    idle = Session(A_DISC, ECHO, 0.0)
    own = encode_echo(EchoPacket(A_DISC, 1, 0))
    assert idle.receive_echo(own, 0.0) == [PacketDropped(DropReason.ECHO_NOT_ACTIVE)]
    assert pair.a.counters.drops == {DropReason.ECHO_MALFORMED: 1, DropReason.ECHO_NOT_OURS: 1}


def test_echo_stops_when_echo_mode_is_switched_off() -> None:
    pair = Pair(a_params=ECHO, b_params=ECHO)
    pair.run_for(3)
    pair.a.update_params(SessionParams(), pair.now)
    count = len([e for e in pair.echoes if e[1] == "a"])
    pair.run_for(3)
    assert len([e for e in pair.echoes if e[1] == "a"]) == count and pair.both_up()
    # a no longer advertises Required Min Echo RX, so b must stop too (§6.8.6).
    assert not pair.a.echo_active and not pair.b.echo_active


@pytest.mark.parametrize(
    ("peer_tx", "late_by", "diag"),
    [
        # Echo detection (3 × 50 ms) expires long before control detection (3 × 300 ms).
        (300_000, 5.0, Diagnostic.ECHO_FUNCTION_FAILED),
        # With the peer sending every 10 ms, control detection (3 × 10 ms) expires first.
        (10_000, 5.0, Diagnostic.CONTROL_DETECTION_TIME_EXPIRED),
    ],
)
def test_a_late_timer_call_fires_the_earliest_expired_detection(
    peer_tx: int, late_by: float, diag: Diagnostic
) -> None:
    session = Session(A_DISC, SessionParams(echo_mode=True, required_min_rx=10_000), 0.0)
    session.packets_to_send(0.0)
    up = ControlPacket(State.INIT, 0x99, A_DISC, 3, peer_tx, 10_000, required_min_echo_rx=50_000)
    session.receive_packet(encode(up), 255, 0.1)
    assert (session.state, session.echo_active) == (State.UP, True)
    events = session.handle_timer(0.1 + late_by)  # the adapter woke up very late
    changes = [e for e in events if isinstance(e, StateChanged)]
    assert [(c.new, c.diag) for c in changes] == [(State.DOWN, diag)]
    assert not session.echo_active and session.next_timer() is not None
