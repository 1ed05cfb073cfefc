from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IPFamily(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IP_FAMILY_UNSPECIFIED: _ClassVar[IPFamily]
    IP_FAMILY_IPV4: _ClassVar[IPFamily]
    IP_FAMILY_IPV6: _ClassVar[IPFamily]

class IPFamilyPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IP_FAMILY_POLICY_UNSPECIFIED: _ClassVar[IPFamilyPolicy]
    IP_FAMILY_POLICY_SINGLE_STACK: _ClassVar[IPFamilyPolicy]
    IP_FAMILY_POLICY_PREFER_DUAL_STACK: _ClassVar[IPFamilyPolicy]
    IP_FAMILY_POLICY_REQUIRE_DUAL_STACK: _ClassVar[IPFamilyPolicy]

class Protocol(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROTOCOL_UNSPECIFIED: _ClassVar[Protocol]
    PROTOCOL_TCP: _ClassVar[Protocol]
    PROTOCOL_UDP: _ClassVar[Protocol]
    PROTOCOL_SCTP: _ClassVar[Protocol]

class WatchStart(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WATCH_START_UNSPECIFIED: _ClassVar[WatchStart]
    WATCH_START_SNAPSHOT: _ClassVar[WatchStart]
    WATCH_START_RESUMED: _ClassVar[WatchStart]
    WATCH_START_OTHER_INSTANCE: _ClassVar[WatchStart]
    WATCH_START_TOKEN_EXPIRED: _ClassVar[WatchStart]
    WATCH_START_FELL_BEHIND: _ClassVar[WatchStart]
IP_FAMILY_UNSPECIFIED: IPFamily
IP_FAMILY_IPV4: IPFamily
IP_FAMILY_IPV6: IPFamily
IP_FAMILY_POLICY_UNSPECIFIED: IPFamilyPolicy
IP_FAMILY_POLICY_SINGLE_STACK: IPFamilyPolicy
IP_FAMILY_POLICY_PREFER_DUAL_STACK: IPFamilyPolicy
IP_FAMILY_POLICY_REQUIRE_DUAL_STACK: IPFamilyPolicy
PROTOCOL_UNSPECIFIED: Protocol
PROTOCOL_TCP: Protocol
PROTOCOL_UDP: Protocol
PROTOCOL_SCTP: Protocol
WATCH_START_UNSPECIFIED: WatchStart
WATCH_START_SNAPSHOT: WatchStart
WATCH_START_RESUMED: WatchStart
WATCH_START_OTHER_INSTANCE: WatchStart
WATCH_START_TOKEN_EXPIRED: WatchStart
WATCH_START_FELL_BEHIND: WatchStart

class Port(_message.Message):
    __slots__ = ("protocol", "port")
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    protocol: Protocol
    port: int
    def __init__(self, protocol: _Optional[_Union[Protocol, str]] = ..., port: _Optional[int] = ...) -> None: ...

class LabelSelectorRequirement(_message.Message):
    __slots__ = ("key", "operator", "values")
    KEY_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    key: str
    operator: str
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, key: _Optional[str] = ..., operator: _Optional[str] = ..., values: _Optional[_Iterable[str]] = ...) -> None: ...

class LabelSelector(_message.Message):
    __slots__ = ("match_labels", "match_expressions")
    class MatchLabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MATCH_LABELS_FIELD_NUMBER: _ClassVar[int]
    MATCH_EXPRESSIONS_FIELD_NUMBER: _ClassVar[int]
    match_labels: _containers.ScalarMap[str, str]
    match_expressions: _containers.RepeatedCompositeFieldContainer[LabelSelectorRequirement]
    def __init__(self, match_labels: _Optional[_Mapping[str, str]] = ..., match_expressions: _Optional[_Iterable[_Union[LabelSelectorRequirement, _Mapping]]] = ...) -> None: ...

class ServiceKey(_message.Message):
    __slots__ = ("namespace", "name")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ResumeToken(_message.Message):
    __slots__ = ("instance_id", "sequence")
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    sequence: int
    def __init__(self, instance_id: _Optional[str] = ..., sequence: _Optional[int] = ...) -> None: ...

class EndOfSnapshot(_message.Message):
    __slots__ = ("start",)
    START_FIELD_NUMBER: _ClassVar[int]
    start: WatchStart
    def __init__(self, start: _Optional[_Union[WatchStart, str]] = ...) -> None: ...
