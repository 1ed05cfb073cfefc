"""Every row of the transition table, reached through the Session API with a scripted peer."""

from __future__ import annotations

import random

import pytest

from services.bfd.core.events import StateChanged
from services.bfd.core.fsm import KEEP, TRANSITIONS, FsmEvent
from services.bfd.core.packet import ControlPacket, Diagnostic, State, encode
from services.bfd.core.session import Session, SessionParams

LOCAL = 0x1234
PEER = 0x5678
ECHO = SessionParams(echo_mode=True)


def from_peer(state: State, session: Session, now: float) -> list[StateChanged]:
    packet = ControlPacket(
        state,
        my_discriminator=PEER,
        your_discriminator=LOCAL,
        detect_mult=3,
        desired_min_tx=300_000,
        required_min_rx=300_000,
        required_min_echo_rx=50_000,
    )
    events = session.receive_packet(encode(packet), 255, now)
    session.packets_to_send(now)
    return [e for e in events if isinstance(e, StateChanged)]


def session_in(state: State) -> Session:
    session = Session(LOCAL, ECHO, 0.0, rng=random.Random(1))
    session.packets_to_send(0.0)
    if state is State.DOWN:
        from_peer(State.UP, session, 0.1)  # Down + Up stays Down, but starts detection
    elif state is State.INIT:
        from_peer(State.DOWN, session, 0.1)
    elif state is State.UP:
        from_peer(State.INIT, session, 0.1)
    else:
        session.admin_down(0.1)
    assert session.state is state
    return session


def apply(session: Session, event: FsmEvent, now: float) -> list[StateChanged]:
    if event is FsmEvent.ADMIN_DOWN:
        return [e for e in session.admin_down(now) if isinstance(e, StateChanged)]
    if event is FsmEvent.ADMIN_UP:
        return [e for e in session.admin_up(now) if isinstance(e, StateChanged)]
    if event in (FsmEvent.DETECTION_TIME_EXPIRED, FsmEvent.ECHO_DETECTION_TIME_EXPIRED):
        if event is FsmEvent.DETECTION_TIME_EXPIRED:
            session.params = SessionParams()  # no echo: only the control timer can fire
            session.update_params(session.params, now)
        out: list[StateChanged] = []
        while not out:
            t = session.next_timer()
            assert t is not None
            out += [e for e in session.handle_timer(t) if isinstance(e, StateChanged)]
            session.packets_to_send(t)
            session.echo_packets_to_send(t)  # sent, never looped back
            if t > now + 10:
                return out  # a self-loop (Down + timer) changes nothing
        return out
    state = {
        FsmEvent.RECEIVED_ADMIN_DOWN: State.ADMIN_DOWN,
        FsmEvent.RECEIVED_DOWN: State.DOWN,
        FsmEvent.RECEIVED_INIT: State.INIT,
        FsmEvent.RECEIVED_UP: State.UP,
    }[event]
    return from_peer(state, session, now)


@pytest.mark.parametrize(("state", "event"), sorted(TRANSITIONS.keys(), key=str))
def test_row_through_the_session(state: State, event: FsmEvent) -> None:
    new_state, diag = TRANSITIONS[state, event]
    session = session_in(state)
    diag_before = session.local_diag
    changes = apply(session, event, 0.2)
    assert session.state is new_state
    expected_diag = diag_before if diag is KEEP else diag
    assert session.local_diag is expected_diag
    if new_state is state:
        assert changes == []
    else:
        assert [(c.old, c.new, c.diag) for c in changes] == [(state, new_state, expected_diag)]
    if (state, event) == (State.DOWN, FsmEvent.DETECTION_TIME_EXPIRED):
        assert session.remote_discriminator == 0  # RFC 5880 §6.8.1


def test_init_times_out_with_diag_1() -> None:
    session = session_in(State.INIT)
    # §6.8.4: 3 × max(our 300 ms, the peer's 300 ms) after the last packet at 0.1 s.
    assert session.detection_time == pytest.approx(0.9)
    assert session.handle_timer(0.99) == []
    [change] = session.handle_timer(1.0 + 1e-9)
    assert change == StateChanged(
        State.INIT, State.DOWN, Diagnostic.CONTROL_DETECTION_TIME_EXPIRED, 1.0 + 1e-9
    )
