"""Pure conversions between `metallb.bfd.v1` messages and the BFD service's domain types.

Intervals are `google.protobuf.Duration`s (a profile's in whole milliseconds, as MetalLB's CR;
the observed ones in microseconds, as on the wire), times `google.protobuf.Timestamp`s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp

from metallb.bfd.v1 import bfd_pb2
from metallb_rules.bfd_profile import BFDProfile, ProfileError
from metallb_rules.errors import InvalidArgumentError
from metallb_runtime.wellknown import duration_nanoseconds
from services.bfd.core.drop import DropReason
from services.bfd.core.events import StateChanged
from services.bfd.core.packet import Diagnostic, State
from services.bfd.core.session import Session
from services.bfd.core.table import SessionKey
from services.bfd.model import SessionSpec, make_key, parse_address

# BFDProfile attributes (milliseconds for the intervals) and the proto fields, of the same names.
_DURATIONS = ("receive_interval", "transmit_interval", "echo_interval")
_SCALARS = ("detect_multiplier", "echo_mode", "passive_mode", "minimum_ttl")
# ProfileError's message names the field MetalLB's way; map it back to the proto field.
_PROFILE_MESSAGES = {
    "invalid detect multiplier value": "detect_multiplier",
    "invalid receive interval value": "receive_interval",
    "invalid transmit interval value": "transmit_interval",
    "invalid minimum ttl value": "minimum_ttl",
    "invalid echo interval value": "echo_interval",
}
# What UpdateSession's update_mask may name (relative to SessionConf).
MUTABLE_PATHS = frozenset(
    {"profile", "admin_down"} | {f"profile.{f.name}" for f in bfd_pb2.Profile.DESCRIPTOR.fields}
)

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000


def whole_milliseconds(duration: Duration, field: str) -> int:
    """A profile interval: MetalLB's CR counts them in whole milliseconds."""
    nanos = duration_nanoseconds(duration, field)
    if nanos < 0 or nanos % NS_PER_MS:
        raise InvalidArgumentError(
            f"must be a whole number of milliseconds, not {duration.ToJsonString()}", field
        )
    return nanos // NS_PER_MS


def profile_from_proto(msg: bfd_pb2.Profile, field: str) -> BFDProfile:
    """MetalLB's defaults for absent fields; MetalLB's error text for bad values."""
    kwargs: dict[str, object] = {}
    for name in _DURATIONS:
        if msg.HasField(name):
            kwargs[name] = whole_milliseconds(getattr(msg, name), f"{field}.{name}")
    for name in _SCALARS:
        if msg.HasField(name):
            kwargs[name] = getattr(msg, name)
    try:
        return BFDProfile(msg.name or "default", **kwargs)  # type: ignore[arg-type]
    except ProfileError as err:
        text = str(err)
        sub = next((f for m, f in _PROFILE_MESSAGES.items() if m in text), "")
        raise InvalidArgumentError(text, f"{field}.{sub}" if sub else field) from None


def profile_to_proto(profile: BFDProfile) -> bfd_pb2.Profile:
    """Every field set: what GetSession shows is what the session runs with."""
    msg = bfd_pb2.Profile(name=profile.name, **{name: getattr(profile, name) for name in _SCALARS})
    for name in _DURATIONS:
        getattr(msg, name).FromMilliseconds(getattr(profile, name))
    return msg


def merge_update(
    current: bfd_pb2.SessionConf, update: bfd_pb2.SessionConf, mask: FieldMask
) -> bfd_pb2.SessionConf:
    """The configuration UpdateSession asks for: `current` with the masked paths of `update`.

    AIP-134: a path names a field to replace; a named field absent from `update` takes its
    default (an absent profile field: MetalLB's default).
    """
    for i, path in enumerate(mask.paths):
        if path not in MUTABLE_PATHS:
            raise InvalidArgumentError(
                f"{path!r} cannot be updated (only profile, profile.<field> and admin_down)",
                f"update_mask.paths[{i}]",
            )
    source = bfd_pb2.SessionConf()
    source.CopyFrom(update)
    if any(p.startswith("profile.") for p in mask.paths):
        source.profile.SetInParent()  # a named profile field absent from it: cleared
    merged = bfd_pb2.SessionConf()
    merged.CopyFrom(current)
    mask.MergeMessage(source, merged, replace_message_field=True)
    return merged


