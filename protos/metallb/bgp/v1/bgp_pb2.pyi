import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from metallb.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DynamicASN(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DYNAMIC_ASN_UNSPECIFIED: _ClassVar[DynamicASN]
    DYNAMIC_ASN_INTERNAL: _ClassVar[DynamicASN]
    DYNAMIC_ASN_EXTERNAL: _ClassVar[DynamicASN]

class SessionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SESSION_STATE_UNSPECIFIED: _ClassVar[SessionState]
    SESSION_STATE_IDLE: _ClassVar[SessionState]
    SESSION_STATE_CONNECT: _ClassVar[SessionState]
    SESSION_STATE_ACTIVE: _ClassVar[SessionState]
    SESSION_STATE_OPEN_SENT: _ClassVar[SessionState]
    SESSION_STATE_OPEN_CONFIRM: _ClassVar[SessionState]
    SESSION_STATE_ESTABLISHED: _ClassVar[SessionState]

class StateReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STATE_REASON_UNSPECIFIED: _ClassVar[StateReason]
    STATE_REASON_ADMIN_START: _ClassVar[StateReason]
    STATE_REASON_AUTOMATIC_START: _ClassVar[StateReason]
    STATE_REASON_CONNECTING: _ClassVar[StateReason]
    STATE_REASON_CONNECT_FAILED: _ClassVar[StateReason]
    STATE_REASON_OPEN_SENT: _ClassVar[StateReason]
    STATE_REASON_OPEN_RECEIVED: _ClassVar[StateReason]
    STATE_REASON_ESTABLISHED: _ClassVar[StateReason]
    STATE_REASON_CONNECTION_CLOSED: _ClassVar[StateReason]
    STATE_REASON_HOLD_TIMER_EXPIRED: _ClassVar[StateReason]
    STATE_REASON_NOTIFICATION_RECEIVED: _ClassVar[StateReason]
    STATE_REASON_PROTOCOL_ERROR: _ClassVar[StateReason]
    STATE_REASON_FSM_ERROR: _ClassVar[StateReason]
    STATE_REASON_COLLISION: _ClassVar[StateReason]
    STATE_REASON_ADMIN_STOP: _ClassVar[StateReason]
    STATE_REASON_ADMIN_RESET: _ClassVar[StateReason]
    STATE_REASON_PEER_DELETED: _ClassVar[StateReason]
    STATE_REASON_CONFIG_CHANGED: _ClassVar[StateReason]
    STATE_REASON_BFD_DOWN: _ClassVar[StateReason]
    STATE_REASON_MAX_PREFIXES: _ClassVar[StateReason]
    STATE_REASON_NEIGHBOR_CHANGED: _ClassVar[StateReason]
    STATE_REASON_LINK_DOWN: _ClassVar[StateReason]
    STATE_REASON_ADDRESS_CHANGED: _ClassVar[StateReason]

class NeighborSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NEIGHBOR_SOURCE_UNSPECIFIED: _ClassVar[NeighborSource]
    NEIGHBOR_SOURCE_ROUTER_ADVERTISEMENT: _ClassVar[NeighborSource]
    NEIGHBOR_SOURCE_NEIGHBOR_CACHE: _ClassVar[NeighborSource]
    NEIGHBOR_SOURCE_INCOMING_CONNECTION: _ClassVar[NeighborSource]

class PeerEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PEER_EVENT_TYPE_UNSPECIFIED: _ClassVar[PeerEventType]
    PEER_EVENT_TYPE_SNAPSHOT: _ClassVar[PeerEventType]
    PEER_EVENT_TYPE_ADDED: _ClassVar[PeerEventType]
    PEER_EVENT_TYPE_CHANGED: _ClassVar[PeerEventType]
    PEER_EVENT_TYPE_DELETED: _ClassVar[PeerEventType]
DYNAMIC_ASN_UNSPECIFIED: DynamicASN
DYNAMIC_ASN_INTERNAL: DynamicASN
DYNAMIC_ASN_EXTERNAL: DynamicASN
SESSION_STATE_UNSPECIFIED: SessionState
SESSION_STATE_IDLE: SessionState
SESSION_STATE_CONNECT: SessionState
SESSION_STATE_ACTIVE: SessionState
SESSION_STATE_OPEN_SENT: SessionState
SESSION_STATE_OPEN_CONFIRM: SessionState
SESSION_STATE_ESTABLISHED: SessionState
STATE_REASON_UNSPECIFIED: StateReason
STATE_REASON_ADMIN_START: StateReason
STATE_REASON_AUTOMATIC_START: StateReason
STATE_REASON_CONNECTING: StateReason
STATE_REASON_CONNECT_FAILED: StateReason
STATE_REASON_OPEN_SENT: StateReason
STATE_REASON_OPEN_RECEIVED: StateReason
STATE_REASON_ESTABLISHED: StateReason
STATE_REASON_CONNECTION_CLOSED: StateReason
STATE_REASON_HOLD_TIMER_EXPIRED: StateReason
STATE_REASON_NOTIFICATION_RECEIVED: StateReason
STATE_REASON_PROTOCOL_ERROR: StateReason
STATE_REASON_FSM_ERROR: StateReason
STATE_REASON_COLLISION: StateReason
STATE_REASON_ADMIN_STOP: StateReason
STATE_REASON_ADMIN_RESET: StateReason
STATE_REASON_PEER_DELETED: StateReason
STATE_REASON_CONFIG_CHANGED: StateReason
STATE_REASON_BFD_DOWN: StateReason
STATE_REASON_MAX_PREFIXES: StateReason
STATE_REASON_NEIGHBOR_CHANGED: StateReason
STATE_REASON_LINK_DOWN: StateReason
STATE_REASON_ADDRESS_CHANGED: StateReason
NEIGHBOR_SOURCE_UNSPECIFIED: NeighborSource
NEIGHBOR_SOURCE_ROUTER_ADVERTISEMENT: NeighborSource
NEIGHBOR_SOURCE_NEIGHBOR_CACHE: NeighborSource
NEIGHBOR_SOURCE_INCOMING_CONNECTION: NeighborSource
PEER_EVENT_TYPE_UNSPECIFIED: PeerEventType
PEER_EVENT_TYPE_SNAPSHOT: PeerEventType
PEER_EVENT_TYPE_ADDED: PeerEventType
PEER_EVENT_TYPE_CHANGED: PeerEventType
PEER_EVENT_TYPE_DELETED: PeerEventType

class BfdSettings(_message.Message):
    __slots__ = ("receive_interval", "transmit_interval", "detect_multiplier", "echo_interval", "echo_mode", "passive_mode", "minimum_ttl")
    RECEIVE_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    TRANSMIT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    DETECT_MULTIPLIER_FIELD_NUMBER: _ClassVar[int]
    ECHO_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    ECHO_MODE_FIELD_NUMBER: _ClassVar[int]
    PASSIVE_MODE_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_TTL_FIELD_NUMBER: _ClassVar[int]
    receive_interval: _duration_pb2.Duration
    transmit_interval: _duration_pb2.Duration
    detect_multiplier: int
    echo_interval: _duration_pb2.Duration
    echo_mode: bool
    passive_mode: bool
    minimum_ttl: int
    def __init__(self, receive_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., transmit_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., detect_multiplier: _Optional[int] = ..., echo_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., echo_mode: _Optional[bool] = ..., passive_mode: _Optional[bool] = ..., minimum_ttl: _Optional[int] = ...) -> None: ...

class PeerConf(_message.Message):
    __slots__ = ("name", "my_asn", "peer_asn", "dynamic_asn", "replace_as", "peer_address", "peer_port", "source_address", "router_id", "password", "hold_time", "keepalive_time", "connect_time", "ebgp_multihop", "vrf", "enable_graceful_restart", "disable_mp", "dual_stack_address_family", "bfd_profile", "bfd", "password_set", "password_fingerprint", "max_prefixes", "max_prefix_cease", "gtsm", "interface")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MY_ASN_FIELD_NUMBER: _ClassVar[int]
    PEER_ASN_FIELD_NUMBER: _ClassVar[int]
    DYNAMIC_ASN_FIELD_NUMBER: _ClassVar[int]
    REPLACE_AS_FIELD_NUMBER: _ClassVar[int]
    PEER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PEER_PORT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ROUTER_ID_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    HOLD_TIME_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_TIME_FIELD_NUMBER: _ClassVar[int]
    CONNECT_TIME_FIELD_NUMBER: _ClassVar[int]
    EBGP_MULTIHOP_FIELD_NUMBER: _ClassVar[int]
    VRF_FIELD_NUMBER: _ClassVar[int]
    ENABLE_GRACEFUL_RESTART_FIELD_NUMBER: _ClassVar[int]
    DISABLE_MP_FIELD_NUMBER: _ClassVar[int]
    DUAL_STACK_ADDRESS_FAMILY_FIELD_NUMBER: _ClassVar[int]
    BFD_PROFILE_FIELD_NUMBER: _ClassVar[int]
    BFD_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_SET_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    MAX_PREFIXES_FIELD_NUMBER: _ClassVar[int]
    MAX_PREFIX_CEASE_FIELD_NUMBER: _ClassVar[int]
    GTSM_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    my_asn: int
    peer_asn: int
    dynamic_asn: DynamicASN
    replace_as: int
    peer_address: str
    peer_port: int
    source_address: str
    router_id: str
    password: str
    hold_time: _duration_pb2.Duration
    keepalive_time: _duration_pb2.Duration
    connect_time: _duration_pb2.Duration
    ebgp_multihop: bool
    vrf: str
    enable_graceful_restart: bool
    disable_mp: bool
    dual_stack_address_family: bool
    bfd_profile: str
    bfd: BfdSettings
    password_set: bool
    password_fingerprint: str
    max_prefixes: int
    max_prefix_cease: bool
    gtsm: bool
    interface: str
    def __init__(self, name: _Optional[str] = ..., my_asn: _Optional[int] = ..., peer_asn: _Optional[int] = ..., dynamic_asn: _Optional[_Union[DynamicASN, str]] = ..., replace_as: _Optional[int] = ..., peer_address: _Optional[str] = ..., peer_port: _Optional[int] = ..., source_address: _Optional[str] = ..., router_id: _Optional[str] = ..., password: _Optional[str] = ..., hold_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., keepalive_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., connect_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., ebgp_multihop: _Optional[bool] = ..., vrf: _Optional[str] = ..., enable_graceful_restart: _Optional[bool] = ..., disable_mp: _Optional[bool] = ..., dual_stack_address_family: _Optional[bool] = ..., bfd_profile: _Optional[str] = ..., bfd: _Optional[_Union[BfdSettings, _Mapping]] = ..., password_set: _Optional[bool] = ..., password_fingerprint: _Optional[str] = ..., max_prefixes: _Optional[int] = ..., max_prefix_cease: _Optional[bool] = ..., gtsm: _Optional[bool] = ..., interface: _Optional[str] = ...) -> None: ...

class UnnumberedState(_message.Message):
    __slots__ = ("interface", "link_up", "local_address", "neighbor_address", "neighbor_source", "learned_time", "router_advertisements_sent", "router_advertisements_received")
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    LINK_UP_FIELD_NUMBER: _ClassVar[int]
    LOCAL_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    NEIGHBOR_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    NEIGHBOR_SOURCE_FIELD_NUMBER: _ClassVar[int]
    LEARNED_TIME_FIELD_NUMBER: _ClassVar[int]
    ROUTER_ADVERTISEMENTS_SENT_FIELD_NUMBER: _ClassVar[int]
    ROUTER_ADVERTISEMENTS_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    interface: str
    link_up: bool
    local_address: str
    neighbor_address: str
    neighbor_source: NeighborSource
    learned_time: _timestamp_pb2.Timestamp
    router_advertisements_sent: int
    router_advertisements_received: int
    def __init__(self, interface: _Optional[str] = ..., link_up: _Optional[bool] = ..., local_address: _Optional[str] = ..., neighbor_address: _Optional[str] = ..., neighbor_source: _Optional[_Union[NeighborSource, str]] = ..., learned_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., router_advertisements_sent: _Optional[int] = ..., router_advertisements_received: _Optional[int] = ...) -> None: ...

class MessageCounters(_message.Message):
    __slots__ = ("open", "update", "notification", "keepalive", "route_refresh", "total")
    OPEN_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_FIELD_NUMBER: _ClassVar[int]
    ROUTE_REFRESH_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    open: int
    update: int
    notification: int
    keepalive: int
    route_refresh: int
    total: int
    def __init__(self, open: _Optional[int] = ..., update: _Optional[int] = ..., notification: _Optional[int] = ..., keepalive: _Optional[int] = ..., route_refresh: _Optional[int] = ..., total: _Optional[int] = ...) -> None: ...

class NegotiatedCapabilities(_message.Message):
    __slots__ = ("four_octet_as", "families", "extended_next_hop", "route_refresh", "graceful_restart")
    FOUR_OCTET_AS_FIELD_NUMBER: _ClassVar[int]
    FAMILIES_FIELD_NUMBER: _ClassVar[int]
    EXTENDED_NEXT_HOP_FIELD_NUMBER: _ClassVar[int]
    ROUTE_REFRESH_FIELD_NUMBER: _ClassVar[int]
    GRACEFUL_RESTART_FIELD_NUMBER: _ClassVar[int]
    four_octet_as: bool
    families: _containers.RepeatedScalarFieldContainer[_common_pb2.IPFamily]
    extended_next_hop: _containers.RepeatedScalarFieldContainer[_common_pb2.IPFamily]
    route_refresh: bool
    graceful_restart: bool
    def __init__(self, four_octet_as: _Optional[bool] = ..., families: _Optional[_Iterable[_Union[_common_pb2.IPFamily, str]]] = ..., extended_next_hop: _Optional[_Iterable[_Union[_common_pb2.IPFamily, str]]] = ..., route_refresh: _Optional[bool] = ..., graceful_restart: _Optional[bool] = ...) -> None: ...

class NotificationInfo(_message.Message):
    __slots__ = ("code", "subcode", "data", "description", "sent")
    CODE_FIELD_NUMBER: _ClassVar[int]
    SUBCODE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SENT_FIELD_NUMBER: _ClassVar[int]
    code: int
    subcode: int
    data: bytes
    description: str
    sent: bool
    def __init__(self, code: _Optional[int] = ..., subcode: _Optional[int] = ..., data: _Optional[bytes] = ..., description: _Optional[str] = ..., sent: _Optional[bool] = ...) -> None: ...

class LastError(_message.Message):
    __slots__ = ("reason", "message", "notification", "time")
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    reason: StateReason
    message: str
    notification: NotificationInfo
    time: _timestamp_pb2.Timestamp
    def __init__(self, reason: _Optional[_Union[StateReason, str]] = ..., message: _Optional[str] = ..., notification: _Optional[_Union[NotificationInfo, _Mapping]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PeerState(_message.Message):
    __slots__ = ("session_state", "reason", "reason_message", "last_transition_time", "uptime", "negotiated_hold_time", "keepalive_interval", "capabilities", "local_address", "peer_router_id", "peer_asn", "sent", "received", "prefixes_advertised", "prefixes_pending", "prefixes_received", "established_transitions", "last_error", "bfd_status", "updates_treated_as_withdraw", "attributes_discarded", "last_attribute_error", "prefix_limit_reached", "prefixes_ignored", "unnumbered")
    SESSION_STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REASON_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LAST_TRANSITION_TIME_FIELD_NUMBER: _ClassVar[int]
    UPTIME_FIELD_NUMBER: _ClassVar[int]
    NEGOTIATED_HOLD_TIME_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    LOCAL_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PEER_ROUTER_ID_FIELD_NUMBER: _ClassVar[int]
    PEER_ASN_FIELD_NUMBER: _ClassVar[int]
    SENT_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    PREFIXES_ADVERTISED_FIELD_NUMBER: _ClassVar[int]
    PREFIXES_PENDING_FIELD_NUMBER: _ClassVar[int]
    PREFIXES_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    ESTABLISHED_TRANSITIONS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    BFD_STATUS_FIELD_NUMBER: _ClassVar[int]
    UPDATES_TREATED_AS_WITHDRAW_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_DISCARDED_FIELD_NUMBER: _ClassVar[int]
    LAST_ATTRIBUTE_ERROR_FIELD_NUMBER: _ClassVar[int]
    PREFIX_LIMIT_REACHED_FIELD_NUMBER: _ClassVar[int]
    PREFIXES_IGNORED_FIELD_NUMBER: _ClassVar[int]
    UNNUMBERED_FIELD_NUMBER: _ClassVar[int]
    session_state: SessionState
    reason: StateReason
    reason_message: str
    last_transition_time: _timestamp_pb2.Timestamp
    uptime: _duration_pb2.Duration
    negotiated_hold_time: _duration_pb2.Duration
    keepalive_interval: _duration_pb2.Duration
    capabilities: NegotiatedCapabilities
    local_address: str
    peer_router_id: str
    peer_asn: int
    sent: MessageCounters
    received: MessageCounters
    prefixes_advertised: int
    prefixes_pending: int
    prefixes_received: int
    established_transitions: int
    last_error: LastError
    bfd_status: str
    updates_treated_as_withdraw: int
    attributes_discarded: int
    last_attribute_error: str
    prefix_limit_reached: bool
    prefixes_ignored: int
    unnumbered: UnnumberedState
    def __init__(self, session_state: _Optional[_Union[SessionState, str]] = ..., reason: _Optional[_Union[StateReason, str]] = ..., reason_message: _Optional[str] = ..., last_transition_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., uptime: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., negotiated_hold_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., keepalive_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., capabilities: _Optional[_Union[NegotiatedCapabilities, _Mapping]] = ..., local_address: _Optional[str] = ..., peer_router_id: _Optional[str] = ..., peer_asn: _Optional[int] = ..., sent: _Optional[_Union[MessageCounters, _Mapping]] = ..., received: _Optional[_Union[MessageCounters, _Mapping]] = ..., prefixes_advertised: _Optional[int] = ..., prefixes_pending: _Optional[int] = ..., prefixes_received: _Optional[int] = ..., established_transitions: _Optional[int] = ..., last_error: _Optional[_Union[LastError, _Mapping]] = ..., bfd_status: _Optional[str] = ..., updates_treated_as_withdraw: _Optional[int] = ..., attributes_discarded: _Optional[int] = ..., last_attribute_error: _Optional[str] = ..., prefix_limit_reached: _Optional[bool] = ..., prefixes_ignored: _Optional[int] = ..., unnumbered: _Optional[_Union[UnnumberedState, _Mapping]] = ...) -> None: ...

class Peer(_message.Message):
    __slots__ = ("conf", "state")
    CONF_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    conf: PeerConf
    state: PeerState
    def __init__(self, conf: _Optional[_Union[PeerConf, _Mapping]] = ..., state: _Optional[_Union[PeerState, _Mapping]] = ...) -> None: ...

class AddPeerRequest(_message.Message):
    __slots__ = ("peer",)
    PEER_FIELD_NUMBER: _ClassVar[int]
    peer: PeerConf
    def __init__(self, peer: _Optional[_Union[PeerConf, _Mapping]] = ...) -> None: ...

class AddPeerResponse(_message.Message):
    __slots__ = ("peer",)
    PEER_FIELD_NUMBER: _ClassVar[int]
    peer: Peer
    def __init__(self, peer: _Optional[_Union[Peer, _Mapping]] = ...) -> None: ...

class UpdatePeerRequest(_message.Message):
    __slots__ = ("peer", "update_mask")
    PEER_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    peer: PeerConf
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, peer: _Optional[_Union[PeerConf, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdatePeerResponse(_message.Message):
    __slots__ = ("peer", "restarted")
    PEER_FIELD_NUMBER: _ClassVar[int]
    RESTARTED_FIELD_NUMBER: _ClassVar[int]
    peer: Peer
    restarted: bool
    def __init__(self, peer: _Optional[_Union[Peer, _Mapping]] = ..., restarted: _Optional[bool] = ...) -> None: ...

class DeletePeerRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeletePeerResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetPeerRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetPeerResponse(_message.Message):
    __slots__ = ("peer",)
    PEER_FIELD_NUMBER: _ClassVar[int]
    peer: Peer
    def __init__(self, peer: _Optional[_Union[Peer, _Mapping]] = ...) -> None: ...

class ListPeersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPeersResponse(_message.Message):
    __slots__ = ("peers",)
    PEERS_FIELD_NUMBER: _ClassVar[int]
    peers: _containers.RepeatedCompositeFieldContainer[Peer]
    def __init__(self, peers: _Optional[_Iterable[_Union[Peer, _Mapping]]] = ...) -> None: ...

class ResetPeerRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ResetPeerResponse(_message.Message):
    __slots__ = ("peer",)
    PEER_FIELD_NUMBER: _ClassVar[int]
    peer: Peer
    def __init__(self, peer: _Optional[_Union[Peer, _Mapping]] = ...) -> None: ...

class Community(_message.Message):
    __slots__ = ("asn", "value")
    ASN_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    asn: int
    value: int
    def __init__(self, asn: _Optional[int] = ..., value: _Optional[int] = ...) -> None: ...

class LargeCommunity(_message.Message):
    __slots__ = ("global_administrator", "local_data_1", "local_data_2")
    GLOBAL_ADMINISTRATOR_FIELD_NUMBER: _ClassVar[int]
    LOCAL_DATA_1_FIELD_NUMBER: _ClassVar[int]
    LOCAL_DATA_2_FIELD_NUMBER: _ClassVar[int]
    global_administrator: int
    local_data_1: int
    local_data_2: int
    def __init__(self, global_administrator: _Optional[int] = ..., local_data_1: _Optional[int] = ..., local_data_2: _Optional[int] = ...) -> None: ...

class Route(_message.Message):
    __slots__ = ("prefix", "communities", "large_communities", "local_pref", "sent")
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    COMMUNITIES_FIELD_NUMBER: _ClassVar[int]
    LARGE_COMMUNITIES_FIELD_NUMBER: _ClassVar[int]
    LOCAL_PREF_FIELD_NUMBER: _ClassVar[int]
    SENT_FIELD_NUMBER: _ClassVar[int]
    prefix: str
    communities: _containers.RepeatedCompositeFieldContainer[Community]
    large_communities: _containers.RepeatedCompositeFieldContainer[LargeCommunity]
    local_pref: int
    sent: bool
    def __init__(self, prefix: _Optional[str] = ..., communities: _Optional[_Iterable[_Union[Community, _Mapping]]] = ..., large_communities: _Optional[_Iterable[_Union[LargeCommunity, _Mapping]]] = ..., local_pref: _Optional[int] = ..., sent: _Optional[bool] = ...) -> None: ...

class RouteGroup(_message.Message):
    __slots__ = ("prefixes", "ipv4_nlri", "ipv6_nlri", "communities", "large_communities", "local_pref")
    PREFIXES_FIELD_NUMBER: _ClassVar[int]
    IPV4_NLRI_FIELD_NUMBER: _ClassVar[int]
    IPV6_NLRI_FIELD_NUMBER: _ClassVar[int]
    COMMUNITIES_FIELD_NUMBER: _ClassVar[int]
    LARGE_COMMUNITIES_FIELD_NUMBER: _ClassVar[int]
    LOCAL_PREF_FIELD_NUMBER: _ClassVar[int]
    prefixes: _containers.RepeatedScalarFieldContainer[str]
    ipv4_nlri: bytes
    ipv6_nlri: bytes
    communities: _containers.RepeatedCompositeFieldContainer[Community]
    large_communities: _containers.RepeatedCompositeFieldContainer[LargeCommunity]
    local_pref: int
    def __init__(self, prefixes: _Optional[_Iterable[str]] = ..., ipv4_nlri: _Optional[bytes] = ..., ipv6_nlri: _Optional[bytes] = ..., communities: _Optional[_Iterable[_Union[Community, _Mapping]]] = ..., large_communities: _Optional[_Iterable[_Union[LargeCommunity, _Mapping]]] = ..., local_pref: _Optional[int] = ...) -> None: ...

class PeerAdvertisements(_message.Message):
    __slots__ = ("peer", "routes", "groups")
    PEER_FIELD_NUMBER: _ClassVar[int]
    ROUTES_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    peer: str
    routes: _containers.RepeatedCompositeFieldContainer[Route]
    groups: _containers.RepeatedCompositeFieldContainer[RouteGroup]
    def __init__(self, peer: _Optional[str] = ..., routes: _Optional[_Iterable[_Union[Route, _Mapping]]] = ..., groups: _Optional[_Iterable[_Union[RouteGroup, _Mapping]]] = ...) -> None: ...

class SetAdvertisementsRequest(_message.Message):
    __slots__ = ("advertisements",)
    ADVERTISEMENTS_FIELD_NUMBER: _ClassVar[int]
    advertisements: _containers.RepeatedCompositeFieldContainer[PeerAdvertisements]
    def __init__(self, advertisements: _Optional[_Iterable[_Union[PeerAdvertisements, _Mapping]]] = ...) -> None: ...

class PeerAdvertisementChange(_message.Message):
    __slots__ = ("peer", "announced", "withdrawn", "status")
    PEER_FIELD_NUMBER: _ClassVar[int]
    ANNOUNCED_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    peer: str
    announced: int
    withdrawn: int
    status: _status_pb2.Status
    def __init__(self, peer: _Optional[str] = ..., announced: _Optional[int] = ..., withdrawn: _Optional[int] = ..., status: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class SetAdvertisementsResponse(_message.Message):
    __slots__ = ("changes",)
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[PeerAdvertisementChange]
    def __init__(self, changes: _Optional[_Iterable[_Union[PeerAdvertisementChange, _Mapping]]] = ...) -> None: ...

class ListAdvertisementsRequest(_message.Message):
    __slots__ = ("peer",)
    PEER_FIELD_NUMBER: _ClassVar[int]
    peer: str
    def __init__(self, peer: _Optional[str] = ...) -> None: ...

class ListAdvertisementsResponse(_message.Message):
    __slots__ = ("peers",)
    PEERS_FIELD_NUMBER: _ClassVar[int]
    peers: _containers.RepeatedCompositeFieldContainer[PeerAdvertisements]
    def __init__(self, peers: _Optional[_Iterable[_Union[PeerAdvertisements, _Mapping]]] = ...) -> None: ...

class WatchPeersRequest(_message.Message):
    __slots__ = ("resume_token",)
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    resume_token: _common_pb2.ResumeToken
    def __init__(self, resume_token: _Optional[_Union[_common_pb2.ResumeToken, _Mapping]] = ...) -> None: ...

class PeerEvent(_message.Message):
    __slots__ = ("type", "peer")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    type: PeerEventType
    peer: Peer
    def __init__(self, type: _Optional[_Union[PeerEventType, str]] = ..., peer: _Optional[_Union[Peer, _Mapping]] = ...) -> None: ...

class WatchPeersResponse(_message.Message):
    __slots__ = ("events", "end_of_snapshot", "resume_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    END_OF_SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[PeerEvent]
    end_of_snapshot: _common_pb2.EndOfSnapshot
    resume_token: _common_pb2.ResumeToken
    def __init__(self, events: _Optional[_Iterable[_Union[PeerEvent, _Mapping]]] = ..., end_of_snapshot: _Optional[_Union[_common_pb2.EndOfSnapshot, _Mapping]] = ..., resume_token: _Optional[_Union[_common_pb2.ResumeToken, _Mapping]] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("instance_id",)
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    def __init__(self, instance_id: _Optional[str] = ...) -> None: ...
