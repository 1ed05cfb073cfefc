"""One BFD session, sans I/O (RFC 5880 asynchronous mode, RFC 5881 single hop, RFC 5883 multihop).

Theory of operation
-------------------
`Session` holds the RFC 5880 §6.8.1 state variables and is driven, aioquic style, by four calls
that all take the current time as an argument (seconds on any monotonic clock):

* `receive_packet(data, ttl, now)` — a datagram from UDP port 3784/4784 with its TTL/Hop Limit;
  returns events (state changes, drops). Never raises on bad input: every discarded packet is a
  `PacketDropped(reason)` event and a counter.
* `packets_to_send(now)` / `echo_packets_to_send(now)` — control packets (and our echo payloads)
  that are due; call after every other entry point.
* `next_timer()` — the earliest instant at which something must happen, or None.
* `handle_timer(now)` — fire whatever is due at `now` (detection, echo detection, end of the
  AdminDown hold).

Timers. The transmit interval is max(bfd.DesiredMinTxInterval, bfd.RemoteMinRxInterval)
(§6.8.2, §6.8.7), jittered down by 0–25 % per packet (10–25 % when bfd.DetectMult is 1) using the
injected `random.Random`. While the session is not Up, DesiredMinTxInterval is raised to
`SLOW_TX_US` (§6.8.3 asks for at least one second; we use 4/3 s so that even after the 25 %
jitter reduction no two periodic packets leave less than one second apart). The detection time
(§6.8.4) is the remote Detect Mult times max(bfd.RequiredMinRxInterval, last received Desired Min
TX Interval); it restarts on every accepted packet.

Poll Sequences (§6.5, §6.8.3). Whenever the advertised DesiredMinTxInterval or
RequiredMinRxInterval changes (profile update, entering or leaving Up) and a peer is known, every
periodic packet carries P until a packet with F arrives. While Up, an increased transmit
interval and a reduced receive interval are only put in use when the Final arrives; the safe
directions apply at once. A received P is answered by an immediate packet with F (never both).

Prompt packets. Besides Finals, a packet goes out at once when the session enters or leaves Up
or enters AdminDown (the peer's detection time still assumes our fast interval, and we are
about to slow down), and when a session may first transmit (start, or a passive session hearing
its peer). Otherwise packets are periodic.

Administrative control (§6.8.16). `admin_down()` moves to AdminDown with diag 7 and keeps
sending AdminDown for `ADMIN_DOWN_HOLD_DETECT_TIMES` of the peer's detection times, then goes
silent; `delete()` does the same and then reports `SessionFinished`. Passive mode (§6.1) sends
nothing until a packet from the peer has told us its discriminator. If the peer sets the D bit,
we stop periodic transmission while both ends are Up (§6.8.7); we never ask for Demand mode
ourselves (local Demand mode is not implemented).

Echo (§6.4, §6.8.9). With echo mode on (single hop only, RFC 5883), while Up and while the
peer advertises a nonzero Required Min Echo RX Interval, the session emits echo payloads every
max(echo interval, peer's Required Min Echo RX) (jittered, never below the peer's minimum) and
goes Down with diag 2 when none returns for DetectMult echo intervals. We advertise our echo
interval as Required Min Echo RX only when echo mode is on: looping the peer's echoes is the
host's forwarding plane's job, and we only promise it when the operator asked for echo.
Authentication is parsed but not supported: a packet with the A bit is dropped (§6.8.6, bfd.AuthType
is always zero).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from metallb_rules.bfd_profile import BFDProfile
from services.bfd.core.drop import DropReason, PacketDecodeError
from services.bfd.core.echo import EchoPacket, decode_echo, encode_echo
from services.bfd.core.events import (
    Event,
    PacketDropped,
    PollSequenceCompleted,
    SessionCounters,
    SessionFinished,
    StateChanged,
)
from services.bfd.core.fsm import KEEP, FsmEvent, received, transition
from services.bfd.core.packet import ControlPacket, Diagnostic, State, encode
from services.bfd.core.validate import check_ttl, parse_control

__all__ = [
    "ADMIN_DOWN_HOLD_DETECT_TIMES",
    "SLOW_TX_US",
    "Session",
    "SessionParams",
]

US = 1e-6  # seconds per microsecond
SLOW_TX_US = 1_333_334  # §6.8.3: >= 1 s while not Up; 4/3 s keeps jittered gaps >= 1 s
ADMIN_DOWN_HOLD_DETECT_TIMES = 3  # §6.8.16: keep sending AdminDown for a few detection times
_MAX_U32 = 0xFFFFFFFF
_U64 = 1 << 64


@dataclass(frozen=True, slots=True)
class SessionParams:
    """RFC-level session parameters (microseconds). `from_profile` maps MetalLB's BFDProfile.

    The RFC allows more than MetalLB's profile (for instance Detect Mult 1), so the core takes
    these and the profile's narrower ranges are enforced by `BFDProfile` itself.
    """

    desired_min_tx: int = 300_000
    required_min_rx: int = 300_000
    detect_mult: int = 3
    echo_interval: int = 50_000
    echo_mode: bool = False
    passive: bool = False
    minimum_ttl: int = 254

    def __post_init__(self) -> None:
        if not 1 <= self.detect_mult <= 255:
            raise ValueError(f"detect_mult {self.detect_mult} must be in 1-255")
        # §6.8.1: DesiredMinTxInterval is nonzero; RequiredMinRxInterval may be zero.
        if not 1 <= self.desired_min_tx <= _MAX_U32:
            raise ValueError(f"desired_min_tx {self.desired_min_tx} must be in 1-{_MAX_U32}")
        for name in ("required_min_rx", "echo_interval"):
            if not 0 <= getattr(self, name) <= _MAX_U32:
                raise ValueError(f"{name} must be in 0-{_MAX_U32}")
        if not 1 <= self.minimum_ttl <= 255:
            raise ValueError(f"minimum_ttl {self.minimum_ttl} must be in 1-255")

    @classmethod
    def from_profile(cls, profile: BFDProfile) -> SessionParams:
        return cls(
            desired_min_tx=profile.transmit_interval * 1000,
            required_min_rx=profile.receive_interval * 1000,
            detect_mult=profile.detect_multiplier,
            echo_interval=profile.echo_interval * 1000,
            echo_mode=profile.echo_mode,
            passive=profile.passive_mode,
            minimum_ttl=profile.minimum_ttl,
        )


class Session:
    """A single BFD session. See the module docstring for the theory of operation."""

    def __init__(
        self,
        local_discriminator: int,
        params: SessionParams,
        now: float,
        *,
        multihop: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        # §6.8.1: bfd.LocalDiscr is nonzero (and unique: see DiscriminatorAllocator).
        if not 1 <= local_discriminator <= _MAX_U32:
            raise ValueError(f"local discriminator {local_discriminator} must be in 1-{_MAX_U32}")
        self.local_discriminator = local_discriminator
        self.params = params
        self.multihop = multihop
        self._rng = rng if rng is not None else random.Random()
        self.counters = SessionCounters()
        # §6.8.1 initial values.
        self.state = State.DOWN
        self.remote_state = State.DOWN
        self.remote_discriminator = 0
        self.local_diag = Diagnostic.NO_DIAGNOSTIC
        self.remote_diag = 0
        self.remote_min_rx = 1  # §6.8.1: bfd.RemoteMinRxInterval "MUST be initialized to 1"
        self.remote_desired_min_tx = 0
        self.remote_detect_mult = 0
        self.remote_min_echo_rx = 0
        self.remote_demand = False
        # Advertised bfd.DesiredMinTxInterval / bfd.RequiredMinRxInterval, and the values in use
        # for our own transmit timer and for the detection time (they differ during a Poll).
        self.desired_min_tx, self.required_min_rx = self._target_intervals()
        self._tx_in_use = self.desired_min_tx
        self._rx_in_use = self.required_min_rx
        self.polling = False
        self._final_due = False
        self._tx_enabled = True  # False once an AdminDown hold is over
        self._last_tx: float | None = None
        self._next_tx: float | None = None
        self._scheduled_interval = 0
        self._detect_deadline: float | None = None
        self._echo_next: float | None = None
        self._echo_deadline: float | None = None
        self._echo_sequence = 0
        self.last_echo_rtt: float | None = None
        self.last_received_at: float | None = None  # last control packet that passed §6.8.6
        self._hold_until: float | None = None
        self._deleting = False
        self.finished = False
        self._reschedule_tx(now)

    # ------------------------------------------------------------------ derived values

    @property
    def transmit_interval(self) -> int:
        """Periodic transmit interval before jitter, µs (§6.8.2, §6.8.7)."""
        return max(self._tx_in_use, self.remote_min_rx)

    @property
    def detection_time(self) -> float | None:
        """Seconds without a packet before the session fails (§6.8.4, asynchronous mode)."""
        if self.remote_detect_mult == 0:
            return None
        return self.remote_detect_mult * max(self._rx_in_use, self.remote_desired_min_tx) * US

    @property
    def echo_active(self) -> bool:
        return (
            self.params.echo_mode
            and not self.multihop  # RFC 5883: no Echo function for multihop sessions
            and self.state is State.UP  # §6.8.9: not transmitted when not Up
            and self.remote_min_echo_rx > 0  # §6.8.9/§6.8.6: zero means "do not send echo"
            and self._tx_enabled
        )

    @property
    def echo_transmit_interval(self) -> int:
        """µs; never faster than the peer's Required Min Echo RX Interval (§6.8.9)."""
        return max(self.params.echo_interval, self.remote_min_echo_rx)

    def _target_intervals(self) -> tuple[int, int]:
        tx = self.params.desired_min_tx
        if self.state is not State.UP:
            tx = max(tx, SLOW_TX_US)  # §6.8.3: at least one second while not Up
        return tx, self.params.required_min_rx

    def _may_transmit(self) -> bool:
        if not self._tx_enabled:
            return False
        # §6.1 and §6.8.7: a Passive system sends nothing while bfd.RemoteDiscr is zero.
        if self.params.passive and self.remote_discriminator == 0:
            return False
        # §6.8.7: no periodic packets while bfd.RemoteMinRxInterval is zero.
        if self.remote_min_rx == 0:
            return False
        # §6.8.7: no periodic packets while Demand mode is active on the remote system.
        return not (self.remote_demand and self.state is State.UP and self.remote_state is State.UP)

    def _jittered(self, interval_us: int) -> float:
        """§6.8.7: reduce by 0–25 %; with bfd.DetectMult 1, keep within 75–90 %."""
        high = 0.9 if self.params.detect_mult == 1 else 1.0
        return interval_us * self._rng.uniform(0.75, high) * US

    # ------------------------------------------------------------------ scheduling

    def _reschedule_tx(self, now: float, *, immediate: bool = False) -> None:
        if not self._may_transmit():
            self._next_tx = None
            return
        interval = self.transmit_interval
        if immediate or self._last_tx is None:
            self._next_tx = now
        elif self._next_tx is None or interval != self._scheduled_interval:
            # §6.8.2: the transmit interval changed; re-derive the next packet from the last.
            self._next_tx = max(now, self._last_tx + self._jittered(interval))
        self._scheduled_interval = interval

    def _sync_echo(self, now: float) -> None:
        if not self.echo_active:
            self._echo_next = None
            self._echo_deadline = None
        elif self._echo_next is None:
            self._echo_next = now
            self._echo_deadline = now + self._echo_detection_time()

    def _echo_detection_time(self) -> float:
        # RFC 5880 §6.8.5 leaves the echo detection time local: DetectMult echo intervals.
        return self.params.detect_mult * self.echo_transmit_interval * US

    def next_timer(self) -> float | None:
        """Earliest instant at which `handle_timer` or `packets_to_send` has work, or None."""
        # Called for every heap check of the session table: no temporary list (hot path).
        earliest = self._next_tx
        for t in (self._detect_deadline, self._echo_next, self._echo_deadline, self._hold_until):
            if t is not None and (earliest is None or t < earliest):
                earliest = t
        return earliest

    # ------------------------------------------------------------------ state machine

    def _fire(self, event: FsmEvent, now: float) -> list[Event]:
        old = self.state
        new, diag = transition(old, event)
        if diag is not KEEP:
            self.local_diag = diag
        if new is old:
            return []
        self.state = new
        if new is State.UP:
            self.counters.up_events += 1
            self.counters.last_up_at = now
        elif old is State.UP:
            self.counters.down_events += 1
            self.counters.last_down_at = now
        if new is State.ADMIN_DOWN:
            self._detect_deadline = None  # no detection in AdminDown (§6.8.16)
        self._apply_target_intervals()
        # Entering or leaving Up, and entering AdminDown, is news the peer should not wait for:
        # its detection time still assumes our fast interval, and we are about to slow down.
        self._reschedule_tx(now, immediate=State.UP in (old, new) or new is State.ADMIN_DOWN)
        return [StateChanged(old, new, self.local_diag, now)]

    def _apply_target_intervals(self) -> None:
        tx, rx = self._target_intervals()
        if (tx, rx) == (self.desired_min_tx, self.required_min_rx):
            return
        self.desired_min_tx, self.required_min_rx = tx, rx
        if self.state is State.UP:
            # §6.8.3: while Up, a larger DesiredMinTx and a smaller RequiredMinRx only take
            # effect when the Poll Sequence ends; the opposite directions are safe at once.
            self._tx_in_use = min(self._tx_in_use, tx)
            self._rx_in_use = max(self._rx_in_use, rx)
        else:
            self._tx_in_use, self._rx_in_use = tx, rx
        # §6.8.3: "a Poll Sequence MUST be initiated" when either interval changes — if there
        # is a peer to answer it; AdminDown discards everything, so it could never end there.
        if self.remote_discriminator != 0 and self.state is not State.ADMIN_DOWN:
            self.polling = True

    def _end_poll(self, now: float) -> list[Event]:
        # §6.5: the Final ends the Poll Sequence; §6.8.3: the deferred intervals apply now.
        self.polling = False
        self._tx_in_use, self._rx_in_use = self.desired_min_tx, self.required_min_rx
        return [PollSequenceCompleted(self.desired_min_tx, self.required_min_rx, now)]

    def _forget_remote(self) -> None:
        # §6.8.1: bfd.RemoteDiscr is zeroed when a Detection Time passes without a packet; the
        # other remote variables go back to their initial values with it.
        self.remote_discriminator = 0
        self.remote_state = State.DOWN
        self.remote_min_rx = 1
        self.remote_desired_min_tx = 0
        self.remote_detect_mult = 0
        self.remote_min_echo_rx = 0
        self.remote_demand = False
        self._detect_deadline = None
        self.polling = False
        self._final_due = False

    def _drop(self, reason: DropReason) -> list[Event]:
        self.counters.count_drop(reason)
        return [PacketDropped(reason)]

    # ------------------------------------------------------------------ entry points

    def receive_packet(self, data: bytes, ttl: int, now: float) -> list[Event]:
        """A received control datagram and its IP TTL / Hop Limit."""
        self.counters.control_in += 1
        parsed = parse_control(data)
        if isinstance(parsed, DropReason):
            return self._drop(parsed)
        return self._receive(parsed, ttl, now)

    def receive_control(self, packet: ControlPacket, ttl: int, now: float) -> list[Event]:
        """A packet already through `validate.parse_control` (the session table's path)."""
        self.counters.control_in += 1
        return self._receive(packet, ttl, now)

    def _receive(self, packet: ControlPacket, ttl: int, now: float) -> list[Event]:
        reason = check_ttl(ttl, multihop=self.multihop, minimum_ttl=self.params.minimum_ttl)
        if reason is not None:
            return self._drop(reason)
        # §6.8.6: a nonzero Your Discriminator must select this very session.
        if packet.your_discriminator not in (0, self.local_discriminator):
            return self._drop(DropReason.UNKNOWN_YOUR_DISCRIMINATOR)
        # §6.8.6: "If the A bit is set and no authentication is in use (bfd.AuthType is zero),
        # the packet MUST be discarded."
        if packet.auth is not None:
            return self._drop(DropReason.AUTH_NOT_IN_USE)
        events: list[Event] = []
        self.last_received_at = now
        # §6.8.6: record the remote variables from the packet.
        self.remote_discriminator = packet.my_discriminator
        self.remote_state = packet.state
        self.remote_demand = packet.demand
        self.remote_min_rx = packet.required_min_rx
        self.remote_desired_min_tx = packet.desired_min_tx
        self.remote_detect_mult = packet.detect_mult
        self.remote_diag = packet.diag
        # §6.8.6: "If the Required Min Echo RX Interval field is zero, the transmission of Echo
        # packets, if any, MUST cease" (see echo_active).
        self.remote_min_echo_rx = packet.required_min_echo_rx
        # §6.8.6: a Final terminates our Poll Sequence.
        if packet.final and self.polling:
            events += self._end_poll(now)
        # §6.8.6: "If bfd.SessionState is AdminDown, discard the packet."
        if self.state is State.ADMIN_DOWN:
            return events + self._drop(DropReason.SESSION_ADMIN_DOWN)
        events += self._fire(received(packet.state), now)
        # §6.8.6: answer a Poll with P clear and F set, regardless of the transmit timer.
        if packet.poll:
            self._final_due = True
        # §6.8.4: the packet is valid; the detection timer restarts with the updated time.
        detection = self.detection_time
        self._detect_deadline = None if detection is None else now + detection
        self._reschedule_tx(now)  # §6.8.2: RemoteMinRx may have changed the interval
        self._sync_echo(now)
        return events

    def receive_echo(self, data: bytes, now: float) -> list[Event]:
        """One of our echo payloads looped back by the peer (RFC 5880 §6.8.9)."""
        self.counters.echo_in += 1
        try:
            echo = decode_echo(data)
        except PacketDecodeError as err:
            return self._drop(err.reason)
        if echo.discriminator != self.local_discriminator:
            return self._drop(DropReason.ECHO_NOT_OURS)
        if not self.echo_active:
            return self._drop(DropReason.ECHO_NOT_ACTIVE)
        self._echo_deadline = now + self._echo_detection_time()
        self.last_echo_rtt = ((round(now / US) - echo.timestamp_us) % _U64) * US
        return []

    def handle_timer(self, now: float, *, detect: bool = True) -> list[Event]:
        """Fire what is due at `now`. Harmless to call early or repeatedly.

        `detect=False` leaves overdue detection timers (control and echo) for a later call:
        the adapter passes it while received packets may still wait unread in its socket.
        """
        events: list[Event] = []
        if self._hold_until is not None and now >= self._hold_until:
            # §6.8.16: after sending AdminDown long enough, the system may go silent.
            self._hold_until = None
            self._tx_enabled = False
            self._next_tx = None
            if self._deleting:
                self.finished = True
                events.append(SessionFinished(now))
        if not detect:
            return events
        # If both detection timers are overdue (a late call), the one that expired first wins.
        echo_first = (
            self._echo_deadline is not None
            and self._detect_deadline is not None
            and self._echo_deadline < self._detect_deadline
        )
        if echo_first or self._detect_deadline is None or now < self._detect_deadline:
            events += self._echo_timer(now)
        if self._detect_deadline is not None and now >= self._detect_deadline:
            self._forget_remote()  # §6.8.1: RemoteDiscr zero after a silent Detection Time
            events += self._fire(FsmEvent.DETECTION_TIME_EXPIRED, now)  # §6.8.4
            self._reschedule_tx(now)
        self._sync_echo(now)  # stops the echo timers if the session left Up
        return events

    def _echo_timer(self, now: float) -> list[Event]:
        if self._echo_deadline is None or now < self._echo_deadline:
            return []
        self._echo_deadline = None
        events = self._fire(FsmEvent.ECHO_DETECTION_TIME_EXPIRED, now)  # §6.8.5: diag 2
        self._sync_echo(now)
        return events

    def packets_to_send(self, now: float) -> list[bytes]:
        """Control packets due at `now`: a pending Final first, then the periodic packet."""
        out: list[bytes] = []
        if self._final_due:
            self._final_due = False
            out.append(encode(self._build(final=True)))  # §6.8.7: never P and F together
        if self._next_tx is not None and now >= self._next_tx and self._tx_enabled:
            out.append(encode(self._build(poll=self.polling)))  # §6.5: P until the Final
            self._last_tx = now
            self._next_tx = now + self._jittered(self.transmit_interval)
            self._scheduled_interval = self.transmit_interval
        self.counters.control_out += len(out)
        return out

    def echo_packets_to_send(self, now: float) -> list[bytes]:
        """Echo payloads due at `now` (to be sent to the peer, addressed to ourselves)."""
        if self._echo_next is None or now < self._echo_next:
            return []
        self._echo_sequence = (self._echo_sequence + 1) & _MAX_U32
        data = encode_echo(
            EchoPacket(self.local_discriminator, self._echo_sequence, round(now / US) % _U64)
        )
        # §6.8.9: jitter like control packets, but never faster than the peer's minimum.
        gap = max(self._jittered(self.echo_transmit_interval), self.remote_min_echo_rx * US)
        self._echo_next = now + gap
        self.counters.echo_out += 1
        return [data]

    def _build(self, *, poll: bool = False, final: bool = False) -> ControlPacket:
        echo_rx = self.params.echo_interval if self.params.echo_mode and not self.multihop else 0
        return ControlPacket(
            state=self.state,
            my_discriminator=self.local_discriminator,
            your_discriminator=self.remote_discriminator,
            detect_mult=self.params.detect_mult,
            desired_min_tx=self.desired_min_tx,
            required_min_rx=self.required_min_rx,
            required_min_echo_rx=echo_rx,
            diag=self.local_diag,
            poll=poll,
            final=final,
        )

    # ------------------------------------------------------------------ local commands

    def update_params(self, params: SessionParams, now: float) -> list[Event]:
        """New profile values; interval changes go through a Poll Sequence (§6.8.3)."""
        self.params = params
        self._apply_target_intervals()
        self._reschedule_tx(now)
        self._sync_echo(now)
        return []

    def admin_down(self, now: float) -> list[Event]:
        """§6.8.16: go AdminDown (diag 7) and tell the peer for a few detection times."""
        if self.state is State.ADMIN_DOWN:
            return []  # an idempotent command, not an FSM event
        # The peer detects us after our DetectMult times the interval it currently expects.
        peer_detection = self.params.detect_mult * self.transmit_interval * US
        events = self._fire(FsmEvent.ADMIN_DOWN, now)
        self.polling = False
        self._final_due = False
        self._hold_until = now + ADMIN_DOWN_HOLD_DETECT_TIMES * peer_detection
        self._sync_echo(now)
        return events

    def admin_up(self, now: float) -> list[Event]:
        """§6.8.16: leave AdminDown for Down and start over with a fresh view of the peer."""
        if self.state is not State.ADMIN_DOWN:
            return []
        self._forget_remote()
        self._hold_until = None
        self._tx_enabled = True
        self._deleting = False
        return self._fire(FsmEvent.ADMIN_UP, now)

    def delete(self, now: float) -> list[Event]:
        """Admin down, then `SessionFinished` once the AdminDown hold is over."""
        self._deleting = True
        events = self.admin_down(now)
        if self._hold_until is None and not self.finished:  # already silent in AdminDown
            self.finished = True
            events.append(SessionFinished(now))
        return events
