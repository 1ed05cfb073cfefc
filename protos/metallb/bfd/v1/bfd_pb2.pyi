import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from metallb.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HopMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOP_MODE_UNSPECIFIED: _ClassVar[HopMode]
    HOP_MODE_SINGLE_HOP: _ClassVar[HopMode]
    HOP_MODE_MULTIHOP: _ClassVar[HopMode]

class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STATE_UNSPECIFIED: _ClassVar[State]
    STATE_ADMIN_DOWN: _ClassVar[State]
    STATE_DOWN: _ClassVar[State]
    STATE_INIT: _ClassVar[State]
    STATE_UP: _ClassVar[State]

class Diagnostic(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIAGNOSTIC_UNSPECIFIED: _ClassVar[Diagnostic]
    DIAGNOSTIC_NONE: _ClassVar[Diagnostic]
    DIAGNOSTIC_CONTROL_DETECTION_TIME_EXPIRED: _ClassVar[Diagnostic]
    DIAGNOSTIC_ECHO_FUNCTION_FAILED: _ClassVar[Diagnostic]
    DIAGNOSTIC_NEIGHBOR_SIGNALED_SESSION_DOWN: _ClassVar[Diagnostic]
    DIAGNOSTIC_FORWARDING_PLANE_RESET: _ClassVar[Diagnostic]
    DIAGNOSTIC_PATH_DOWN: _ClassVar[Diagnostic]
    DIAGNOSTIC_CONCATENATED_PATH_DOWN: _ClassVar[Diagnostic]
    DIAGNOSTIC_ADMINISTRATIVELY_DOWN: _ClassVar[Diagnostic]
    DIAGNOSTIC_REVERSE_CONCATENATED_PATH_DOWN: _ClassVar[Diagnostic]
    DIAGNOSTIC_RESERVED: _ClassVar[Diagnostic]

class TransitionReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSITION_REASON_UNSPECIFIED: _ClassVar[TransitionReason]
    TRANSITION_REASON_PEER_SIGNALED: _ClassVar[TransitionReason]
    TRANSITION_REASON_DETECTION_TIME_EXPIRED: _ClassVar[TransitionReason]
    TRANSITION_REASON_ECHO_FAILED: _ClassVar[TransitionReason]
    TRANSITION_REASON_NEIGHBOR_SIGNALED_DOWN: _ClassVar[TransitionReason]
    TRANSITION_REASON_ADMIN_DOWN: _ClassVar[TransitionReason]
    TRANSITION_REASON_ADMIN_UP: _ClassVar[TransitionReason]

class SessionEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SESSION_EVENT_TYPE_UNSPECIFIED: _ClassVar[SessionEventType]
    SESSION_EVENT_TYPE_SNAPSHOT: _ClassVar[SessionEventType]
    SESSION_EVENT_TYPE_ADDED: _ClassVar[SessionEventType]
    SESSION_EVENT_TYPE_UPDATED: _ClassVar[SessionEventType]
    SESSION_EVENT_TYPE_DELETED: _ClassVar[SessionEventType]
    SESSION_EVENT_TYPE_STATE_CHANGED: _ClassVar[SessionEventType]
    SESSION_EVENT_TYPE_INTERVALS_CHANGED: _ClassVar[SessionEventType]
HOP_MODE_UNSPECIFIED: HopMode
HOP_MODE_SINGLE_HOP: HopMode
HOP_MODE_MULTIHOP: HopMode
STATE_UNSPECIFIED: State
STATE_ADMIN_DOWN: State
STATE_DOWN: State
STATE_INIT: State
STATE_UP: State
DIAGNOSTIC_UNSPECIFIED: Diagnostic
DIAGNOSTIC_NONE: Diagnostic
DIAGNOSTIC_CONTROL_DETECTION_TIME_EXPIRED: Diagnostic
DIAGNOSTIC_ECHO_FUNCTION_FAILED: Diagnostic
DIAGNOSTIC_NEIGHBOR_SIGNALED_SESSION_DOWN: Diagnostic
DIAGNOSTIC_FORWARDING_PLANE_RESET: Diagnostic
DIAGNOSTIC_PATH_DOWN: Diagnostic
DIAGNOSTIC_CONCATENATED_PATH_DOWN: Diagnostic
DIAGNOSTIC_ADMINISTRATIVELY_DOWN: Diagnostic
DIAGNOSTIC_REVERSE_CONCATENATED_PATH_DOWN: Diagnostic
DIAGNOSTIC_RESERVED: Diagnostic
TRANSITION_REASON_UNSPECIFIED: TransitionReason
TRANSITION_REASON_PEER_SIGNALED: TransitionReason
TRANSITION_REASON_DETECTION_TIME_EXPIRED: TransitionReason
TRANSITION_REASON_ECHO_FAILED: TransitionReason
TRANSITION_REASON_NEIGHBOR_SIGNALED_DOWN: TransitionReason
TRANSITION_REASON_ADMIN_DOWN: TransitionReason
TRANSITION_REASON_ADMIN_UP: TransitionReason
SESSION_EVENT_TYPE_UNSPECIFIED: SessionEventType
SESSION_EVENT_TYPE_SNAPSHOT: SessionEventType
SESSION_EVENT_TYPE_ADDED: SessionEventType
SESSION_EVENT_TYPE_UPDATED: SessionEventType
SESSION_EVENT_TYPE_DELETED: SessionEventType
SESSION_EVENT_TYPE_STATE_CHANGED: SessionEventType
SESSION_EVENT_TYPE_INTERVALS_CHANGED: SessionEventType

class Profile(_message.Message):
    __slots__ = ("name", "receive_interval", "transmit_interval", "detect_multiplier", "echo_interval", "echo_mode", "passive_mode", "minimum_ttl")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RECEIVE_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    TRANSMIT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    DETECT_MULTIPLIER_FIELD_NUMBER: _ClassVar[int]
    ECHO_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    ECHO_MODE_FIELD_NUMBER: _ClassVar[int]
    PASSIVE_MODE_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_TTL_FIELD_NUMBER: _ClassVar[int]
    name: str
    receive_interval: _duration_pb2.Duration
    transmit_interval: _duration_pb2.Duration
    detect_multiplier: int
    echo_interval: _duration_pb2.Duration
    echo_mode: bool
    passive_mode: bool
    minimum_ttl: int
    def __init__(self, name: _Optional[str] = ..., receive_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., transmit_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., detect_multiplier: _Optional[int] = ..., echo_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., echo_mode: _Optional[bool] = ..., passive_mode: _Optional[bool] = ..., minimum_ttl: _Optional[int] = ...) -> None: ...

class SessionKey(_message.Message):
    __slots__ = ("peer_address", "interface", "vrf")
    PEER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    VRF_FIELD_NUMBER: _ClassVar[int]
    peer_address: str
    interface: str
    vrf: str
    def __init__(self, peer_address: _Optional[str] = ..., interface: _Optional[str] = ..., vrf: _Optional[str] = ...) -> None: ...

class SessionConf(_message.Message):
    __slots__ = ("peer_address", "local_address", "interface", "vrf", "hop_mode", "profile", "admin_down")
    PEER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    LOCAL_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    VRF_FIELD_NUMBER: _ClassVar[int]
    HOP_MODE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    ADMIN_DOWN_FIELD_NUMBER: _ClassVar[int]
    peer_address: str
    local_address: str
    interface: str
    vrf: str
    hop_mode: HopMode
    profile: Profile
    admin_down: bool
    def __init__(self, peer_address: _Optional[str] = ..., local_address: _Optional[str] = ..., interface: _Optional[str] = ..., vrf: _Optional[str] = ..., hop_mode: _Optional[_Union[HopMode, str]] = ..., profile: _Optional[_Union[Profile, _Mapping]] = ..., admin_down: _Optional[bool] = ...) -> None: ...

class Transition(_message.Message):
    __slots__ = ("to", "diagnostic", "reason", "time")
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSTIC_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    to: State
    diagnostic: Diagnostic
    reason: TransitionReason
    time: _timestamp_pb2.Timestamp
    def __init__(self, to: _Optional[_Union[State, str]] = ..., diagnostic: _Optional[_Union[Diagnostic, str]] = ..., reason: _Optional[_Union[TransitionReason, str]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., **kwargs) -> None: ...

class Counters(_message.Message):
    __slots__ = ("control_packets_in", "control_packets_out", "echo_packets_in", "echo_packets_out", "up_transitions", "down_transitions", "poll_sequences_completed", "drops")
    class DropsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    CONTROL_PACKETS_IN_FIELD_NUMBER: _ClassVar[int]
    CONTROL_PACKETS_OUT_FIELD_NUMBER: _ClassVar[int]
    ECHO_PACKETS_IN_FIELD_NUMBER: _ClassVar[int]
    ECHO_PACKETS_OUT_FIELD_NUMBER: _ClassVar[int]
    UP_TRANSITIONS_FIELD_NUMBER: _ClassVar[int]
    DOWN_TRANSITIONS_FIELD_NUMBER: _ClassVar[int]
    POLL_SEQUENCES_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    DROPS_FIELD_NUMBER: _ClassVar[int]
    control_packets_in: int
    control_packets_out: int
    echo_packets_in: int
    echo_packets_out: int
    up_transitions: int
    down_transitions: int
    poll_sequences_completed: int
    drops: _containers.ScalarMap[str, int]
    def __init__(self, control_packets_in: _Optional[int] = ..., control_packets_out: _Optional[int] = ..., echo_packets_in: _Optional[int] = ..., echo_packets_out: _Optional[int] = ..., up_transitions: _Optional[int] = ..., down_transitions: _Optional[int] = ..., poll_sequences_completed: _Optional[int] = ..., drops: _Optional[_Mapping[str, int]] = ...) -> None: ...

class SessionState(_message.Message):
    __slots__ = ("local_state", "remote_state", "local_diagnostic", "remote_diagnostic", "local_discriminator", "remote_discriminator", "local_desired_min_tx", "local_required_min_rx", "remote_desired_min_tx", "remote_required_min_rx", "remote_required_min_echo_rx", "remote_detect_multiplier", "transmit_interval", "detection_time", "polling", "echo_active", "echo_rtt", "counters", "last_transition", "last_up_time", "last_down_time", "last_received_time", "recent_transitions")
    LOCAL_STATE_FIELD_NUMBER: _ClassVar[int]
    REMOTE_STATE_FIELD_NUMBER: _ClassVar[int]
    LOCAL_DIAGNOSTIC_FIELD_NUMBER: _ClassVar[int]
    REMOTE_DIAGNOSTIC_FIELD_NUMBER: _ClassVar[int]
    LOCAL_DISCRIMINATOR_FIELD_NUMBER: _ClassVar[int]
    REMOTE_DISCRIMINATOR_FIELD_NUMBER: _ClassVar[int]
    LOCAL_DESIRED_MIN_TX_FIELD_NUMBER: _ClassVar[int]
    LOCAL_REQUIRED_MIN_RX_FIELD_NUMBER: _ClassVar[int]
    REMOTE_DESIRED_MIN_TX_FIELD_NUMBER: _ClassVar[int]
    REMOTE_REQUIRED_MIN_RX_FIELD_NUMBER: _ClassVar[int]
    REMOTE_REQUIRED_MIN_ECHO_RX_FIELD_NUMBER: _ClassVar[int]
    REMOTE_DETECT_MULTIPLIER_FIELD_NUMBER: _ClassVar[int]
    TRANSMIT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    DETECTION_TIME_FIELD_NUMBER: _ClassVar[int]
    POLLING_FIELD_NUMBER: _ClassVar[int]
    ECHO_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    ECHO_RTT_FIELD_NUMBER: _ClassVar[int]
    COUNTERS_FIELD_NUMBER: _ClassVar[int]
    LAST_TRANSITION_FIELD_NUMBER: _ClassVar[int]
    LAST_UP_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_DOWN_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_RECEIVED_TIME_FIELD_NUMBER: _ClassVar[int]
    RECENT_TRANSITIONS_FIELD_NUMBER: _ClassVar[int]
    local_state: State
    remote_state: State
    local_diagnostic: Diagnostic
    remote_diagnostic: Diagnostic
    local_discriminator: int
    remote_discriminator: int
    local_desired_min_tx: _duration_pb2.Duration
    local_required_min_rx: _duration_pb2.Duration
    remote_desired_min_tx: _duration_pb2.Duration
    remote_required_min_rx: _duration_pb2.Duration
    remote_required_min_echo_rx: _duration_pb2.Duration
    remote_detect_multiplier: int
    transmit_interval: _duration_pb2.Duration
    detection_time: _duration_pb2.Duration
    polling: bool
    echo_active: bool
    echo_rtt: _duration_pb2.Duration
    counters: Counters
    last_transition: Transition
    last_up_time: _timestamp_pb2.Timestamp
    last_down_time: _timestamp_pb2.Timestamp
    last_received_time: _timestamp_pb2.Timestamp
    recent_transitions: _containers.RepeatedCompositeFieldContainer[Transition]
    def __init__(self, local_state: _Optional[_Union[State, str]] = ..., remote_state: _Optional[_Union[State, str]] = ..., local_diagnostic: _Optional[_Union[Diagnostic, str]] = ..., remote_diagnostic: _Optional[_Union[Diagnostic, str]] = ..., local_discriminator: _Optional[int] = ..., remote_discriminator: _Optional[int] = ..., local_desired_min_tx: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., local_required_min_rx: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., remote_desired_min_tx: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., remote_required_min_rx: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., remote_required_min_echo_rx: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., remote_detect_multiplier: _Optional[int] = ..., transmit_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., detection_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., polling: _Optional[bool] = ..., echo_active: _Optional[bool] = ..., echo_rtt: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., counters: _Optional[_Union[Counters, _Mapping]] = ..., last_transition: _Optional[_Union[Transition, _Mapping]] = ..., last_up_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_down_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_received_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recent_transitions: _Optional[_Iterable[_Union[Transition, _Mapping]]] = ...) -> None: ...

class Session(_message.Message):
    __slots__ = ("conf", "state")
    CONF_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    conf: SessionConf
    state: SessionState
    def __init__(self, conf: _Optional[_Union[SessionConf, _Mapping]] = ..., state: _Optional[_Union[SessionState, _Mapping]] = ...) -> None: ...

class AddSessionRequest(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: SessionConf
    def __init__(self, session: _Optional[_Union[SessionConf, _Mapping]] = ...) -> None: ...

class AddSessionResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: Session
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ...) -> None: ...

class UpdateSessionRequest(_message.Message):
    __slots__ = ("session", "update_mask")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    session: SessionConf
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, session: _Optional[_Union[SessionConf, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateSessionResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: Session
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ...) -> None: ...

class DeleteSessionRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: SessionKey
    def __init__(self, key: _Optional[_Union[SessionKey, _Mapping]] = ...) -> None: ...

class DeleteSessionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetSessionRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: SessionKey
    def __init__(self, key: _Optional[_Union[SessionKey, _Mapping]] = ...) -> None: ...

class GetSessionResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: Session
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ...) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ("sessions",)
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[Session]
    def __init__(self, sessions: _Optional[_Iterable[_Union[Session, _Mapping]]] = ...) -> None: ...

class WatchSessionsRequest(_message.Message):
    __slots__ = ("resume_token",)
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    resume_token: _common_pb2.ResumeToken
    def __init__(self, resume_token: _Optional[_Union[_common_pb2.ResumeToken, _Mapping]] = ...) -> None: ...

class SessionEvent(_message.Message):
    __slots__ = ("type", "session", "transition")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    TRANSITION_FIELD_NUMBER: _ClassVar[int]
    type: SessionEventType
    session: Session
    transition: Transition
    def __init__(self, type: _Optional[_Union[SessionEventType, str]] = ..., session: _Optional[_Union[Session, _Mapping]] = ..., transition: _Optional[_Union[Transition, _Mapping]] = ...) -> None: ...

class WatchSessionsResponse(_message.Message):
    __slots__ = ("events", "end_of_snapshot", "resume_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    END_OF_SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[SessionEvent]
    end_of_snapshot: _common_pb2.EndOfSnapshot
    resume_token: _common_pb2.ResumeToken
    def __init__(self, events: _Optional[_Iterable[_Union[SessionEvent, _Mapping]]] = ..., end_of_snapshot: _Optional[_Union[_common_pb2.EndOfSnapshot, _Mapping]] = ..., resume_token: _Optional[_Union[_common_pb2.ResumeToken, _Mapping]] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("instance_id",)
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    def __init__(self, instance_id: _Optional[str] = ...) -> None: ...
