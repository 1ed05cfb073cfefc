"""The BFD session state machine as an explicit table (RFC 5880 §6.2, §6.8.6, §6.8.16).

Theory of operation
-------------------
RFC 5880 §6.2 draws the machine over three states plus AdminDown; §6.8.6 spells out which
received State moves the session where, §6.8.4 adds the detection timer, §6.8.5/§6.8.9 the echo
detection timer and §6.8.16 the administrative control. `TRANSITIONS` lists every legal
(state, event) pair with its next state and the diagnostic to record (`KEEP` leaves
bfd.LocalDiag alone). A pair not in the table is a bug in the caller — for example a received
packet reaching a session in AdminDown, which §6.8.6 discards before it gets here — so
`transition()` raises `InvalidTransitionError` rather than silently doing nothing.

Diagnostics follow RFC 5880 §4.1: 1 when the detection time expires, 2 when the echo function
fails, 3 when the neighbour signals Down or AdminDown, 7 on local AdminDown. Entering Up clears
the diagnostic (it describes the last change, which is now "came up"); Init keeps the reason the
session last went down, as BIRD and FRR do.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

from services.bfd.core.packet import Diagnostic, State

__all__ = ["KEEP", "TRANSITIONS", "FsmEvent", "InvalidTransitionError", "received", "transition"]


class FsmEvent(enum.Enum):
    RECEIVED_ADMIN_DOWN = "received_admin_down"
    RECEIVED_DOWN = "received_down"
    RECEIVED_INIT = "received_init"
    RECEIVED_UP = "received_up"
    DETECTION_TIME_EXPIRED = "detection_time_expired"  # RFC 5880 §6.8.4
    ECHO_DETECTION_TIME_EXPIRED = "echo_detection_time_expired"  # RFC 5880 §6.8.5
    ADMIN_DOWN = "admin_down"  # RFC 5880 §6.8.16, local signal
    ADMIN_UP = "admin_up"  # RFC 5880 §6.8.16, local signal


_RECEIVED: Final = {
    State.ADMIN_DOWN: FsmEvent.RECEIVED_ADMIN_DOWN,
    State.DOWN: FsmEvent.RECEIVED_DOWN,
    State.INIT: FsmEvent.RECEIVED_INIT,
    State.UP: FsmEvent.RECEIVED_UP,
}


def received(state: State) -> FsmEvent:
    """The event for a received packet whose State field is `state`."""
    return _RECEIVED[state]


class _Keep(enum.Enum):
    KEEP = "keep"


KEEP: Final = _Keep.KEEP

_ADMIN = State.ADMIN_DOWN
_DOWN = State.DOWN
_INIT = State.INIT
_UP = State.UP
_E = FsmEvent
_D = Diagnostic

TRANSITIONS: Mapping[tuple[State, FsmEvent], tuple[State, Diagnostic | _Keep]] = {
    # RFC 5880 §6.8.16: leaving AdminDown puts the session in Down.
    (_ADMIN, _E.ADMIN_UP): (_DOWN, _D.NO_DIAGNOSTIC),
    # Down (RFC 5880 §6.8.6 "If bfd.SessionState is Down").
    (_DOWN, _E.RECEIVED_ADMIN_DOWN): (_DOWN, KEEP),  # §6.8.6: AdminDown only acts if not Down
    (_DOWN, _E.RECEIVED_DOWN): (_INIT, KEEP),  # §6.8.6: "If received State is Down → Init"
    (_DOWN, _E.RECEIVED_INIT): (_UP, _D.NO_DIAGNOSTIC),  # §6.8.6: "received State is Init → Up"
    (_DOWN, _E.RECEIVED_UP): (_DOWN, KEEP),  # §6.2 diagram: UP loops on Down
    (_DOWN, _E.DETECTION_TIME_EXPIRED): (_DOWN, KEEP),  # §6.2 diagram: TIMER loops on Down
    (_DOWN, _E.ADMIN_DOWN): (_ADMIN, _D.ADMINISTRATIVELY_DOWN),  # §6.8.16
    # Init (§6.8.6 "Else if bfd.SessionState is Init").
    (_INIT, _E.RECEIVED_ADMIN_DOWN): (_DOWN, _D.NEIGHBOR_SIGNALED_SESSION_DOWN),  # §6.8.6
    (_INIT, _E.RECEIVED_DOWN): (_INIT, KEEP),  # §6.2 diagram: DOWN loops on Init
    (_INIT, _E.RECEIVED_INIT): (_UP, _D.NO_DIAGNOSTIC),  # §6.8.6: "Init or Up → Up"
    (_INIT, _E.RECEIVED_UP): (_UP, _D.NO_DIAGNOSTIC),
    (_INIT, _E.DETECTION_TIME_EXPIRED): (_DOWN, _D.CONTROL_DETECTION_TIME_EXPIRED),  # §6.8.4
    (_INIT, _E.ADMIN_DOWN): (_ADMIN, _D.ADMINISTRATIVELY_DOWN),
    # Up (§6.8.6 "Else (bfd.SessionState is Up)").
    (_UP, _E.RECEIVED_ADMIN_DOWN): (_DOWN, _D.NEIGHBOR_SIGNALED_SESSION_DOWN),  # §6.8.6
    (_UP, _E.RECEIVED_DOWN): (_DOWN, _D.NEIGHBOR_SIGNALED_SESSION_DOWN),  # §6.8.6
    (_UP, _E.RECEIVED_INIT): (_UP, KEEP),  # §6.2 diagram: INIT, UP loop on Up
    (_UP, _E.RECEIVED_UP): (_UP, KEEP),
    (_UP, _E.DETECTION_TIME_EXPIRED): (_DOWN, _D.CONTROL_DETECTION_TIME_EXPIRED),  # §6.8.4
    (_UP, _E.ECHO_DETECTION_TIME_EXPIRED): (_DOWN, _D.ECHO_FUNCTION_FAILED),  # §6.8.5
    (_UP, _E.ADMIN_DOWN): (_ADMIN, _D.ADMINISTRATIVELY_DOWN),
}


class InvalidTransitionError(RuntimeError):
    """An event arrived in a state where the RFC defines no transition: a caller bug."""

    def __init__(self, state: State, event: FsmEvent) -> None:
        super().__init__(f"no BFD transition for event {event.value} in state {state.name}")
        self.state = state
        self.event = event


def transition(state: State, event: FsmEvent) -> tuple[State, Diagnostic | _Keep]:
    """Look up (state, event); raise `InvalidTransitionError` if the table has no row."""
    try:
        return TRANSITIONS[state, event]
    except KeyError:
        raise InvalidTransitionError(state, event) from None
