from metallb.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AnnouncementStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ANNOUNCEMENT_STATUS_UNSPECIFIED: _ClassVar[AnnouncementStatus]
    ANNOUNCEMENT_STATUS_ANNOUNCING: _ClassVar[AnnouncementStatus]
    ANNOUNCEMENT_STATUS_NO_INTERFACE: _ClassVar[AnnouncementStatus]

class IneligibleReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INELIGIBLE_REASON_UNSPECIFIED: _ClassVar[IneligibleReason]
    INELIGIBLE_REASON_EXCLUDED: _ClassVar[IneligibleReason]
    INELIGIBLE_REASON_DOWN: _ClassVar[IneligibleReason]
    INELIGIBLE_REASON_ENSLAVED: _ClassVar[IneligibleReason]
    INELIGIBLE_REASON_NOARP: _ClassVar[IneligibleReason]
    INELIGIBLE_REASON_NOT_ETHERNET: _ClassVar[IneligibleReason]
    INELIGIBLE_REASON_NOT_BROADCAST: _ClassVar[IneligibleReason]
    INELIGIBLE_REASON_NO_IPV6_LINK_LOCAL: _ClassVar[IneligibleReason]

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_TYPE_UNSPECIFIED: _ClassVar[EventType]
    EVENT_TYPE_SNAPSHOT: _ClassVar[EventType]
    EVENT_TYPE_ANNOUNCED: _ClassVar[EventType]
    EVENT_TYPE_WITHDRAWN: _ClassVar[EventType]
    EVENT_TYPE_ANNOUNCEMENT_UPDATED: _ClassVar[EventType]
    EVENT_TYPE_INTERFACE_ADDED: _ClassVar[EventType]
    EVENT_TYPE_INTERFACE_CHANGED: _ClassVar[EventType]
    EVENT_TYPE_INTERFACE_REMOVED: _ClassVar[EventType]
    EVENT_TYPE_ANNOUNCED_ELSEWHERE: _ClassVar[EventType]
ANNOUNCEMENT_STATUS_UNSPECIFIED: AnnouncementStatus
ANNOUNCEMENT_STATUS_ANNOUNCING: AnnouncementStatus
ANNOUNCEMENT_STATUS_NO_INTERFACE: AnnouncementStatus
INELIGIBLE_REASON_UNSPECIFIED: IneligibleReason
INELIGIBLE_REASON_EXCLUDED: IneligibleReason
INELIGIBLE_REASON_DOWN: IneligibleReason
INELIGIBLE_REASON_ENSLAVED: IneligibleReason
INELIGIBLE_REASON_NOARP: IneligibleReason
INELIGIBLE_REASON_NOT_ETHERNET: IneligibleReason
INELIGIBLE_REASON_NOT_BROADCAST: IneligibleReason
INELIGIBLE_REASON_NO_IPV6_LINK_LOCAL: IneligibleReason
EVENT_TYPE_UNSPECIFIED: EventType
EVENT_TYPE_SNAPSHOT: EventType
EVENT_TYPE_ANNOUNCED: EventType
EVENT_TYPE_WITHDRAWN: EventType
EVENT_TYPE_ANNOUNCEMENT_UPDATED: EventType
EVENT_TYPE_INTERFACE_ADDED: EventType
EVENT_TYPE_INTERFACE_CHANGED: EventType
EVENT_TYPE_INTERFACE_REMOVED: EventType
EVENT_TYPE_ANNOUNCED_ELSEWHERE: EventType

class AnnouncementSpec(_message.Message):
    __slots__ = ("ip", "all_interfaces", "interfaces", "owner")
    IP_FIELD_NUMBER: _ClassVar[int]
    ALL_INTERFACES_FIELD_NUMBER: _ClassVar[int]
    INTERFACES_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    ip: str
    all_interfaces: bool
    interfaces: _containers.RepeatedScalarFieldContainer[str]
    owner: str
    def __init__(self, ip: _Optional[str] = ..., all_interfaces: _Optional[bool] = ..., interfaces: _Optional[_Iterable[str]] = ..., owner: _Optional[str] = ...) -> None: ...

class Announcement(_message.Message):
    __slots__ = ("ip", "all_interfaces", "interfaces", "owners", "answering_on", "status")
    IP_FIELD_NUMBER: _ClassVar[int]
    ALL_INTERFACES_FIELD_NUMBER: _ClassVar[int]
    INTERFACES_FIELD_NUMBER: _ClassVar[int]
    OWNERS_FIELD_NUMBER: _ClassVar[int]
    ANSWERING_ON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ip: str
    all_interfaces: bool
    interfaces: _containers.RepeatedScalarFieldContainer[str]
    owners: _containers.RepeatedScalarFieldContainer[str]
    answering_on: _containers.RepeatedScalarFieldContainer[str]
    status: AnnouncementStatus
    def __init__(self, ip: _Optional[str] = ..., all_interfaces: _Optional[bool] = ..., interfaces: _Optional[_Iterable[str]] = ..., owners: _Optional[_Iterable[str]] = ..., answering_on: _Optional[_Iterable[str]] = ..., status: _Optional[_Union[AnnouncementStatus, str]] = ...) -> None: ...

