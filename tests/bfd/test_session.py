"""Session behaviour with two cores wired back to back and an injected clock (RFC 5880 §6)."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace

import pytest

from services.bfd.core.drop import DropReason
from services.bfd.core.events import (
    PacketDropped,
    PollSequenceCompleted,
    SessionFinished,
    StateChanged,
)
from services.bfd.core.packet import (
    ControlPacket,
    Diagnostic,
    SimplePasswordAuth,
    State,
    encode,
)
from services.bfd.core.session import ADMIN_DOWN_HOLD_DETECT_TIMES, Session, SessionParams
from tests.bfd.harness import A_DISC, B_DISC, Pair, Sent


def changes(pair: Pair, who: str) -> list[StateChanged]:
    return [e for n, e in pair.events if n == who and isinstance(e, StateChanged)]


def up_pair(**kwargs: object) -> Pair:
    pair = Pair(**kwargs)  # type: ignore[arg-type]
    pair.run_for(3)
    assert pair.both_up()
    return pair


def test_back_to_back_sessions_come_up() -> None:
    pair = Pair()
    pair.run_for(3)
    assert pair.both_up()
    # a spoke first: b saw Down and went Init, a saw Init and went Up, then b saw Up.
    assert [(c.old, c.new) for c in changes(pair, "b")] == [
        (State.DOWN, State.INIT),
        (State.INIT, State.UP),
    ]
    assert [(c.old, c.new) for c in changes(pair, "a")] == [(State.DOWN, State.UP)]
    assert all(c.diag is Diagnostic.NO_DIAGNOSTIC for c in changes(pair, "a") + changes(pair, "b"))
    assert pair.a.remote_discriminator == B_DISC and pair.b.remote_discriminator == A_DISC
    assert pair.a.counters.up_events == 1 and pair.a.counters.last_up_at == pair.wire[0].at
    assert pair.a.counters.control_out == len(pair.sent_by("a"))
    assert pair.b.counters.control_in == len(pair.sent_by("a"))
    # First packet: Down, Your Discriminator zero, slow DesiredMinTx (§6.8.3).
    first = pair.wire[0].packet
    assert (first.state, first.your_discriminator) == (State.DOWN, 0)
    assert first.desired_min_tx >= 1_000_000 and first.required_min_rx == 300_000


def test_up_with_b_starting_later() -> None:
    pair = Pair()
    pair.b_to_a = pair.a_to_b = False
    pair.run_for(5)  # a talks into the void
    assert pair.a.state is State.DOWN and pair.a.detection_time is None
    pair.b_to_a = pair.a_to_b = True
    pair.run_for(3)
    assert pair.both_up()


def test_silence_past_detection_time_goes_down_with_diag_1() -> None:
    pair = up_pair()
    assert pair.a.detection_time == pytest.approx(3 * 0.3)  # §6.8.4: 3 × max(300 ms, 300 ms)
    pair.run_for(5)
    cut_at = pair.now
    pair.b_to_a = False
    last_from_b = max(s.at for s in pair.sent_by("b") if s.at <= cut_at)
    pair.run_for(5)
    down = changes(pair, "a")[-1]
    assert (down.old, down.new, down.diag) == (
        State.UP,
        State.DOWN,
        Diagnostic.CONTROL_DETECTION_TIME_EXPIRED,
    )
    assert down.at == pytest.approx(last_from_b + 0.9)
    assert pair.a.counters.down_events == 1 and pair.a.counters.last_down_at == down.at
    # §6.8.1: bfd.RemoteDiscr is zeroed after a silent Detection Time.
    assert pair.a.remote_discriminator == 0
    # The packets a sends afterwards say Down with diag 1, and b answers by going Down (diag 3).
    after = [s.packet for s in pair.sent_by("a", since=down.at)]
    assert after and all(p.state is State.DOWN and p.diag == 1 for p in after)
    b_down = next(c for c in changes(pair, "b") if c.old is State.UP)
    assert (b_down.new, b_down.diag) == (State.DOWN, Diagnostic.NEIGHBOR_SIGNALED_SESSION_DOWN)
    assert b_down.at == down.at  # a told b at once


def test_peer_signalling_down_gives_diag_3() -> None:
    pair = up_pair()
    pair.a_to_b = False  # b stops hearing a, goes Down (diag 1) and tells a
    pair.run_for(5)
    b_down = next(c for c in changes(pair, "b") if c.old is State.UP)
    assert b_down.diag is Diagnostic.CONTROL_DETECTION_TIME_EXPIRED
    # b keeps sending Down with diag 1; a, still hearing b, moves on to Init (it is Down→Init
    # on b's Down), which is what the RFC prescribes.
    assert pair.a.state is State.INIT
    a_down = next(c for c in changes(pair, "a") if c.old is State.UP)
    assert a_down.new is State.DOWN
    assert a_down.diag is Diagnostic.NEIGHBOR_SIGNALED_SESSION_DOWN
    # a went down on b's very first Down packet.
    first_down_from_b = next(s for s in pair.sent_by("b") if s.packet.state is State.DOWN)
    assert a_down.at == first_down_from_b.at


def test_session_recovers_after_link_returns() -> None:
    pair = up_pair()
    pair.a_to_b = pair.b_to_a = False
    pair.run_for(5)
    assert pair.a.state is State.DOWN and pair.b.state is State.DOWN
    pair.a_to_b = pair.b_to_a = True
    pair.run_for(5)
    assert pair.both_up()
    assert pair.a.counters.up_events == 2 and pair.a.counters.down_events == 1


def test_admin_down_tells_the_peer_then_goes_quiet() -> None:
    pair = up_pair()
    t0 = pair.now
    events = pair.b.admin_down(t0)
    assert events == [
        StateChanged(State.UP, State.ADMIN_DOWN, Diagnostic.ADMINISTRATIVELY_DOWN, t0)
    ]
    pair.run_for(0)
    # §6.8.16: the AdminDown packet goes out at once, diag 7; a goes Down with diag 3.
    first = pair.sent_by("b", since=t0)[0]
    assert first.at == t0 and first.packet.state is State.ADMIN_DOWN and first.packet.diag == 7
    a_down = changes(pair, "a")[-1]
    assert (a_down.new, a_down.diag, a_down.at) == (
        State.DOWN,
        Diagnostic.NEIGHBOR_SIGNALED_SESSION_DOWN,
        t0,
    )
    pair.run_for(30)
    b_sent = pair.sent_by("b", since=t0)
    assert all(s.packet.state is State.ADMIN_DOWN for s in b_sent)
    # Kept sending for a few of a's detection times (3 × 0.3 s each), then silence.
    hold = ADMIN_DOWN_HOLD_DETECT_TIMES * 3 * 0.3
    assert b_sent[-1].at <= t0 + hold and len(b_sent) >= 2
    assert pair.b.next_timer() is None
    # Packets reaching b in AdminDown are discarded (§6.8.6) and counted.
    assert pair.b.counters.drops[DropReason.SESSION_ADMIN_DOWN] > 0
    assert pair.a.state is State.DOWN and pair.b.state is State.ADMIN_DOWN
    # Leaving AdminDown: Down, then Up again with the peer.
    t1 = pair.now
    assert pair.b.admin_up(t1) == [
        StateChanged(State.ADMIN_DOWN, State.DOWN, Diagnostic.NO_DIAGNOSTIC, t1)
    ]
    pair.run_for(5)
    assert pair.both_up()
    assert pair.b.admin_up(pair.now) == []  # idempotent command
    assert pair.b.admin_down(pair.now) != [] and pair.b.admin_down(pair.now) == []


def test_delete_sends_admin_down_then_finishes() -> None:
    pair = up_pair()
    t0 = pair.now
    pair.a.delete(t0)
    pair.run_for(30)
    finished = [e for n, e in pair.events if n == "a" and isinstance(e, SessionFinished)]
    assert len(finished) == 1 and pair.a.finished
    assert finished[0].at == pytest.approx(t0 + ADMIN_DOWN_HOLD_DETECT_TIMES * 0.9)
    assert pair.b.state is State.DOWN
    assert changes(pair, "b")[-1].diag is Diagnostic.NEIGHBOR_SIGNALED_SESSION_DOWN
    assert pair.a.delete(pair.now) == []  # already finished


def test_delete_of_a_silent_admin_down_session_finishes_at_once() -> None:
    pair = up_pair()
    pair.a.admin_down(pair.now)
    pair.run_for(30)
    assert pair.a.delete(pair.now) == [SessionFinished(pair.now)]


def test_passive_waits_for_the_peer() -> None:
    passive = SessionParams(passive=True)
    pair = Pair(a_params=passive, b_params=passive)
    pair.run_for(10)
    assert pair.wire == []  # §6.1: neither side begins
    assert pair.a.next_timer() is None
    pair = Pair(a_params=passive)
    pair.run_for(3)
    assert pair.both_up()
    first_a = pair.sent_by("a")[0]
    first_b = pair.sent_by("b")[0]
    assert first_b.at <= first_a.at and first_a.packet.your_discriminator == B_DISC


def test_passive_goes_quiet_when_the_peer_disappears() -> None:
    pair = up_pair(a_params=SessionParams(passive=True))
    pair.b_to_a = False
    pair.run_for(5)
    quiet_from = pair.now
    pair.run_for(10)
    assert pair.a.remote_discriminator == 0
    assert pair.sent_by("a", since=quiet_from) == []


def test_bring_up_polls_and_answers_finals() -> None:
    pair = up_pair()
    # Entering Up lowers DesiredMinTx from the slow rate: both sides Poll (§6.8.3) and each
    # answers the other's Poll with a Final, never both bits on one packet (§6.8.7).
    for name in ("a", "b"):
        polls = [s for s in pair.sent_by(name) if s.packet.poll]
        assert polls and polls[0].packet.desired_min_tx == 300_000
        finals = [s for s in pair.sent_by(name) if s.packet.final]
        assert finals
    assert not any(s.packet.poll and s.packet.final for s in pair.wire)
    assert not pair.a.polling and not pair.b.polling


def test_poll_sequence_defers_a_slower_transmit_interval_until_final() -> None:
    withhold = {"on": True}

    def drop_finals(sent: Sent) -> bool:
        return withhold["on"] and sent.sender == "b" and sent.packet.final

    pair = up_pair()
    pair.drop = drop_finals
    t0 = pair.now
    pair.a.update_params(replace(pair.a.params, desired_min_tx=1_000_000), t0)
    assert pair.a.polling
    pair.run_for(3)
    during = pair.sent_by("a", since=t0)
    # Every periodic packet carries P and the new value...
    assert all(s.packet.poll and s.packet.desired_min_tx == 1_000_000 for s in during)
    # ...but the old 300 ms interval stays in use while no Final arrives.
    gaps = [b.at - a.at for a, b in itertools.pairwise(during)]
    assert max(gaps) <= 0.3 + 1e-9
    # b learned the new value from the Poll at once (its detection time grows: safe side).
    assert pair.b.detection_time == pytest.approx(3 * 1.0)
    withhold["on"] = False
    pair.run_for(1)
    done = [e for n, e in pair.events if n == "a" and isinstance(e, PollSequenceCompleted)]
    assert done[-1].desired_min_tx == 1_000_000
    t1 = pair.now
    pair.run_for(20)
    after = [s for s in pair.sent_by("a", since=t1) if not s.packet.final]
    assert after and not any(s.packet.poll for s in after)
    gaps = [b.at - a.at for a, b in itertools.pairwise(after)]
    assert min(gaps) >= 0.75 - 1e-9 and max(gaps) <= 1.0 + 1e-9
    assert pair.both_up()


def test_poll_sequence_defers_a_shorter_detection_time_until_final() -> None:
    withhold = {"on": True}

    def drop_finals(sent: Sent) -> bool:
        return withhold["on"] and sent.sender == "b" and sent.packet.final

    pair = up_pair(b_params=SessionParams(desired_min_tx=50_000))
    assert pair.a.detection_time == pytest.approx(0.9)  # 3 × max(300 ms rx, 50 ms tx)
    pair.drop = drop_finals
    pair.a.update_params(replace(pair.a.params, required_min_rx=100_000), pair.now)
    assert pair.a.required_min_rx == 100_000  # advertised at once
    pair.run_for(2)
    assert pair.a.detection_time == pytest.approx(0.9)  # still the old RequiredMinRx
    withhold["on"] = False
    pair.run_for(2)
    assert pair.a.detection_time == pytest.approx(0.3)  # 3 × max(100 ms, 50 ms)
    assert pair.both_up()
    # b now sends every ~100 ms (its DesiredMinTx 50 ms, our RequiredMinRx 100 ms).
    recent = pair.sent_by("b", since=pair.now - 1)
    assert len(recent) >= 9


def test_increasing_rx_applies_at_once_and_speeding_up_tx_too() -> None:
    pair = up_pair()
    pair.a.update_params(
        replace(pair.a.params, required_min_rx=600_000, desired_min_tx=100_000), pair.now
    )
    assert pair.a.detection_time == pytest.approx(3 * 0.6)
    assert pair.a.transmit_interval == 300_000  # b still requires 300 ms between packets


def test_a_received_poll_is_answered_with_final_at_once() -> None:
    session = Session(A_DISC, SessionParams(), 0.0, rng=random.Random(1))
    session.packets_to_send(0.0)
    poll = ControlPacket(State.DOWN, B_DISC, 0, 3, 1_000_000, 1_000_000, poll=True)
    session.receive_packet(encode(poll), 255, 0.1)
    (reply,) = session.packets_to_send(0.1)  # the periodic packet is not due yet
    assert reply[1] & 0x30 == 0x10  # F set, P clear
    assert session.packets_to_send(0.1) == []


def peer_packet(**kw: object) -> bytes:
    fields: dict[str, object] = {
        "state": State.DOWN,
        "my_discriminator": B_DISC,
        "your_discriminator": 0,
        "detect_mult": 3,
        "desired_min_tx": 1_000_000,
        "required_min_rx": 300_000,
    }
    fields.update(kw)
    return encode(ControlPacket(**fields))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "ttl", "multihop", "reason"),
    [
        (peer_packet(), 254, False, DropReason.TTL_NOT_255),
        (peer_packet(), 200, True, DropReason.TTL_BELOW_MINIMUM),
        (peer_packet(auth=SimplePasswordAuth(1, b"pw")), 255, False, DropReason.AUTH_NOT_IN_USE),
        (peer_packet(your_discriminator=12345), 255, False, DropReason.UNKNOWN_YOUR_DISCRIMINATOR),
        (peer_packet(state=State.UP), 255, False, DropReason.YOUR_DISCRIMINATOR_ZERO_NOT_DOWN),
        (peer_packet(detect_mult=0), 255, False, DropReason.DETECT_MULT_ZERO),
        (b"\x20\x40", 255, False, DropReason.TRUNCATED),
    ],
)
def test_session_drops_are_named_and_counted(
    data: bytes, ttl: int, multihop: bool, reason: DropReason
) -> None:
    session = Session(A_DISC, SessionParams(), 0.0, multihop=multihop)
    assert session.receive_packet(data, ttl, 1.0) == [PacketDropped(reason)]
    assert session.counters.drops == {reason: 1}
    assert session.counters.control_in == 1
    assert session.state is State.DOWN and session.remote_discriminator == 0


def test_multihop_accepts_ttl_at_the_minimum() -> None:
    session = Session(A_DISC, SessionParams(minimum_ttl=250), 0.0, multihop=True)
    assert session.receive_packet(peer_packet(), 250, 1.0) == [
        StateChanged(State.DOWN, State.INIT, Diagnostic.NO_DIAGNOSTIC, 1.0)
    ]


def test_remote_demand_mode_stops_our_periodic_packets() -> None:
    session = Session(A_DISC, SessionParams(), 0.0, rng=random.Random(3))
    session.packets_to_send(0.0)
    session.receive_packet(peer_packet(state=State.INIT, your_discriminator=A_DISC), 255, 0.5)
    assert session.state is State.UP
    session.receive_packet(
        peer_packet(state=State.UP, your_discriminator=A_DISC, demand=True), 255, 0.6
    )
    assert session.next_timer() is not None  # detection timer still runs
    assert session._next_tx is None  # §6.8.7: Demand mode active on the remote system
    session.receive_packet(
        peer_packet(state=State.UP, your_discriminator=A_DISC, demand=True, poll=True), 255, 0.7
    )
    (final,) = session.packets_to_send(0.7)
    assert final[1] & 0x10


def test_remote_min_rx_zero_stops_periodic_packets() -> None:
    session = Session(A_DISC, SessionParams(), 0.0)
    session.packets_to_send(0.0)
    session.receive_packet(peer_packet(required_min_rx=0), 255, 0.5)
    assert session.state is State.INIT
    assert session.packets_to_send(100.0) == []


def test_session_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="discriminator"):
        Session(0, SessionParams(), 0.0)
    with pytest.raises(ValueError, match="detect_mult"):
        SessionParams(detect_mult=0)
    with pytest.raises(ValueError, match="desired_min_tx"):
        SessionParams(desired_min_tx=0)
    with pytest.raises(ValueError, match="required_min_rx"):
        SessionParams(required_min_rx=-1)
    with pytest.raises(ValueError, match="minimum_ttl"):
        SessionParams(minimum_ttl=0)
