"""The RFC 5880 §6.2 transition table: every row, and every pair outside it is an error."""

from __future__ import annotations

import itertools

import pytest

from services.bfd.core.fsm import (
    KEEP,
    TRANSITIONS,
    FsmEvent,
    InvalidTransitionError,
    received,
    transition,
)
from services.bfd.core.packet import Diagnostic, State

D = Diagnostic
E = FsmEvent
S = State

# The expected table, written out from RFC 5880 §6.2 and §6.8.6 independently of the code.
EXPECTED = {
    (S.ADMIN_DOWN, E.ADMIN_UP): (S.DOWN, D.NO_DIAGNOSTIC),
    (S.DOWN, E.RECEIVED_ADMIN_DOWN): (S.DOWN, KEEP),
    (S.DOWN, E.RECEIVED_DOWN): (S.INIT, KEEP),
    (S.DOWN, E.RECEIVED_INIT): (S.UP, D.NO_DIAGNOSTIC),
    (S.DOWN, E.RECEIVED_UP): (S.DOWN, KEEP),
    (S.DOWN, E.DETECTION_TIME_EXPIRED): (S.DOWN, KEEP),
    (S.DOWN, E.ADMIN_DOWN): (S.ADMIN_DOWN, D.ADMINISTRATIVELY_DOWN),
    (S.INIT, E.RECEIVED_ADMIN_DOWN): (S.DOWN, D.NEIGHBOR_SIGNALED_SESSION_DOWN),
    (S.INIT, E.RECEIVED_DOWN): (S.INIT, KEEP),
    (S.INIT, E.RECEIVED_INIT): (S.UP, D.NO_DIAGNOSTIC),
    (S.INIT, E.RECEIVED_UP): (S.UP, D.NO_DIAGNOSTIC),
    (S.INIT, E.DETECTION_TIME_EXPIRED): (S.DOWN, D.CONTROL_DETECTION_TIME_EXPIRED),
    (S.INIT, E.ADMIN_DOWN): (S.ADMIN_DOWN, D.ADMINISTRATIVELY_DOWN),
    (S.UP, E.RECEIVED_ADMIN_DOWN): (S.DOWN, D.NEIGHBOR_SIGNALED_SESSION_DOWN),
    (S.UP, E.RECEIVED_DOWN): (S.DOWN, D.NEIGHBOR_SIGNALED_SESSION_DOWN),
    (S.UP, E.RECEIVED_INIT): (S.UP, KEEP),
    (S.UP, E.RECEIVED_UP): (S.UP, KEEP),
    (S.UP, E.DETECTION_TIME_EXPIRED): (S.DOWN, D.CONTROL_DETECTION_TIME_EXPIRED),
    (S.UP, E.ECHO_DETECTION_TIME_EXPIRED): (S.DOWN, D.ECHO_FUNCTION_FAILED),
    (S.UP, E.ADMIN_DOWN): (S.ADMIN_DOWN, D.ADMINISTRATIVELY_DOWN),
}


def test_table_is_exactly_the_rfc_table() -> None:
    assert dict(TRANSITIONS) == EXPECTED


@pytest.mark.parametrize(("state", "event"), list(itertools.product(State, FsmEvent)))
def test_every_pair_is_a_row_or_an_error(state: State, event: FsmEvent) -> None:
    if (state, event) in EXPECTED:
        assert transition(state, event) == EXPECTED[state, event]
    else:
        with pytest.raises(InvalidTransitionError) as info:
            transition(state, event)
        assert info.value.state is state and info.value.event is event
        assert state.name in str(info.value)


def test_received_maps_every_state() -> None:
    assert [received(s) for s in State] == [
        E.RECEIVED_ADMIN_DOWN,
        E.RECEIVED_DOWN,
        E.RECEIVED_INIT,
        E.RECEIVED_UP,
    ]