def spec_from_proto(msg: bfd_pb2.SessionConf, field: str = "session") -> SessionSpec:
    peer = parse_address(msg.peer_address, f"{field}.peer_address", "peer")
    local = (
        parse_address(msg.local_address, f"{field}.local_address", "local")
        if msg.local_address
        else None
    )
    if msg.hop_mode not in (
        bfd_pb2.HOP_MODE_UNSPECIFIED,
        bfd_pb2.HOP_MODE_SINGLE_HOP,
        bfd_pb2.HOP_MODE_MULTIHOP,
    ):
        raise InvalidArgumentError(f"unknown hop mode {msg.hop_mode}", f"{field}.hop_mode")
    profile = (
        profile_from_proto(msg.profile, f"{field}.profile")
        if msg.HasField("profile")
        else BFDProfile()
    )
    try:
        return SessionSpec(
            peer=peer,
            local=local,
            interface=msg.interface,
            vrf=msg.vrf,
            multihop=msg.hop_mode == bfd_pb2.HOP_MODE_MULTIHOP,
            profile=profile,
            admin_down=msg.admin_down,
        )
    except InvalidArgumentError as err:
        raise err.with_field(field) from None


def spec_to_proto(spec: SessionSpec) -> bfd_pb2.SessionConf:
    return bfd_pb2.SessionConf(
        peer_address=str(spec.peer),
        local_address=str(spec.local) if spec.local is not None else "",
        interface=spec.interface,
        vrf=spec.vrf,
        hop_mode=bfd_pb2.HOP_MODE_MULTIHOP if spec.multihop else bfd_pb2.HOP_MODE_SINGLE_HOP,
        profile=profile_to_proto(spec.profile),
        admin_down=spec.admin_down,
    )


def key_from_proto(msg: bfd_pb2.SessionKey, field: str = "key") -> SessionKey:
    peer = parse_address(msg.peer_address, f"{field}.peer_address", "peer")
    return make_key(peer, msg.interface, msg.vrf)


# Indexed by the wire value (RFC 5880 §4.1).
_STATES = (bfd_pb2.STATE_ADMIN_DOWN, bfd_pb2.STATE_DOWN, bfd_pb2.STATE_INIT, bfd_pb2.STATE_UP)
_DIAGNOSTICS = (
    bfd_pb2.DIAGNOSTIC_NONE,
    bfd_pb2.DIAGNOSTIC_CONTROL_DETECTION_TIME_EXPIRED,
    bfd_pb2.DIAGNOSTIC_ECHO_FUNCTION_FAILED,
    bfd_pb2.DIAGNOSTIC_NEIGHBOR_SIGNALED_SESSION_DOWN,
    bfd_pb2.DIAGNOSTIC_FORWARDING_PLANE_RESET,
    bfd_pb2.DIAGNOSTIC_PATH_DOWN,
    bfd_pb2.DIAGNOSTIC_CONCATENATED_PATH_DOWN,
    bfd_pb2.DIAGNOSTIC_ADMINISTRATIVELY_DOWN,
    bfd_pb2.DIAGNOSTIC_REVERSE_CONCATENATED_PATH_DOWN,
)


def state_to_proto(state: State) -> bfd_pb2.State:
    return _STATES[state]


def diag_to_proto(code: int) -> bfd_pb2.Diagnostic:
    return _DIAGNOSTICS[code] if 0 <= code < len(_DIAGNOSTICS) else bfd_pb2.DIAGNOSTIC_RESERVED


_DOWN_REASONS = {
    Diagnostic.CONTROL_DETECTION_TIME_EXPIRED: bfd_pb2.TRANSITION_REASON_DETECTION_TIME_EXPIRED,
    Diagnostic.ECHO_FUNCTION_FAILED: bfd_pb2.TRANSITION_REASON_ECHO_FAILED,
}


def reason_of(change: StateChanged) -> bfd_pb2.TransitionReason:
    if change.new is State.ADMIN_DOWN:
        return bfd_pb2.TRANSITION_REASON_ADMIN_DOWN
    if change.old is State.ADMIN_DOWN:
        return bfd_pb2.TRANSITION_REASON_ADMIN_UP
    if change.new is State.INIT or change.new is State.UP:
        return bfd_pb2.TRANSITION_REASON_PEER_SIGNALED
    return _DOWN_REASONS.get(change.diag, bfd_pb2.TRANSITION_REASON_NEIGHBOR_SIGNALED_DOWN)


def fill_time(msg: Timestamp, monotonic: float | None, offset: float) -> None:
    """A loop-clock instant as wall-clock time (`offset` = wall clock minus loop clock); an
    instant that never was leaves `msg` absent (its parent's HasField is false)."""
    if monotonic is not None:
        msg.FromNanoseconds(round((monotonic + offset) * NS_PER_S))


def fill_seconds(msg: Duration, seconds: float | None) -> None:
    """An interval in seconds, to the microsecond (BFD's unit); None leaves `msg` absent."""
    if seconds is not None:
        msg.FromMicroseconds(round(seconds * 1_000_000))


def fill_transition(msg: bfd_pb2.Transition, change: StateChanged, offset: float) -> None:
    setattr(msg, "from", state_to_proto(change.old))  # `from` is a Python keyword
    msg.to = state_to_proto(change.new)
    msg.diagnostic = diag_to_proto(change.diag)
    msg.reason = reason_of(change)
    fill_time(msg.time, change.at, offset)