class SetAnnouncementsRequest(_message.Message):
    __slots__ = ("announcements",)
    ANNOUNCEMENTS_FIELD_NUMBER: _ClassVar[int]
    announcements: _containers.RepeatedCompositeFieldContainer[AnnouncementSpec]
    def __init__(self, announcements: _Optional[_Iterable[_Union[AnnouncementSpec, _Mapping]]] = ...) -> None: ...

class SetAnnouncementsResponse(_message.Message):
    __slots__ = ("announced", "withdrawn", "updated", "announcements")
    ANNOUNCED_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    ANNOUNCEMENTS_FIELD_NUMBER: _ClassVar[int]
    announced: _containers.RepeatedScalarFieldContainer[str]
    withdrawn: _containers.RepeatedScalarFieldContainer[str]
    updated: _containers.RepeatedScalarFieldContainer[str]
    announcements: _containers.RepeatedCompositeFieldContainer[Announcement]
    def __init__(self, announced: _Optional[_Iterable[str]] = ..., withdrawn: _Optional[_Iterable[str]] = ..., updated: _Optional[_Iterable[str]] = ..., announcements: _Optional[_Iterable[_Union[Announcement, _Mapping]]] = ...) -> None: ...

class ListAnnouncementsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAnnouncementsResponse(_message.Message):
    __slots__ = ("announcements", "desired")
    ANNOUNCEMENTS_FIELD_NUMBER: _ClassVar[int]
    DESIRED_FIELD_NUMBER: _ClassVar[int]
    announcements: _containers.RepeatedCompositeFieldContainer[Announcement]
    desired: _containers.RepeatedCompositeFieldContainer[AnnouncementSpec]
    def __init__(self, announcements: _Optional[_Iterable[_Union[Announcement, _Mapping]]] = ..., desired: _Optional[_Iterable[_Union[AnnouncementSpec, _Mapping]]] = ...) -> None: ...

class Interface(_message.Message):
    __slots__ = ("name", "index", "mac", "up", "master_index", "ipv6_link_local", "arp_eligible", "arp_reason", "ndp_eligible", "ndp_reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    MAC_FIELD_NUMBER: _ClassVar[int]
    UP_FIELD_NUMBER: _ClassVar[int]
    MASTER_INDEX_FIELD_NUMBER: _ClassVar[int]
    IPV6_LINK_LOCAL_FIELD_NUMBER: _ClassVar[int]
    ARP_ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    ARP_REASON_FIELD_NUMBER: _ClassVar[int]
    NDP_ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    NDP_REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    index: int
    mac: str
    up: bool
    master_index: int
    ipv6_link_local: str
    arp_eligible: bool
    arp_reason: IneligibleReason
    ndp_eligible: bool
    ndp_reason: IneligibleReason
    def __init__(self, name: _Optional[str] = ..., index: _Optional[int] = ..., mac: _Optional[str] = ..., up: _Optional[bool] = ..., master_index: _Optional[int] = ..., ipv6_link_local: _Optional[str] = ..., arp_eligible: _Optional[bool] = ..., arp_reason: _Optional[_Union[IneligibleReason, str]] = ..., ndp_eligible: _Optional[bool] = ..., ndp_reason: _Optional[_Union[IneligibleReason, str]] = ...) -> None: ...

class ListInterfacesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListInterfacesResponse(_message.Message):
    __slots__ = ("interfaces",)
    INTERFACES_FIELD_NUMBER: _ClassVar[int]
    interfaces: _containers.RepeatedCompositeFieldContainer[Interface]
    def __init__(self, interfaces: _Optional[_Iterable[_Union[Interface, _Mapping]]] = ...) -> None: ...

class WatchEventsRequest(_message.Message):
    __slots__ = ("resume_token",)
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    resume_token: _common_pb2.ResumeToken
    def __init__(self, resume_token: _Optional[_Union[_common_pb2.ResumeToken, _Mapping]] = ...) -> None: ...

class ForeignAnnouncement(_message.Message):
    __slots__ = ("ip", "mac", "interface")
    IP_FIELD_NUMBER: _ClassVar[int]
    MAC_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    ip: str
    mac: str
    interface: str
    def __init__(self, ip: _Optional[str] = ..., mac: _Optional[str] = ..., interface: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("type", "announcement", "interface", "foreign")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ANNOUNCEMENT_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    FOREIGN_FIELD_NUMBER: _ClassVar[int]
    type: EventType
    announcement: Announcement
    interface: Interface
    foreign: ForeignAnnouncement
    def __init__(self, type: _Optional[_Union[EventType, str]] = ..., announcement: _Optional[_Union[Announcement, _Mapping]] = ..., interface: _Optional[_Union[Interface, _Mapping]] = ..., foreign: _Optional[_Union[ForeignAnnouncement, _Mapping]] = ...) -> None: ...

class WatchEventsResponse(_message.Message):
    __slots__ = ("events", "end_of_snapshot", "resume_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    END_OF_SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    end_of_snapshot: _common_pb2.EndOfSnapshot
    resume_token: _common_pb2.ResumeToken
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., end_of_snapshot: _Optional[_Union[_common_pb2.EndOfSnapshot, _Mapping]] = ..., resume_token: _Optional[_Union[_common_pb2.ResumeToken, _Mapping]] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("instance_id",)
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    def __init__(self, instance_id: _Optional[str] = ...) -> None: ...
