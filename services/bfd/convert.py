"""Pure conversions between `metallb.bfd.v1` messages and the BFD service's domain types."""

from __future__ import annotations

from collections.abc import Sequence

from metallb.bfd.v1 import bfd_pb2
from metallb_grpc.bfd_profile import BFDProfile, ProfileError
from metallb_grpc.errors import InvalidArgumentError
from services.bfd.core.events import StateChanged
from services.bfd.core.packet import Diagnostic, State
from services.bfd.core.session import Session
from services.bfd.core.table import SessionKey
from services.bfd.model import SessionSpec, make_key, parse_address

# BFDProfile attribute, proto field, CR field (for the error's field name).
_PROFILE_FIELDS = (
    ("receive_interval", "receive_interval_ms"),
    ("transmit_interval", "transmit_interval_ms"),
    ("detect_multiplier", "detect_multiplier"),
    ("echo_interval", "echo_interval_ms"),
    ("echo_mode", "echo_mode"),
    ("passive_mode", "passive_mode"),
    ("minimum_ttl", "minimum_ttl"),
)
# ProfileError's message names the field MetalLB's way; map it back to the proto field.
_PROFILE_MESSAGES = {
    "invalid detect multiplier value": "detect_multiplier",
    "invalid receive interval value": "receive_interval_ms",
    "invalid transmit interval value": "transmit_interval_ms",
    "invalid minimum ttl value": "minimum_ttl",
    "invalid echo interval value": "echo_interval_ms",
}

US_PER_S = 1_000_000
NS_PER_S = 1_000_000_000


def profile_from_proto(msg: bfd_pb2.Profile, field: str) -> BFDProfile:
    """MetalLB's defaults for absent fields; MetalLB's error text for bad values."""
    kwargs: dict[str, object] = {}
    for attr, name in _PROFILE_FIELDS:
        if msg.HasField(name):
            kwargs[attr] = getattr(msg, name)
    try:
        return BFDProfile(msg.name or "default", **kwargs)  # type: ignore[arg-type]
    except ProfileError as err:
        text = str(err)
        sub = next((f for m, f in _PROFILE_MESSAGES.items() if m in text), "")
        raise InvalidArgumentError(text, f"{field}.{sub}" if sub else field) from None


def profile_to_proto(profile: BFDProfile) -> bfd_pb2.Profile:
    return bfd_pb2.Profile(
        name=profile.name,
        **{name: getattr(profile, attr) for attr, name in _PROFILE_FIELDS},
    )


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


def wall_nanos(monotonic: float | None, offset: float) -> int:
    """A loop-clock instant as Unix nanoseconds (`offset` = wall clock minus loop clock)."""
    return 0 if monotonic is None else round((monotonic + offset) * NS_PER_S)


def transition_to_proto(change: StateChanged, offset: float) -> bfd_pb2.Transition:
    return bfd_pb2.Transition(
        to=state_to_proto(change.new),
        diagnostic=diag_to_proto(change.diag),
        reason=reason_of(change),
        time_unix_nanos=wall_nanos(change.at, offset),
        **{"from": state_to_proto(change.old)},
    )


def session_state_to_proto(
    session: Session,
    offset: float,
    transitions: Sequence[StateChanged],
    polls_completed: int,
    *,
    with_history: bool = True,
) -> bfd_pb2.SessionState:
    """`with_history=False` (watch events) leaves `recent_transitions` empty: cheaper."""
    counters = session.counters
    detection = session.detection_time
    chosen = list(transitions) if with_history else list(transitions)[-1:]
    history = [transition_to_proto(t, offset) for t in chosen]
    rtt = session.last_echo_rtt
    return bfd_pb2.SessionState(
        local_state=state_to_proto(session.state),
        remote_state=state_to_proto(session.remote_state),
        local_diagnostic=diag_to_proto(session.local_diag),
        remote_diagnostic=diag_to_proto(session.remote_diag),
        local_discriminator=session.local_discriminator,
        remote_discriminator=session.remote_discriminator,
        local_desired_min_tx_us=session.desired_min_tx,
        local_required_min_rx_us=session.required_min_rx,
        remote_desired_min_tx_us=session.remote_desired_min_tx,
        remote_required_min_rx_us=session.remote_min_rx,
        remote_required_min_echo_rx_us=session.remote_min_echo_rx,
        remote_detect_multiplier=session.remote_detect_mult,
        transmit_interval_us=min(session.transmit_interval, 0xFFFFFFFF),
        detection_time_us=0 if detection is None else min(round(detection * US_PER_S), 2**32 - 1),
        polling=session.polling,
        echo_active=session.echo_active,
        echo_rtt_us=0 if rtt is None else min(round(rtt * US_PER_S), 2**32 - 1),
        counters=bfd_pb2.Counters(
            control_packets_in=counters.control_in,
            control_packets_out=counters.control_out,
            echo_packets_in=counters.echo_in,
            echo_packets_out=counters.echo_out,
            up_transitions=counters.up_events,
            down_transitions=counters.down_events,
            poll_sequences_completed=polls_completed,
            drops={reason.value: n for reason, n in counters.drops.items()},
        ),
        last_transition=history[-1] if history else None,
        last_up_time_unix_nanos=wall_nanos(counters.last_up_at, offset),
        last_down_time_unix_nanos=wall_nanos(counters.last_down_at, offset),
        last_received_time_unix_nanos=wall_nanos(session.last_received_at, offset),
        recent_transitions=history if with_history else (),
    )