def transition_to_proto(change: StateChanged, offset: float) -> bfd_pb2.Transition:
    msg = bfd_pb2.Transition()
    fill_transition(msg, change, offset)
    return msg


class SessionView(NamedTuple):
    """A session's observed state at one instant: what `session_state_to_proto` shows.

    Taking one is a few attribute reads (no protobuf), so the packet path can record what a
    watcher must see and leave building the message to the watch stream (see `watch.py`).
    """

    state: State
    remote_state: State
    local_diag: int
    remote_diag: int
    local_discriminator: int
    remote_discriminator: int
    desired_min_tx: int
    required_min_rx: int
    remote_desired_min_tx: int
    remote_min_rx: int
    remote_min_echo_rx: int
    remote_detect_mult: int
    transmit_interval: int
    detection_time: float | None
    polling: bool
    echo_active: bool
    echo_rtt: float | None
    control_in: int
    control_out: int
    echo_in: int
    echo_out: int
    up_events: int
    down_events: int
    drops: tuple[tuple[DropReason, int], ...]
    last_up_at: float | None
    last_down_at: float | None
    last_received_at: float | None


def view(session: Session) -> SessionView:
    counters = session.counters
    return SessionView(
        session.state,
        session.remote_state,
        session.local_diag,
        session.remote_diag,
        session.local_discriminator,
        session.remote_discriminator,
        session.desired_min_tx,
        session.required_min_rx,
        session.remote_desired_min_tx,
        session.remote_min_rx,
        session.remote_min_echo_rx,
        session.remote_detect_mult,
        session.transmit_interval,
        session.detection_time,
        session.polling,
        session.echo_active,
        session.last_echo_rtt,
        counters.control_in,
        counters.control_out,
        counters.echo_in,
        counters.echo_out,
        counters.up_events,
        counters.down_events,
        tuple(counters.drops.items()) if counters.drops else (),
        counters.last_up_at,
        counters.last_down_at,
        session.last_received_at,
    )


def fill_session_state(
    msg: bfd_pb2.SessionState,
    seen: SessionView,
    offset: float,
    transitions: Sequence[StateChanged],
    polls_completed: int,
    *,
    with_history: bool = True,
) -> None:
    """Write `seen` into an empty `msg` in place: a third of the cost of building the message
    from keyword arguments and copying it into its parent (which copies it whole).

    `with_history=False` (watch events) leaves `recent_transitions` empty: cheaper.
    """
    msg.local_state = state_to_proto(seen.state)
    msg.remote_state = state_to_proto(seen.remote_state)
    msg.local_diagnostic = diag_to_proto(seen.local_diag)
    msg.remote_diagnostic = diag_to_proto(seen.remote_diag)
    msg.local_discriminator = seen.local_discriminator
    msg.remote_discriminator = seen.remote_discriminator
    msg.local_desired_min_tx.FromMicroseconds(seen.desired_min_tx)
    msg.local_required_min_rx.FromMicroseconds(seen.required_min_rx)
    msg.remote_desired_min_tx.FromMicroseconds(seen.remote_desired_min_tx)
    msg.remote_required_min_rx.FromMicroseconds(seen.remote_min_rx)
    msg.remote_required_min_echo_rx.FromMicroseconds(seen.remote_min_echo_rx)
    msg.remote_detect_multiplier = seen.remote_detect_mult
    msg.transmit_interval.FromMicroseconds(seen.transmit_interval)
    fill_seconds(msg.detection_time, seen.detection_time)
    msg.polling = seen.polling
    msg.echo_active = seen.echo_active
    fill_seconds(msg.echo_rtt, seen.echo_rtt)
    counters = msg.counters
    counters.control_packets_in = seen.control_in
    counters.control_packets_out = seen.control_out
    counters.echo_packets_in = seen.echo_in
    counters.echo_packets_out = seen.echo_out
    counters.up_transitions = seen.up_events
    counters.down_transitions = seen.down_events
    counters.poll_sequences_completed = polls_completed
    for reason, count in seen.drops:
        counters.drops[reason.value] = count
    if transitions:
        fill_transition(msg.last_transition, transitions[-1], offset)
        if with_history:
            for change in transitions:
                fill_transition(msg.recent_transitions.add(), change, offset)
    fill_time(msg.last_up_time, seen.last_up_at, offset)
    fill_time(msg.last_down_time, seen.last_down_at, offset)
    fill_time(msg.last_received_time, seen.last_received_at, offset)


def session_state_to_proto(
    seen: SessionView,
    offset: float,
    transitions: Sequence[StateChanged],
    polls_completed: int,
    *,
    with_history: bool = True,
) -> bfd_pb2.SessionState:
    msg = bfd_pb2.SessionState()
    fill_session_state(msg, seen, offset, transitions, polls_completed, with_history=with_history)
    return msg
