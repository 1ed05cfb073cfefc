"""Every row of the RFC 4271 §8 table, and every pair that has no row.

Each row is driven on a connection brought to its state through real events (fsm_harness.py);
the test checks the state it ends in and the NOTIFICATION it sends (RFC 4271 §6, RFC 4486,
RFC 6608), if any. Pairs with no row must raise, never be silently ignored (STYLE.md §1).
"""

from __future__ import annotations

import itertools

import pytest

from services.bgp.codec import (
    BGPNotificationError,
    CeaseSubcode,
    ErrorCode,
    FsmSubcode,
    HeaderSubcode,
)
from services.bgp.fsm import TRANSITIONS, Action, Event, State, UnknownTransitionError
from services.bgp.fsm.peer import Close, Connect
from services.bgp.fsm.table import lookup

from .fsm_harness import idle_connection, notifications, peer_in, remote_open

ROWS = sorted(TRANSITIONS, key=lambda k: (k[0], k[1]))
MISSING = sorted(
    set(itertools.product(State, Event)) - set(TRANSITIONS), key=lambda k: (k[0], k[1])
)
ERROR = BGPNotificationError(
    ErrorCode.MESSAGE_HEADER_ERROR, HeaderSubcode.BAD_MESSAGE_TYPE, b"\x09"
)

FSM_SUBCODE = {
    State.OPEN_SENT: FsmSubcode.UNEXPECTED_MESSAGE_IN_OPENSENT,
    State.OPEN_CONFIRM: FsmSubcode.UNEXPECTED_MESSAGE_IN_OPENCONFIRM,
    State.ESTABLISHED: FsmSubcode.UNEXPECTED_MESSAGE_IN_ESTABLISHED,
}


def expected_notification(action: Action, state: State) -> tuple[int, int] | None:
    return {
        Action.STOP_CEASE: (ErrorCode.CEASE, CeaseSubcode.ADMINISTRATIVE_SHUTDOWN),
        Action.HOLD_EXPIRED: (ErrorCode.HOLD_TIMER_EXPIRED, 0),
        Action.SEND_ERROR: (ERROR.code, ERROR.subcode),
        Action.COLLISION_DUMP: (ErrorCode.CEASE, CeaseSubcode.CONNECTION_COLLISION_RESOLUTION),
        Action.FSM_ERROR: (ErrorCode.FSM_ERROR, FSM_SUBCODE.get(state, 0)),
    }.get(action)


@pytest.mark.parametrize(("state", "event"), ROWS, ids=lambda x: x.name)
def test_every_row(state: State, event: Event) -> None:
    action, target = TRANSITIONS[state, event]
    if state == State.IDLE:
        peer, conn = idle_connection()
    else:
        peer, conn = peer_in(state)
    if event == Event.BGP_OPEN:
        conn.remote_open = remote_open()
    conn.fire(event, 1.0, ERROR)
    assert conn.state == target, f"{state.name} + {event.name} -> {conn.state.name}"
    actions = peer.take_actions()
    sent = notifications(actions)
    want = expected_notification(action, state)
    if want is None:
        assert sent == []
    else:
        assert sent == [want]
    if target == State.IDLE and state not in (State.IDLE,):
        # leaving for Idle always drops the connection and stops every timer
        assert any(isinstance(a, Close) for a in actions)
        assert conn.deadline() is None
    if action in (Action.START, Action.RETRY_CONNECT):
        assert any(isinstance(a, Connect) for a in actions)
        assert conn.connect_retry_at is not None
    if target == State.OPEN_SENT and state != State.OPEN_SENT:
        assert conn.hold_at == 1.0 + 240  # §8.2.2: a large hold time until the OPEN
    if action is Action.OPEN_RECEIVED:
        assert conn.hold_at == 1.0 + 9 and conn.keepalive_at == 1.0 + 3


@pytest.mark.parametrize(("state", "event"), MISSING, ids=lambda x: x.name)
def test_pairs_without_a_row_raise(state: State, event: Event) -> None:
    with pytest.raises(UnknownTransitionError):
        lookup(state, event)


def test_only_tcp_confirmations_lack_rows_past_connect() -> None:
    """The pairs without a row are exactly the ones a connection cannot receive."""
    tcp = {Event.TCP_CR_ACKED, Event.TCP_CONNECTION_CONFIRMED}
    assert {e for _, e in MISSING} <= tcp
    assert {s for s, _ in MISSING} == {State.IDLE, *FSM_SUBCODE}


def test_every_state_has_a_stop_and_both_starts() -> None:
    for state in State:
        for event in (Event.MANUAL_START, Event.AUTOMATIC_START, Event.MANUAL_STOP):
            assert (state, event) in TRANSITIONS
