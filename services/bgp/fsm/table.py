"""The RFC 4271 §8 finite state machine as a table: (state, event) -> (action, next state).

Theory of operation: one `Connection` (peer.py) runs per TCP connection. Every event it receives is
looked up here; the row names the action to run and the state the RFC says it ends in. A pair
with no row is a bug in the caller (the peer never feeds a connection an event that cannot
happen to it, for example a second TCP confirmation on the same connection) and raises
`UnknownTransitionError`: nothing is silently ignored. Rows the RFC lists under "any other
event ... is ignored" are explicit `IGNORE` rows.

Events keep the RFC 4271 §8.1 numbers. The optional ones are not implemented and have no
event: AutomaticStart with passive TCP / damping (4-7), AutomaticStop (8), IdleHoldTimer (13),
DelayOpen (12, 20), TcpConnection_Valid / Tcp_CR_Invalid (14, 15: the adapter only reports
connections it accepted). `ROUTE_REFRESH_MSG` (RFC 2918) is ours and gets a number past 28.

Where the RFC gives one event two outcomes they arrive as different events: an OPEN that
fails the configuration checks (peer AS, identifier) is BGPOpenMsgErr, one that loses a
connection collision is OpenCollisionDump, so every row has exactly one next state.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, IntEnum


class State(IntEnum):
    """RFC 4271 §8.2.2 session states (numbers as in the BGP MIB, RFC 4273)."""

    IDLE = 1
    CONNECT = 2
    ACTIVE = 3
    OPEN_SENT = 4
    OPEN_CONFIRM = 5
    ESTABLISHED = 6


class Event(IntEnum):
    """RFC 4271 §8.1 events (administrative, timer, TCP, message)."""

    MANUAL_START = 1
    MANUAL_STOP = 2
    AUTOMATIC_START = 3
    CONNECT_RETRY_TIMER_EXPIRES = 9
    HOLD_TIMER_EXPIRES = 10
    KEEPALIVE_TIMER_EXPIRES = 11
    TCP_CR_ACKED = 16
    TCP_CONNECTION_CONFIRMED = 17
    TCP_CONNECTION_FAILS = 18
    BGP_OPEN = 19
    BGP_HEADER_ERR = 21
    BGP_OPEN_MSG_ERR = 22
    OPEN_COLLISION_DUMP = 23
    NOTIF_MSG_VER_ERR = 24
    NOTIF_MSG = 25
    KEEPALIVE_MSG = 26
    UPDATE_MSG = 27
    UPDATE_MSG_ERR = 28
    ROUTE_REFRESH_MSG = 100  # RFC 2918 §4; not in RFC 4271's list


class Action(Enum):
    """What a connection does for a row; each is one `Connection._<value>` method (peer.py)."""

    IGNORE = "ignore"
    START = "start"  # Idle: reset counter, start ConnectRetryTimer, initiate TCP
    STOP = "stop"  # drop TCP, reset counter (ManualStop before OPEN was sent)
    STOP_CEASE = "stop_cease"  # ManualStop after OPEN: Cease NOTIFICATION, reset counter
    RETRY_CONNECT = "retry_connect"  # drop TCP, restart ConnectRetryTimer, initiate TCP
    SEND_OPEN = "send_open"  # TCP up: stop ConnectRetryTimer, send OPEN, hold timer 4 min
    CONNECT_FAILED = "connect_failed"  # restart ConnectRetryTimer, drop TCP
    DROP = "drop"  # release everything, drop TCP, ConnectRetryCounter += 1
    DROP_NO_COUNT = "drop_no_count"  # NotifMsgVerErr: as DROP without counting
    HOLD_EXPIRED = "hold_expired"  # NOTIFICATION Hold Timer Expired, DROP
    SEND_ERROR = "send_error"  # NOTIFICATION with the decode error, DROP
    COLLISION_DUMP = "collision_dump"  # NOTIFICATION Cease / Collision Resolution, DROP
    FSM_ERROR = "fsm_error"  # NOTIFICATION FSM Error (RFC 6608 subcode by state), DROP
    OPEN_RECEIVED = "open_received"  # negotiate, send KEEPALIVE, set hold/keepalive timers
    SEND_KEEPALIVE = "send_keepalive"  # KeepaliveTimer: send KEEPALIVE, restart the timer
    KEEPALIVE_CONFIRM = "keepalive_confirm"  # OpenConfirm -> Established
    KEEPALIVE_RECEIVED = "keepalive_received"  # Established: restart the hold timer
    UPDATE_RECEIVED = "update_received"  # count the routes (never installed), restart hold
    ROUTE_REFRESH = "route_refresh"  # re-send the Adj-RIB-Out of the family, restart hold


S, E, A = State, Event, Action
_STARTS = (E.MANUAL_START, E.AUTOMATIC_START)
_MESSAGES = (
    E.BGP_OPEN,
    E.BGP_HEADER_ERR,
    E.BGP_OPEN_MSG_ERR,
    E.OPEN_COLLISION_DUMP,
    E.NOTIF_MSG_VER_ERR,
    E.NOTIF_MSG,
    E.KEEPALIVE_MSG,
    E.UPDATE_MSG,
    E.UPDATE_MSG_ERR,
    E.ROUTE_REFRESH_MSG,
)


def _build() -> dict[tuple[State, Event], tuple[Action, State]]:
    t: dict[tuple[State, Event], tuple[Action, State]] = {}
    # Idle (§8.2.2): the starts move to Connect; ManualStop and every other event are ignored.
    for ev in _STARTS:
        t[S.IDLE, ev] = (A.START, S.CONNECT)
    for ev in (
        E.MANUAL_STOP,
        E.CONNECT_RETRY_TIMER_EXPIRES,
        E.HOLD_TIMER_EXPIRES,
        E.KEEPALIVE_TIMER_EXPIRES,
        E.TCP_CONNECTION_FAILS,
        *_MESSAGES,
    ):
        t[S.IDLE, ev] = (A.IGNORE, S.IDLE)

    # Connect
    for ev in _STARTS:
        t[S.CONNECT, ev] = (A.IGNORE, S.CONNECT)
    t[S.CONNECT, E.MANUAL_STOP] = (A.STOP, S.IDLE)
    t[S.CONNECT, E.CONNECT_RETRY_TIMER_EXPIRES] = (A.RETRY_CONNECT, S.CONNECT)
    t[S.CONNECT, E.TCP_CR_ACKED] = (A.SEND_OPEN, S.OPEN_SENT)
    t[S.CONNECT, E.TCP_CONNECTION_CONFIRMED] = (A.SEND_OPEN, S.OPEN_SENT)
    t[S.CONNECT, E.TCP_CONNECTION_FAILS] = (A.CONNECT_FAILED, S.ACTIVE)
    # "any other event (8, 10-11, 13, 19, 23, 25-28)": drop, count, Idle
    for ev in (E.HOLD_TIMER_EXPIRES, E.KEEPALIVE_TIMER_EXPIRES, *_MESSAGES):
        t[S.CONNECT, ev] = (A.DROP, S.IDLE)
    # without DelayOpen, header and OPEN errors cannot reach Connect; they still drop

    # Active
    for ev in _STARTS:
        t[S.ACTIVE, ev] = (A.IGNORE, S.ACTIVE)
    t[S.ACTIVE, E.MANUAL_STOP] = (A.STOP, S.IDLE)
    t[S.ACTIVE, E.CONNECT_RETRY_TIMER_EXPIRES] = (A.RETRY_CONNECT, S.CONNECT)
    t[S.ACTIVE, E.TCP_CR_ACKED] = (A.SEND_OPEN, S.OPEN_SENT)
    t[S.ACTIVE, E.TCP_CONNECTION_CONFIRMED] = (A.SEND_OPEN, S.OPEN_SENT)
    t[S.ACTIVE, E.TCP_CONNECTION_FAILS] = (A.DROP, S.IDLE)
    for ev in (E.HOLD_TIMER_EXPIRES, E.KEEPALIVE_TIMER_EXPIRES, *_MESSAGES):
        t[S.ACTIVE, ev] = (A.DROP, S.IDLE)

    # OpenSent
    for ev in _STARTS:
        t[S.OPEN_SENT, ev] = (A.IGNORE, S.OPEN_SENT)
    t[S.OPEN_SENT, E.MANUAL_STOP] = (A.STOP_CEASE, S.IDLE)
    t[S.OPEN_SENT, E.HOLD_TIMER_EXPIRES] = (A.HOLD_EXPIRED, S.IDLE)
    t[S.OPEN_SENT, E.TCP_CONNECTION_FAILS] = (A.CONNECT_FAILED, S.ACTIVE)
    t[S.OPEN_SENT, E.BGP_OPEN] = (A.OPEN_RECEIVED, S.OPEN_CONFIRM)
    t[S.OPEN_SENT, E.BGP_HEADER_ERR] = (A.SEND_ERROR, S.IDLE)
    t[S.OPEN_SENT, E.BGP_OPEN_MSG_ERR] = (A.SEND_ERROR, S.IDLE)
    t[S.OPEN_SENT, E.OPEN_COLLISION_DUMP] = (A.COLLISION_DUMP, S.IDLE)
    t[S.OPEN_SENT, E.NOTIF_MSG_VER_ERR] = (A.DROP_NO_COUNT, S.IDLE)
    # "any other event (9, 11-13, 20, 25-28)": FSM Error NOTIFICATION, Idle
    for ev in (
        E.CONNECT_RETRY_TIMER_EXPIRES,
        E.KEEPALIVE_TIMER_EXPIRES,
        E.NOTIF_MSG,
        E.KEEPALIVE_MSG,
        E.UPDATE_MSG,
        E.UPDATE_MSG_ERR,
        E.ROUTE_REFRESH_MSG,
    ):
        t[S.OPEN_SENT, ev] = (A.FSM_ERROR, S.IDLE)

    # OpenConfirm
    for ev in _STARTS:
        t[S.OPEN_CONFIRM, ev] = (A.IGNORE, S.OPEN_CONFIRM)
    t[S.OPEN_CONFIRM, E.MANUAL_STOP] = (A.STOP_CEASE, S.IDLE)
    t[S.OPEN_CONFIRM, E.HOLD_TIMER_EXPIRES] = (A.HOLD_EXPIRED, S.IDLE)
    t[S.OPEN_CONFIRM, E.KEEPALIVE_TIMER_EXPIRES] = (A.SEND_KEEPALIVE, S.OPEN_CONFIRM)
    t[S.OPEN_CONFIRM, E.TCP_CONNECTION_FAILS] = (A.DROP, S.IDLE)
    t[S.OPEN_CONFIRM, E.NOTIF_MSG] = (A.DROP, S.IDLE)
    t[S.OPEN_CONFIRM, E.NOTIF_MSG_VER_ERR] = (A.DROP_NO_COUNT, S.IDLE)
    t[S.OPEN_CONFIRM, E.BGP_HEADER_ERR] = (A.SEND_ERROR, S.IDLE)
    t[S.OPEN_CONFIRM, E.BGP_OPEN_MSG_ERR] = (A.SEND_ERROR, S.IDLE)
    t[S.OPEN_CONFIRM, E.OPEN_COLLISION_DUMP] = (A.COLLISION_DUMP, S.IDLE)
    t[S.OPEN_CONFIRM, E.KEEPALIVE_MSG] = (A.KEEPALIVE_CONFIRM, S.ESTABLISHED)
    # "any other event (9, 12-13, 20, 27-28)", and a second OPEN on this same connection
    for ev in (
        E.CONNECT_RETRY_TIMER_EXPIRES,
        E.BGP_OPEN,
        E.UPDATE_MSG,
        E.UPDATE_MSG_ERR,
        E.ROUTE_REFRESH_MSG,
    ):
        t[S.OPEN_CONFIRM, ev] = (A.FSM_ERROR, S.IDLE)

    # Established
    for ev in _STARTS:
        t[S.ESTABLISHED, ev] = (A.IGNORE, S.ESTABLISHED)
    t[S.ESTABLISHED, E.MANUAL_STOP] = (A.STOP_CEASE, S.IDLE)
    t[S.ESTABLISHED, E.HOLD_TIMER_EXPIRES] = (A.HOLD_EXPIRED, S.IDLE)
    t[S.ESTABLISHED, E.KEEPALIVE_TIMER_EXPIRES] = (A.SEND_KEEPALIVE, S.ESTABLISHED)
    t[S.ESTABLISHED, E.TCP_CONNECTION_FAILS] = (A.DROP, S.IDLE)
    t[S.ESTABLISHED, E.NOTIF_MSG] = (A.DROP, S.IDLE)
    t[S.ESTABLISHED, E.NOTIF_MSG_VER_ERR] = (A.DROP, S.IDLE)
    t[S.ESTABLISHED, E.OPEN_COLLISION_DUMP] = (A.COLLISION_DUMP, S.IDLE)
    t[S.ESTABLISHED, E.KEEPALIVE_MSG] = (A.KEEPALIVE_RECEIVED, S.ESTABLISHED)
    t[S.ESTABLISHED, E.UPDATE_MSG] = (A.UPDATE_RECEIVED, S.ESTABLISHED)
    t[S.ESTABLISHED, E.UPDATE_MSG_ERR] = (A.SEND_ERROR, S.IDLE)
    t[S.ESTABLISHED, E.ROUTE_REFRESH_MSG] = (A.ROUTE_REFRESH, S.ESTABLISHED)
    t[S.ESTABLISHED, E.BGP_HEADER_ERR] = (A.SEND_ERROR, S.IDLE)
    t[S.ESTABLISHED, E.BGP_OPEN_MSG_ERR] = (A.SEND_ERROR, S.IDLE)
    # "any other event (9, 12-13, 20-22)", and an OPEN on an established connection
    for ev in (E.CONNECT_RETRY_TIMER_EXPIRES, E.BGP_OPEN):
        t[S.ESTABLISHED, ev] = (A.FSM_ERROR, S.IDLE)
    return t


TRANSITIONS: Mapping[tuple[State, Event], tuple[Action, State]] = _build()


class UnknownTransitionError(Exception):
    """An event that cannot happen in this state reached the FSM: a bug in the caller."""

    def __init__(self, state: State, event: Event) -> None:
        super().__init__(f"no transition for {event.name} in {state.name}")
        self.state = state
        self.event = event


def lookup(state: State, event: Event) -> tuple[Action, State]:
    try:
        return TRANSITIONS[state, event]
    except KeyError:
        raise UnknownTransitionError(state, event) from None
