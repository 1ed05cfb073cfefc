"""One BGP peer, sans-I/O: its connections' state machines, timers, Adj-RIB-Out and counters.

Theory of operation (STYLE.md §1, the aioquic shape). The adapter feeds the peer what happened
— `start`, `stop`, `connection_made`, `incoming`, `data_received`, `connection_lost`,
`handle_timer(now)` — and after each call takes `take_actions()` (Connect / Send / Close, each
naming a connection id) and re-arms one timer at `next_deadline()`. Time is always an argument;
nothing here sleeps, reads a clock or touches a socket.

A peer owns up to two `Connection`s, each running the RFC 4271 §8 table (table.py): normally
one, two while a connection collision is being resolved (§6.8). An incoming connection is taken
over by a connection still in Connect / Active (the outgoing attempt is abandoned); while one is
in OpenSent / OpenConfirm a second state machine is created for it; when an OPEN arrives and the
other connection is in OpenConfirm, the one initiated by the side with the lower BGP Identifier
is dumped with Cease / Connection Collision Resolution (RFC 4486). An Established session
refuses new connections, except that with graceful restart a new connection means the peer
restarted (RFC 4724 §4.2): the old one is dropped without a NOTIFICATION.

When every connection has gone back to Idle the peer restarts itself (AutomaticStart) after a
back-off unless it was stopped; the back-off doubles from 1 s up to connectTime (120 s without
it) and is reset when a session reaches Established. Connection attempts in Connect / Active are
paced the same way (the ConnectRetryTimer).

Routes received are never installed; their prefixes are counted. Graceful restart (RFC 4724):
we advertise the capability with the forwarding-state bit for every family (the routes we
originate are forwarded by the node whether or not we run) and the Restart State bit on the
first session after our process started. After a restart the caller re-sends its
advertisements; until it has (`rib_ready`), an Established session sends nothing, so the peer
keeps our stale routes; then the routes go out followed by End-of-RIB for every family, and the
peer drops only the stale routes we no longer advertise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from ipaddress import IPv4Address, IPv6Address

from services.bgp.codec import (
    IPV4_UNICAST,
    IPV6_UNICAST,
    BGPNotificationError,
    CeaseSubcode,
    ErrorCode,
    Family,
    Framer,
    FsmSubcode,
    Keepalive,
    MessageType,
    Negotiated,
    Notification,
    Open,
    OpenSubcode,
    RouteRefresh,
    Update,
    end_of_rib,
    end_of_rib_family,
    negotiate,
)
from services.bgp.codec.attributes import AttributeIssue, ErrorAction
from services.bgp.codec.capabilities import (
    Capability,
    ExtendedNextHop,
    FourOctetAS,
    GracefulRestart,
    GracefulRestartFamily,
    Multiprotocol,
    NextHopEntry,
    RouteRefreshCapability,
)
from services.bgp.codec.messages import AnyMessage, decode_body
from services.bgp.codec.negotiated import AFI
from services.bgp.codec.prefixes import Prefix

from .config import GRACEFUL_RESTART_TIME, IPAddress, PeerConfig
from .received import ReceivedPrefixes
from .rib import AdjRibOut, RouteAttrs, SessionRoutingInfo, family_of
from .table import Event, State, lookup

#: Used when neither routerID nor an IPv4 session address gives one (the adapter passes better).
DEFAULT_ROUTER_ID = IPv4Address("0.0.0.1")
#: RFC 9384 §3: Cease subcode "BFD Down".
CEASE_BFD_DOWN = 10
#: RFC 4271 §8.2.2: the hold timer while waiting for the peer's OPEN ("4 minutes is suggested").
LARGE_HOLD_TIME = 240.0


class Reason(Enum):
    """Why the peer last changed state (the API's reason enum mirrors this)."""

    NONE = "none"
    ADMIN_START = "admin_start"
    AUTOMATIC_START = "automatic_start"
    CONNECTING = "connecting"
    CONNECT_FAILED = "connect_failed"
    OPEN_SENT = "open_sent"
    OPEN_RECEIVED = "open_received"
    ESTABLISHED = "established"
    CONNECTION_CLOSED = "connection_closed"
    HOLD_TIMER_EXPIRED = "hold_timer_expired"
    NOTIFICATION_RECEIVED = "notification_received"
    PROTOCOL_ERROR = "protocol_error"
    FSM_ERROR = "fsm_error"
    COLLISION = "collision"
    ADMIN_STOP = "admin_stop"
    ADMIN_RESET = "admin_reset"
    PEER_DELETED = "peer_deleted"
    CONFIG_CHANGED = "config_changed"
    BFD_DOWN = "bfd_down"
    MAX_PREFIXES = "max_prefixes"
    NEIGHBOR_CHANGED = "neighbor_changed"
    LINK_DOWN = "link_down"
    ADDRESS_CHANGED = "address_changed"


@dataclass(frozen=True)
class Connect:
    """Open a TCP connection to the peer; report it with `connection_made` / `_failed`."""

    conn: int


@dataclass(frozen=True)
class Send:
    conn: int
    data: bytes


@dataclass(frozen=True)
class Close:
    """Close the connection once what was sent on it is flushed."""

    conn: int


PeerAction = Connect | Send | Close


@dataclass
class Counters:
    sent: dict[MessageType, int] = field(default_factory=lambda: dict.fromkeys(MessageType, 0))
    received: dict[MessageType, int] = field(default_factory=lambda: dict.fromkeys(MessageType, 0))
    established_transitions: int = 0
    #: RFC 7606: UPDATEs whose routes were handled as withdrawn, attributes dropped.
    updates_treated_as_withdraw: int = 0
    attributes_discarded: int = 0


@dataclass(frozen=True)
class LastError:
    reason: Reason
    message: str
    notification: Notification | None = None
    sent: bool = False  # we sent the NOTIFICATION (else we received it)


_PROGRESS = {
    State.IDLE: 0,
    State.ACTIVE: 1,
    State.CONNECT: 2,
    State.OPEN_SENT: 3,
    State.OPEN_CONFIRM: 4,
    State.ESTABLISHED: 5,
}


class Connection:
    """One TCP connection's RFC 4271 §8 state machine."""

    def __init__(self, peer: Peer, conn: int, outgoing: bool) -> None:
        self.peer = peer
        self.conn = conn
        self.outgoing = outgoing
        self.state = State.IDLE
        self.connect_retry_at: float | None = None
        self.hold_at: float | None = None
        self.keepalive_at: float | None = None
        self.hold_time = 0
        self.keepalive_interval = 0.0
        self.framer = Framer()
        self.local: IPAddress | None = None
        self.remote: IPAddress | None = None
        self.local_open: Open | None = None
        self.remote_open: Open | None = None
        self.ctx = Negotiated()
        self.routing: SessionRoutingInfo | None = None
        self.tcp_up = False
        # the peer closed this one of two colliding connections (§6.8): not a session error
        self.dumped_by_peer = False
        self._target = State.IDLE

    # ---- the table ------------------------------------------------------------------------

    def fire(self, event: Event, now: float, error: BGPNotificationError | None = None) -> None:
        """Run the row for (state, event): its action, then its next state."""
        action, self._target = lookup(self.state, event)
        before = self.state
        getattr(self, "_" + action.value)(now, event, error)
        self.state = self._target
        if self.state != before:
            self.peer._connection_state_changed(self, before, now)

    def deadline(self) -> float | None:
        times = [t for t in (self.connect_retry_at, self.hold_at, self.keepalive_at) if t]
        return min(times) if times else None

    def graceful_restart(self) -> bool:
        """Both sides advertised graceful restart on this connection (RFC 4724 §3)."""
        if self.local_open is None or self.remote_open is None:
            return False
        return any(isinstance(c, GracefulRestart) for c in self.local_open.capabilities) and any(
            isinstance(c, GracefulRestart) for c in self.remote_open.capabilities
        )

    # ---- actions (one per table.Action) -----------------------------------------------------

    def _ignore(self, now: float, event: Event, error: BGPNotificationError | None) -> None:
        pass

    def _start(self, now: float, event: Event, error: BGPNotificationError | None) -> None:
        if event == Event.MANUAL_START:
            self.peer.connect_retry_counter = 0
        self._initiate(now)

    def _initiate(self, now: float) -> None:
        self.peer.connect_attempts += 1
        self.connect_retry_at = now + self.peer.retry_delay()
        self.conn = self.peer.new_conn_id()
        self.outgoing = True
        self.peer.emit(Connect(self.conn))
        self.peer.note(Reason.CONNECTING, "")

    def release(self) -> None:
        """Stop the timers and drop the TCP connection (or the attempt to make one)."""
        self.connect_retry_at = self.hold_at = self.keepalive_at = None
        if self.tcp_up or self.outgoing:
            self.peer.emit(Close(self.conn))
        self.tcp_up = False

    def _stop(self, now: float, event: Event, error: BGPNotificationError | None) -> None:
        self.release()
        self.peer.connect_retry_counter = 0

    def _stop_cease(self, now: float, event: Event, error: BGPNotificationError | None) -> None:
        self.send(self.peer.stop_notification)  # RFC 4486
        self._stop(now, event, error)

    def _retry_connect(self, now: float, event: Event, error: BGPNotificationError | None) -> None:
        self.release()
        self._initiate(now)

    def _send_open(self, now: float, event: Event, error: BGPNotificationError | None) -> None:
        self.connect_retry_at = None
        self.tcp_up = True
        self.local_open = self.peer.build_open(self.local)
        self.send(self.local_open)
        self.hold_at = now + LARGE_HOLD_TIME  # §8.2.2: a large value until the OPEN arrives
        self.peer.note(Reason.OPEN_SENT, "")

    def _connect_failed(self, now: float, event: Event, error: BGPNotificationError | None) -> None:
        self.release()
        self.connect_retry_at = now + self.peer.retry_delay()

    def _drop(self, now: float, event: Event, error: BGPNotificationError | None) -> None:
        self.release()
        self.peer.connect_retry_counter += 1

    def _drop_no_count(self, now: float, event: Event, error: BGPNotificationError | None) -> None:
        self.release()

    def _notify(self, now: float, notification: Notification, reason: Reason, message: str) -> None:
        self.send(notification)
        if self.dumped_by_peer:
            return  # §8.2.2 answers the dump in OpenSent with an FSM error: not the session's
        self.peer.set_error(LastError(reason, message, notification, sent=True), now)
        self.peer.note(reason, message)

    def _hold_expired(self, now: float, event: Event, error: BGPNotificationError | None) -> None:
        self._notify(
            now,
            Notification(ErrorCode.HOLD_TIMER_EXPIRED, 0),  # §6.5
            Reason.HOLD_TIMER_EXPIRED,
            f"no message from the peer for {self.hold_time or LARGE_HOLD_TIME:g} s",
        )
        self._drop(now, event, error)

    def _send_error(self, now: float, event: Event, error: BGPNotificationError | None) -> None:
        assert error is not None
        # §6: the decode error is the NOTIFICATION to send
        self._notify(now, Notification.from_error(error), Reason.PROTOCOL_ERROR, str(error))
        self._drop(now, event, error)

    def _collision_dump(self, now: float, event: Event, error: BGPNotificationError | None) -> None:
        self.send(Notification(ErrorCode.CEASE, CeaseSubcode.CONNECTION_COLLISION_RESOLUTION))
        self.peer.note(Reason.COLLISION, "connection collision resolved (§6.8)")
        self._drop(now, event, error)

    def _fsm_error(self, now: float, event: Event, error: BGPNotificationError | None) -> None:
        subcode = {  # RFC 6608 §3
            State.OPEN_SENT: FsmSubcode.UNEXPECTED_MESSAGE_IN_OPENSENT,
            State.OPEN_CONFIRM: FsmSubcode.UNEXPECTED_MESSAGE_IN_OPENCONFIRM,
            State.ESTABLISHED: FsmSubcode.UNEXPECTED_MESSAGE_IN_ESTABLISHED,
        }.get(self.state, FsmSubcode.UNSPECIFIED)
        self._notify(
            now,
            Notification(ErrorCode.FSM_ERROR, subcode),
            Reason.FSM_ERROR,
            f"{event.name} in {self.state.name}",
        )
        self._drop(now, event, error)

    def _open_received(self, now: float, event: Event, error: BGPNotificationError | None) -> None:
        assert self.local_open is not None and self.remote_open is not None
        self.ctx = negotiate(self.local_open, self.remote_open)
        self.framer.negotiated = self.ctx
        self.hold_time = self.ctx.hold_time
        if self.hold_time:
            configured = self.peer.config.keepalive_time or self.hold_time / 3
            self.keepalive_interval = max(1.0, min(configured, self.hold_time / 3))
        else:
            self.keepalive_interval = 0.0  # §4.4: hold time 0, no KEEPALIVEs
        self.send(Keepalive())
        self._restart_hold(now)
        self._restart_keepalive(now)
        self.peer.note(Reason.OPEN_RECEIVED, "")

    def _restart_hold(self, now: float) -> None:
        self.hold_at = now + self.hold_time if self.hold_time else None

    def _restart_keepalive(self, now: float) -> None:
        self.keepalive_at = now + self.keepalive_interval if self.keepalive_interval else None

    def _send_keepalive(self, now: float, event: Event, error: BGPNotificationError | None) -> None:
        self.send(Keepalive())
        self._restart_keepalive(now)

    def _keepalive_confirm(
        self, now: float, event: Event, error: BGPNotificationError | None
    ) -> None:
        self._restart_hold(now)
        self.state = State.ESTABLISHED
        self.peer.session_established(self, now)

    def _keepalive_received(
        self, now: float, event: Event, error: BGPNotificationError | None
    ) -> None:
        self._restart_hold(now)

    def _update_received(
        self, now: float, event: Event, error: BGPNotificationError | None
    ) -> None:
        self._restart_hold(now)

    def _route_refresh(self, now: float, event: Event, error: BGPNotificationError | None) -> None:
        self._restart_hold(now)

    # ---- messages --------------------------------------------------------------------------

    def send(self, message: AnyMessage) -> None:
        if not self.tcp_up:
            return
        self.peer.emit(Send(self.conn, message.encode(self.ctx)))
        self.peer.counters.sent[message.TYPE] += 1

    def send_raw(self, kind: MessageType, data: bytes, count: int) -> None:
        if not self.tcp_up:
            return
        self.peer.emit(Send(self.conn, data))
        self.peer.counters.sent[kind] += count

    def receive(self, data: bytes, now: float) -> None:
        """Bytes from TCP: frame, decode, and feed each message to the table."""
        try:
            self.framer.feed(data)  # buffers; the framer raises only if already dead
        except BGPNotificationError:
            return
        while self.state != State.IDLE:  # bounded: every pass consumes a whole frame
            try:
                frame = self.framer.next_frame()
            except BGPNotificationError as err:
                self.fire(Event.BGP_HEADER_ERR, now, err)
                return
            if frame is None:
                return
            kind, body = frame
            self.peer.counters.received[kind] += 1
            try:
                message = decode_body(kind, body, self.framer.negotiated)
            except BGPNotificationError as err:
                # OPEN -> BGPOpenMsgErr, UPDATE -> UpdateMsgErr; a malformed NOTIFICATION,
                # KEEPALIVE or ROUTE-REFRESH is a message-level error like a header error.
                event = {
                    MessageType.OPEN: Event.BGP_OPEN_MSG_ERR,
                    MessageType.UPDATE: Event.UPDATE_MSG_ERR,
                }.get(kind, Event.BGP_HEADER_ERR)
                self.fire(event, now, err)
                return
            self.peer.message(self, message, now)


class Peer:
    """A configured peer: its connection(s), routes, counters and observed state."""

    def __init__(
        self,
        config: PeerConfig,
        now: float,
        *,
        default_router_id: IPv4Address = DEFAULT_ROUTER_ID,
        restarting: bool = False,
    ) -> None:
        self.config = config
        self.default_router_id = default_router_id
        self.restarting = restarting and config.graceful_restart
        self.rib = AdjRibOut()
        self.rib_ready = False
        self.counters = Counters()
        self.connections: list[Connection] = []
        self.admin_up = False
        self.auto_start_at: float | None = None
        self.connect_retry_counter = 0
        self.connect_attempts = 0
        self.state = State.IDLE
        self.state_since = now
        self.established_since: float | None = None
        self.reason = Reason.NONE
        self.reason_message = ""
        self.last_error: LastError | None = None
        self.last_error_at = 0.0  # when it happened (the core's clock)
        self.received = ReceivedPrefixes(config.max_prefixes)
        #: Whether max_prefixes was reached on this session (drop-and-warn: counting stopped).
        self.prefix_limit_reached = False
        self.eor_received: set[Family] = set()
        self.eor_sent: set[Family] = set()
        #: The last malformed attribute handled without a reset (RFC 7606), for logs and state.
        self.last_attribute_issue: AttributeIssue | None = None
        self.stop_notification = Notification(ErrorCode.CEASE, CeaseSubcode.ADMINISTRATIVE_SHUTDOWN)
        #: Next hops of the other family, found by the adapter (for dualStackAddressFamily).
        self.extra_next_hop4: IPv4Address | None = None
        self.extra_next_hop6: IPv6Address | None = None
        self.changed = True
        self._actions: list[PeerAction] = []
        self._next_conn = 0

    # ---- ids, actions, timers --------------------------------------------------------------

    def new_conn_id(self) -> int:
        self._next_conn += 1
        return self._next_conn

    def emit(self, action: PeerAction) -> None:
        last = self._actions[-1] if self._actions else None
        if isinstance(action, Send) and isinstance(last, Send) and last.conn == action.conn:
            self._actions[-1] = Send(action.conn, last.data + action.data)
        else:
            self._actions.append(action)

    def take_actions(self) -> list[PeerAction]:
        out, self._actions = self._actions, []
        return out

    def retry_delay(self) -> float:
        """Back-off: 1 s, 2 s, 4 s ... up to connectTime (or 120 s)."""
        exp = min(max(self.connect_attempts, self.connect_retry_counter, 1) - 1, 16)
        return float(min(2**exp, self.config.max_connect_retry))

    def next_deadline(self) -> float | None:
        times = [c.deadline() for c in self.connections] + [self.auto_start_at]
        present = [t for t in times if t is not None]
        return min(present) if present else None

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at `now` (each at most once per call)."""
        if self.auto_start_at is not None and self.auto_start_at <= now:
            self.auto_start_at = None
            self._automatic_start(now)
        for conn in list(self.connections):
            for attr, event in (
                ("connect_retry_at", Event.CONNECT_RETRY_TIMER_EXPIRES),
                ("hold_at", Event.HOLD_TIMER_EXPIRES),
                ("keepalive_at", Event.KEEPALIVE_TIMER_EXPIRES),
            ):
                due = getattr(conn, attr)
                if due is not None and due <= now and conn in self.connections:
                    setattr(conn, attr, None)
                    conn.fire(event, now)

    # ---- administrative events -------------------------------------------------------------

    def start(self, now: float) -> None:
        """ManualStart (Event 1)."""
        self.admin_up = True
        self.auto_start_at = None
        self.connect_attempts = 0
        self.note(Reason.ADMIN_START, "")
        self._primary().fire(Event.MANUAL_START, now)

    def _automatic_start(self, now: float) -> None:
        if not self.admin_up or self.connections:
            return
        self.note(Reason.AUTOMATIC_START, "")
        self._primary().fire(Event.AUTOMATIC_START, now)

    def _primary(self) -> Connection:
        if not self.connections:
            self.connections.append(Connection(self, 0, outgoing=True))
        return self.connections[0]

    def stop(
        self,
        now: float,
        *,
        reason: Reason = Reason.ADMIN_STOP,
        subcode: int = CeaseSubcode.ADMINISTRATIVE_SHUTDOWN,
        message: str = "",
        restart: bool = False,
    ) -> None:
        """ManualStop (Event 2), sending Cease `subcode` (RFC 4486); `restart`: start again."""
        admin = (CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, CeaseSubcode.ADMINISTRATIVE_RESET)
        self.stop_notification = (
            Notification.shutdown(message, subcode)  # RFC 8203 shutdown communication
            if subcode in admin and message
            else Notification(ErrorCode.CEASE, subcode)
        )
        self.admin_up = False
        self.auto_start_at = None
        if any(c.tcp_up for c in self.connections):
            self.set_error(LastError(reason, message, self.stop_notification, sent=True), now)
        for conn in list(self.connections):
            conn.fire(Event.MANUAL_STOP, now)
        self.connections = []
        self.note(reason, message)
        self._refresh_state(now)
        if restart:
            self.start(now)

    def bfd_down(self, now: float, message: str) -> None:
        """BFD says the path is down: tear the session down at once (Cease / BFD Down)."""
        notification = Notification(ErrorCode.CEASE, CEASE_BFD_DOWN)
        for conn in list(self.connections):
            if conn.tcp_up:
                conn.send(notification)
                self.set_error(LastError(Reason.BFD_DOWN, message, notification, sent=True), now)
                self.note(Reason.BFD_DOWN, message)
                conn.fire(Event.TCP_CONNECTION_FAILS, now)

    # ---- TCP events ------------------------------------------------------------------------

    def _by_id(self, conn: int) -> Connection | None:
        return next((c for c in self.connections if c.conn == conn), None)

    def connection_made(self, conn: int, now: float, local: IPAddress, remote: IPAddress) -> None:
        """Our outgoing connection `conn` is up (Tcp_CR_Acked, Event 16)."""
        c = self._by_id(conn)
        if c is None or c.state not in (State.CONNECT, State.ACTIVE) or not c.outgoing:
            self.emit(Close(conn))  # an abandoned attempt that completed anyway
            return
        c.local, c.remote = local, remote
        c.fire(Event.TCP_CR_ACKED, now)

    def connection_failed(self, conn: int, now: float, message: str) -> None:
        """Our outgoing attempt `conn` failed (TcpConnectionFails, Event 18)."""
        c = self._by_id(conn)
        if c is None or c.state != State.CONNECT or not c.outgoing:
            return
        self.note(Reason.CONNECT_FAILED, message)
        c.fire(Event.TCP_CONNECTION_FAILS, now)

    def incoming(self, now: float, local: IPAddress, remote: IPAddress) -> int | None:
        """A connection from the peer arrived: its id, or None to refuse it (§6.8, §8)."""
        if not self.admin_up:
            return None  # §8.2.2: Idle refuses incoming connections
        live = [c for c in self.connections if c.state != State.IDLE]
        established = next((c for c in live if c.state == State.ESTABLISHED), None)
        if established is not None:
            if not established.graceful_restart():
                return None
            # RFC 4724 §4.2: a new connection while Established means the peer restarted
            self.note(Reason.CONNECTION_CLOSED, "the peer restarted (new connection)")
            established.fire(Event.TCP_CONNECTION_FAILS, now)
            live = [c for c in self.connections if c.state != State.IDLE]
        conn_id = self.new_conn_id()
        waiting = next((c for c in live if c.state in (State.CONNECT, State.ACTIVE)), None)
        if waiting is not None:
            if waiting.outgoing:
                self.emit(Close(waiting.conn))  # abandon our own attempt for this one
            waiting.conn, waiting.outgoing = conn_id, False
            target = waiting
        elif len(live) >= 2:
            return None
        else:  # one connection in OpenSent / OpenConfirm: track this one too (§6.8)
            target = Connection(self, conn_id, outgoing=False)
            target.state = State.ACTIVE
            self.connections.append(target)
        target.local, target.remote = local, remote
        target.fire(Event.TCP_CONNECTION_CONFIRMED, now)
        return conn_id

    def data_received(self, conn: int, data: bytes, now: float) -> None:
        c = self._by_id(conn)
        if c is not None and c.tcp_up:
            c.receive(data, now)

    def connection_lost(self, conn: int, now: float, message: str) -> None:
        """The TCP connection `conn` closed or broke (TcpConnectionFails, Event 18)."""
        c = self._by_id(conn)
        if c is None or not c.tcp_up:
            return
        c.tcp_up = False
        text = message or "connection closed by the peer"
        self.note(Reason.CONNECTION_CLOSED, text)
        if c.state == State.ESTABLISHED:
            self.set_error(LastError(Reason.CONNECTION_CLOSED, text), now)
        c.fire(Event.TCP_CONNECTION_FAILS, now)

    # ---- messages --------------------------------------------------------------------------

    def families(self) -> frozenset[Family]:
        """The families we offer: the session's own, both with dualStackAddressFamily or over
        an interface (unnumbered: MetalLB's FRR mode activates both)."""
        own = IPV4_UNICAST if self.config.ipv4_transport else IPV6_UNICAST
        if self.config.unnumbered or (self.config.dual_stack and not self.config.disable_mp):
            return frozenset({IPV4_UNICAST, IPV6_UNICAST})
        return frozenset({own})

    def build_open(self, local: IPAddress | None) -> Open:
        cfg = self.config
        families = sorted(self.families())
        caps: list[Capability] = []
        if not (cfg.disable_mp and cfg.ipv4_transport):
            # RFC 4760 §8; disableMP over IPv4: no MP capability at all, plain RFC 4271
            caps += [Multiprotocol(f) for f in families]
        caps.append(RouteRefreshCapability())  # RFC 2918
        if not cfg.ipv4_transport and IPV4_UNICAST in families:
            caps.append(ExtendedNextHop((NextHopEntry(IPV4_UNICAST, AFI.IPV6),)))  # RFC 8950
        if cfg.graceful_restart:
            caps.append(
                GracefulRestart(  # RFC 4724 §3
                    GRACEFUL_RESTART_TIME,
                    restarting=self.restarting,
                    families=tuple(GracefulRestartFamily(f, True) for f in families),
                )
            )
        caps.append(FourOctetAS(cfg.local_as))  # RFC 6793
        return Open.build(cfg.local_as, cfg.hold_time, self.router_id(local), caps)

    def router_id(self, local: IPAddress | None) -> IPv4Address:
        """routerID, else the local IPv4 of the session, else the speaker's default."""
        if self.config.router_id is not None:
            return self.config.router_id
        if isinstance(local, IPv4Address):
            return local
        return self.default_router_id

    def check_open(self, conn: Connection, message: Open) -> BGPNotificationError | None:
        """Configuration checks on a received OPEN (the codec did the syntax, §6.2)."""
        cfg = self.config
        if not cfg.accepts_as(message.asn):
            return BGPNotificationError(
                ErrorCode.OPEN_MESSAGE_ERROR,
                OpenSubcode.BAD_PEER_AS,
                message.my_as.to_bytes(2, "big"),
                f"unexpected peer ASN {message.asn}, want {cfg.peer_asn or cfg.dynamic_asn.value}",
            )
        if message.asn == cfg.local_as and message.bgp_id == self.router_id(conn.local):
            # RFC 6286 §2.2: two speakers of one AS may not share an identifier
            return BGPNotificationError(
                ErrorCode.OPEN_MESSAGE_ERROR,
                OpenSubcode.BAD_BGP_IDENTIFIER,
                message.bgp_id.packed,
                "the peer uses our BGP Identifier",
            )
        return None

    def message(self, conn: Connection, message: AnyMessage, now: float) -> None:
        """A decoded message on `conn`: turn it into its table event."""
        if isinstance(message, Open):
            if conn.state != State.OPEN_SENT:
                conn.fire(Event.BGP_OPEN, now)
                return
            problem = self.check_open(conn, message)
            if problem is not None:
                conn.fire(Event.BGP_OPEN_MSG_ERR, now, problem)
                return
            conn.remote_open = message
            if self._resolve_collision(conn, message, now) is conn:
                conn.fire(Event.OPEN_COLLISION_DUMP, now)
                return
            conn.fire(Event.BGP_OPEN, now)
        elif isinstance(message, Keepalive):
            conn.fire(Event.KEEPALIVE_MSG, now)
        elif isinstance(message, Notification):
            if self._dumps_a_duplicate(conn, message):
                conn.dumped_by_peer = True
                self.note(Reason.COLLISION, "connection collision resolved by the peer (§6.8)")
            else:
                self.set_error(LastError(Reason.NOTIFICATION_RECEIVED, str(message), message), now)
                self.note(Reason.NOTIFICATION_RECEIVED, str(message))
            version = (ErrorCode.OPEN_MESSAGE_ERROR, OpenSubcode.UNSUPPORTED_VERSION_NUMBER)
            is_version = (message.code, message.subcode) == version
            conn.fire(Event.NOTIF_MSG_VER_ERR if is_version else Event.NOTIF_MSG, now)
        elif isinstance(message, Update):
            if conn.state == State.ESTABLISHED and self._count_update(conn, message, now):
                return  # the prefix limit closed the session
            conn.fire(Event.UPDATE_MSG, now)
        elif isinstance(message, RouteRefresh):
            conn.fire(Event.ROUTE_REFRESH_MSG, now)
            # RFC 2918 §4: answered by re-sending what we advertise; other families ignored
            if (
                conn.state == State.ESTABLISHED
                and conn.routing is not None
                and message.family in conn.ctx.families
            ):
                self._send_updates(conn, self.rib.resend(message.family, conn.routing))

    def _dumps_a_duplicate(self, conn: Connection, message: Notification) -> bool:
        """§6.8, RFC 4486 §4 subcode 7: the peer closes this connection, still opening, because
        it keeps another one between us (which we may not have accepted yet): not an error of
        the session, whose last error (e.g. why it restarted) stays what it was."""
        collision = (ErrorCode.CEASE, CeaseSubcode.CONNECTION_COLLISION_RESOLUTION)
        opening = conn.state in (State.OPEN_SENT, State.OPEN_CONFIRM)
        return (message.code, message.subcode) == collision and opening

    def _resolve_collision(self, conn: Connection, message: Open, now: float) -> Connection | None:
        """§6.8: `conn` received `message`; dump the losing connection, return it (or None)."""
        for other in self.connections:
            if other is conn:
                continue
            if other.state == State.ESTABLISHED:
                return conn  # an established session wins over a new connection
            if other.state == State.OPEN_CONFIRM:
                # the connection initiated by the side with the lower identifier is dumped
                dump_outgoing = int(self.router_id(conn.local)) < int(message.bgp_id)
                loser = conn if conn.outgoing == dump_outgoing else other
                if loser is other:
                    other.fire(Event.OPEN_COLLISION_DUMP, now)
                return loser
        return None

    def _count_update(self, conn: Connection, update: Update, now: float) -> bool:
        """Track the received prefixes (RFC 7606 treat-as-withdraw removes what it announces);
        True when the prefix limit closed the session."""
        if update.issues:
            self._count_issues(update)
        family = end_of_rib_family(update)
        if family is not None:
            self.eor_received.add(family)
            return False
        self.changed = True
        self.received.discard(update.withdrawn_all())
        announced = update.announced()
        if update.treat_as_withdraw:
            self.received.discard(announced)
            return False
        if not self.received.add(announced):
            return False
        self.prefix_limit_reached = True
        if not self.config.max_prefix_cease:
            return False  # drop-and-warn: the session stays, counting stops at the limit
        self._cease_max_prefixes(conn, family_of(announced[-1]), now)
        return True

    def _cease_max_prefixes(self, conn: Connection, family: Family, now: float) -> None:
        """RFC 4486 §4: Cease / Maximum Number of Prefixes Reached, data = AFI, SAFI and the
        bound; the next attempt waits the longest back-off (FRR's `maximum-prefix N restart`)."""
        limit = min(self.config.max_prefixes, 0xFFFFFFFF)
        data = family.afi.to_bytes(2, "big") + bytes([family.safi]) + limit.to_bytes(4, "big")
        notification = Notification(
            ErrorCode.CEASE, CeaseSubcode.MAXIMUM_NUMBER_OF_PREFIXES_REACHED, data
        )
        message = f"more than {limit} prefixes received"
        conn.send(notification)
        self.set_error(LastError(Reason.MAX_PREFIXES, message, notification, sent=True), now)
        self.note(Reason.MAX_PREFIXES, message)
        conn.fire(Event.TCP_CONNECTION_FAILS, now)
        if self.auto_start_at is not None:
            self.auto_start_at = now + self.config.max_connect_retry

    def _count_issues(self, update: Update) -> None:
        if update.treat_as_withdraw:
            self.counters.updates_treated_as_withdraw += 1
        self.counters.attributes_discarded += sum(
            i.action == ErrorAction.ATTRIBUTE_DISCARD for i in update.issues
        )
        self.last_attribute_issue = update.issues[-1]
        self.changed = True

    # ---- sessions and routes ---------------------------------------------------------------

    def session_established(self, conn: Connection, now: float) -> None:
        self.connect_attempts = 0
        self.connect_retry_counter = 0
        self.counters.established_transitions += 1
        self.established_since = now
        self.eor_sent, self.eor_received = set(), set()
        self.received.clear()
        self.prefix_limit_reached = False
        conn.routing = self._routing(conn)
        for other in list(self.connections):
            if other is not conn and other.state != State.IDLE:
                other.fire(Event.OPEN_COLLISION_DUMP, now)  # §6.8
        self.note(Reason.ESTABLISHED, "")
        if self.rib_ready:
            self._sync(conn)

    def _routing(self, conn: Connection) -> SessionRoutingInfo:
        cfg = self.config
        nh4: IPv4Address | None = None
        nh6: IPv6Address | None = None
        for addr in (cfg.source_address, conn.local):  # sourceAddress, else the session's
            if isinstance(addr, IPv4Address) and nh4 is None:
                nh4 = addr
            if isinstance(addr, IPv6Address) and nh6 is None:
                nh6 = addr
        assert conn.remote_open is not None
        link_local: IPv6Address | None = None
        if cfg.unnumbered and nh6 is not None and nh6.is_link_local:
            # RFC 2545 §3: our global address on the interface, if any, then the link-local
            # one; else the link-local alone (which FRR and BIRD take from a link peer). IPv4
            # goes with the same IPv6 next hop (RFC 8950 §4): no IPv4 next hop.
            if self.extra_next_hop6 is not None:
                nh6, link_local = self.extra_next_hop6, nh6
            nh4 = None
        return SessionRoutingInfo(
            ctx=conn.ctx,
            local_as=cfg.local_as,
            internal=conn.remote_open.asn == cfg.local_as,
            next_hop4=nh4 or (None if cfg.unnumbered else self.extra_next_hop4),
            next_hop6=nh6 or self.extra_next_hop6,
            next_hop6_link_local=link_local,
        )

    def established(self) -> Connection | None:
        return next((c for c in self.connections if c.state == State.ESTABLISHED), None)

    def set_routes(self, routes: Mapping[Prefix, RouteAttrs]) -> None:
        """The routes this peer should hold now (declarative); sends the difference."""
        self.rib.set_desired(routes)
        self.rib_ready = True
        self.changed = True
        conn = self.established()
        if conn is not None:
            self._sync(conn)

    def _sync(self, conn: Connection) -> None:
        assert conn.routing is not None
        self._send_updates(conn, self.rib.updates(conn.routing))
        for family in sorted(conn.ctx.families & {IPV4_UNICAST, IPV6_UNICAST}):
            if family not in self.eor_sent:
                conn.send(end_of_rib(family))  # RFC 4724 §2, once per session
                self.eor_sent.add(family)
        self.restarting = False

    def _send_updates(self, conn: Connection, updates: list[Update]) -> None:
        if not updates:
            return
        data = b"".join(u.encode(conn.ctx) for u in updates)
        conn.send_raw(MessageType.UPDATE, data, len(updates))
        self.changed = True

    # ---- observed state ---------------------------------------------------------------------

    def note(self, reason: Reason, message: str) -> None:
        self.reason, self.reason_message = reason, message
        self.changed = True

    def set_error(self, error: LastError, now: float) -> None:
        self.last_error = error
        self.last_error_at = now
        self.changed = True

    def _connection_state_changed(self, conn: Connection, before: State, now: float) -> None:
        if conn.state == State.IDLE:
            if before == State.ESTABLISHED:
                self._session_down()
            if conn in self.connections:
                self.connections.remove(conn)
            if not self.connections and self.admin_up and self.auto_start_at is None:
                # after an established session, 1 s; after failed attempts, the back-off
                wait = 1.0 if before == State.ESTABLISHED else self.retry_delay()
                self.auto_start_at = now + wait
        self._refresh_state(now)

    def _session_down(self) -> None:
        self.rib.session_down()
        self.established_since = None
        self.received.clear()
        self.prefix_limit_reached = False
        self.eor_received, self.eor_sent = set(), set()

    def _refresh_state(self, now: float) -> None:
        states = [c.state for c in self.connections]
        best = max(states, key=_PROGRESS.__getitem__, default=State.IDLE)
        if best != self.state:
            self.state = best
            self.state_since = now
            self.changed = True

    def take_changed(self) -> bool:
        changed, self.changed = self.changed, False
        return changed

    def negotiated(self) -> Negotiated | None:
        conn = self.established()
        return conn.ctx if conn is not None else None

    def pending(self) -> int:
        return self.rib.pending()


__all__ = [
    "Close",
    "Connect",
    "Connection",
    "LastError",
    "Peer",
    "PeerAction",
    "Reason",
    "Send",
]
