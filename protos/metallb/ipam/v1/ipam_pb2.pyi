from google.rpc import status_pb2 as _status_pb2
from metallb.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RequestedIPsSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REQUESTED_IPS_SOURCE_UNSPECIFIED: _ClassVar[RequestedIPsSource]
    REQUESTED_IPS_SOURCE_ANNOTATION: _ClassVar[RequestedIPsSource]
    REQUESTED_IPS_SOURCE_SPEC: _ClassVar[RequestedIPsSource]

class ReleaseReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RELEASE_REASON_UNSPECIFIED: _ClassVar[ReleaseReason]
    RELEASE_REASON_RELEASED: _ClassVar[ReleaseReason]
    RELEASE_REASON_NOT_IN_ANY_POOL: _ClassVar[ReleaseReason]
    RELEASE_REASON_POOL_NOT_COMPATIBLE: _ClassVar[ReleaseReason]

class SyncOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SYNC_OUTCOME_UNSPECIFIED: _ClassVar[SyncOutcome]
    SYNC_OUTCOME_SUCCESS: _ClassVar[SyncOutcome]
    SYNC_OUTCOME_ERROR_NO_RETRY: _ClassVar[SyncOutcome]
    SYNC_OUTCOME_REPROCESS_ALL: _ClassVar[SyncOutcome]

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_TYPE_UNSPECIFIED: _ClassVar[EventType]
    EVENT_TYPE_NORMAL: _ClassVar[EventType]
    EVENT_TYPE_WARNING: _ClassVar[EventType]

class AllocationEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALLOCATION_EVENT_TYPE_UNSPECIFIED: _ClassVar[AllocationEventType]
    ALLOCATION_EVENT_TYPE_SNAPSHOT: _ClassVar[AllocationEventType]
    ALLOCATION_EVENT_TYPE_ALLOCATED: _ClassVar[AllocationEventType]
    ALLOCATION_EVENT_TYPE_RELEASED: _ClassVar[AllocationEventType]
REQUESTED_IPS_SOURCE_UNSPECIFIED: RequestedIPsSource
REQUESTED_IPS_SOURCE_ANNOTATION: RequestedIPsSource
REQUESTED_IPS_SOURCE_SPEC: RequestedIPsSource
RELEASE_REASON_UNSPECIFIED: ReleaseReason
RELEASE_REASON_RELEASED: ReleaseReason
RELEASE_REASON_NOT_IN_ANY_POOL: ReleaseReason
RELEASE_REASON_POOL_NOT_COMPATIBLE: ReleaseReason
SYNC_OUTCOME_UNSPECIFIED: SyncOutcome
SYNC_OUTCOME_SUCCESS: SyncOutcome
SYNC_OUTCOME_ERROR_NO_RETRY: SyncOutcome
SYNC_OUTCOME_REPROCESS_ALL: SyncOutcome
EVENT_TYPE_UNSPECIFIED: EventType
EVENT_TYPE_NORMAL: EventType
EVENT_TYPE_WARNING: EventType
ALLOCATION_EVENT_TYPE_UNSPECIFIED: AllocationEventType
ALLOCATION_EVENT_TYPE_SNAPSHOT: AllocationEventType
ALLOCATION_EVENT_TYPE_ALLOCATED: AllocationEventType
ALLOCATION_EVENT_TYPE_RELEASED: AllocationEventType

class ServiceAllocation(_message.Message):
    __slots__ = ("priority", "namespaces", "namespace_selectors", "service_selectors")
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_SELECTORS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_SELECTORS_FIELD_NUMBER: _ClassVar[int]
    priority: int
    namespaces: _containers.RepeatedScalarFieldContainer[str]
    namespace_selectors: _containers.RepeatedCompositeFieldContainer[_common_pb2.LabelSelector]
    service_selectors: _containers.RepeatedCompositeFieldContainer[_common_pb2.LabelSelector]
    def __init__(self, priority: _Optional[int] = ..., namespaces: _Optional[_Iterable[str]] = ..., namespace_selectors: _Optional[_Iterable[_Union[_common_pb2.LabelSelector, _Mapping]]] = ..., service_selectors: _Optional[_Iterable[_Union[_common_pb2.LabelSelector, _Mapping]]] = ...) -> None: ...

class Pool(_message.Message):
    __slots__ = ("name", "addresses", "auto_assign", "avoid_buggy_ips", "service_allocation")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    AUTO_ASSIGN_FIELD_NUMBER: _ClassVar[int]
    AVOID_BUGGY_IPS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    addresses: _containers.RepeatedScalarFieldContainer[str]
    auto_assign: bool
    avoid_buggy_ips: bool
    service_allocation: ServiceAllocation
    def __init__(self, name: _Optional[str] = ..., addresses: _Optional[_Iterable[str]] = ..., auto_assign: _Optional[bool] = ..., avoid_buggy_ips: _Optional[bool] = ..., service_allocation: _Optional[_Union[ServiceAllocation, _Mapping]] = ...) -> None: ...

class PoolState(_message.Message):
    __slots__ = ("addresses_total", "ipv4_addresses_total", "ipv6_addresses_total", "addresses_in_use", "ipv4_addresses_in_use", "ipv6_addresses_in_use", "ipv4_addresses_available", "ipv6_addresses_available", "services_allocated")
    ADDRESSES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    IPV4_ADDRESSES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    IPV6_ADDRESSES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_IN_USE_FIELD_NUMBER: _ClassVar[int]
    IPV4_ADDRESSES_IN_USE_FIELD_NUMBER: _ClassVar[int]
    IPV6_ADDRESSES_IN_USE_FIELD_NUMBER: _ClassVar[int]
    IPV4_ADDRESSES_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    IPV6_ADDRESSES_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    SERVICES_ALLOCATED_FIELD_NUMBER: _ClassVar[int]
    addresses_total: int
    ipv4_addresses_total: int
    ipv6_addresses_total: int
    addresses_in_use: int
    ipv4_addresses_in_use: int
    ipv6_addresses_in_use: int
    ipv4_addresses_available: int
    ipv6_addresses_available: int
    services_allocated: int
    def __init__(self, addresses_total: _Optional[int] = ..., ipv4_addresses_total: _Optional[int] = ..., ipv6_addresses_total: _Optional[int] = ..., addresses_in_use: _Optional[int] = ..., ipv4_addresses_in_use: _Optional[int] = ..., ipv6_addresses_in_use: _Optional[int] = ..., ipv4_addresses_available: _Optional[int] = ..., ipv6_addresses_available: _Optional[int] = ..., services_allocated: _Optional[int] = ...) -> None: ...

class PoolStatus(_message.Message):
    __slots__ = ("conf", "state")
    CONF_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    conf: Pool
    state: PoolState
    def __init__(self, conf: _Optional[_Union[Pool, _Mapping]] = ..., state: _Optional[_Union[PoolState, _Mapping]] = ...) -> None: ...

class Service(_message.Message):
    __slots__ = ("namespace", "name", "labels", "namespace_labels", "ip_families", "ip_family_policy", "requested_ips", "requested_ips_source", "requested_pool", "sharing_key", "backend_key", "ports")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class NamespaceLabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_LABELS_FIELD_NUMBER: _ClassVar[int]
    IP_FAMILIES_FIELD_NUMBER: _ClassVar[int]
    IP_FAMILY_POLICY_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_IPS_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_IPS_SOURCE_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_POOL_FIELD_NUMBER: _ClassVar[int]
    SHARING_KEY_FIELD_NUMBER: _ClassVar[int]
    BACKEND_KEY_FIELD_NUMBER: _ClassVar[int]
    PORTS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    labels: _containers.ScalarMap[str, str]
    namespace_labels: _containers.ScalarMap[str, str]
    ip_families: _containers.RepeatedScalarFieldContainer[_common_pb2.IPFamily]
    ip_family_policy: _common_pb2.IPFamilyPolicy
    requested_ips: _containers.RepeatedScalarFieldContainer[str]
    requested_ips_source: RequestedIPsSource
    requested_pool: str
    sharing_key: str
    backend_key: str
    ports: _containers.RepeatedCompositeFieldContainer[_common_pb2.Port]
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., namespace_labels: _Optional[_Mapping[str, str]] = ..., ip_families: _Optional[_Iterable[_Union[_common_pb2.IPFamily, str]]] = ..., ip_family_policy: _Optional[_Union[_common_pb2.IPFamilyPolicy, str]] = ..., requested_ips: _Optional[_Iterable[str]] = ..., requested_ips_source: _Optional[_Union[RequestedIPsSource, str]] = ..., requested_pool: _Optional[str] = ..., sharing_key: _Optional[str] = ..., backend_key: _Optional[str] = ..., ports: _Optional[_Iterable[_Union[_common_pb2.Port, _Mapping]]] = ...) -> None: ...

class Allocation(_message.Message):
    __slots__ = ("namespace", "name", "ips", "pool", "sharing_key", "backend_key", "ports")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    IPS_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    SHARING_KEY_FIELD_NUMBER: _ClassVar[int]
    BACKEND_KEY_FIELD_NUMBER: _ClassVar[int]
    PORTS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    ips: _containers.RepeatedScalarFieldContainer[str]
    pool: str
    sharing_key: str
    backend_key: str
    ports: _containers.RepeatedCompositeFieldContainer[_common_pb2.Port]
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ..., ips: _Optional[_Iterable[str]] = ..., pool: _Optional[str] = ..., sharing_key: _Optional[str] = ..., backend_key: _Optional[str] = ..., ports: _Optional[_Iterable[_Union[_common_pb2.Port, _Mapping]]] = ...) -> None: ...

class SetPoolsRequest(_message.Message):
    __slots__ = ("pools",)
    POOLS_FIELD_NUMBER: _ClassVar[int]
    pools: _containers.RepeatedCompositeFieldContainer[Pool]
    def __init__(self, pools: _Optional[_Iterable[_Union[Pool, _Mapping]]] = ...) -> None: ...

class LostAllocation(_message.Message):
    __slots__ = ("allocation", "reason", "message")
    ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    allocation: Allocation
    reason: ReleaseReason
    message: str
    def __init__(self, allocation: _Optional[_Union[Allocation, _Mapping]] = ..., reason: _Optional[_Union[ReleaseReason, str]] = ..., message: _Optional[str] = ...) -> None: ...

class MovedAllocation(_message.Message):
    __slots__ = ("allocation", "previous_pool")
    ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_POOL_FIELD_NUMBER: _ClassVar[int]
    allocation: Allocation
    previous_pool: str
    def __init__(self, allocation: _Optional[_Union[Allocation, _Mapping]] = ..., previous_pool: _Optional[str] = ...) -> None: ...

class SetPoolsResponse(_message.Message):
    __slots__ = ("lost", "moved", "pools")
    LOST_FIELD_NUMBER: _ClassVar[int]
    MOVED_FIELD_NUMBER: _ClassVar[int]
    POOLS_FIELD_NUMBER: _ClassVar[int]
    lost: _containers.RepeatedCompositeFieldContainer[LostAllocation]
    moved: _containers.RepeatedCompositeFieldContainer[MovedAllocation]
    pools: _containers.RepeatedCompositeFieldContainer[PoolStatus]
    def __init__(self, lost: _Optional[_Iterable[_Union[LostAllocation, _Mapping]]] = ..., moved: _Optional[_Iterable[_Union[MovedAllocation, _Mapping]]] = ..., pools: _Optional[_Iterable[_Union[PoolStatus, _Mapping]]] = ...) -> None: ...

class ListPoolsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPoolsResponse(_message.Message):
    __slots__ = ("pools",)
    POOLS_FIELD_NUMBER: _ClassVar[int]
    pools: _containers.RepeatedCompositeFieldContainer[PoolStatus]
    def __init__(self, pools: _Optional[_Iterable[_Union[PoolStatus, _Mapping]]] = ...) -> None: ...

class GetPoolRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetPoolResponse(_message.Message):
    __slots__ = ("pool",)
    POOL_FIELD_NUMBER: _ClassVar[int]
    pool: PoolStatus
    def __init__(self, pool: _Optional[_Union[PoolStatus, _Mapping]] = ...) -> None: ...

class AllocateRequest(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: Service
    def __init__(self, service: _Optional[_Union[Service, _Mapping]] = ...) -> None: ...

class AllocateResponse(_message.Message):
    __slots__ = ("allocation",)
    ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    allocation: Allocation
    def __init__(self, allocation: _Optional[_Union[Allocation, _Mapping]] = ...) -> None: ...

class AllocateBatchRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[AllocateRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[AllocateRequest, _Mapping]]] = ...) -> None: ...

class AllocateBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[AllocateResult]
    def __init__(self, results: _Optional[_Iterable[_Union[AllocateResult, _Mapping]]] = ...) -> None: ...

class AllocateResult(_message.Message):
    __slots__ = ("allocation", "error")
    ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    allocation: Allocation
    error: _status_pb2.Status
    def __init__(self, allocation: _Optional[_Union[Allocation, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class AllocateAdditionalFamilyRequest(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: Service
    def __init__(self, service: _Optional[_Union[Service, _Mapping]] = ...) -> None: ...

class AllocateAdditionalFamilyResponse(_message.Message):
    __slots__ = ("allocation", "added_ip")
    ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    ADDED_IP_FIELD_NUMBER: _ClassVar[int]
    allocation: Allocation
    added_ip: str
    def __init__(self, allocation: _Optional[_Union[Allocation, _Mapping]] = ..., added_ip: _Optional[str] = ...) -> None: ...

class AssignRequest(_message.Message):
    __slots__ = ("service", "ips")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    IPS_FIELD_NUMBER: _ClassVar[int]
    service: Service
    ips: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, service: _Optional[_Union[Service, _Mapping]] = ..., ips: _Optional[_Iterable[str]] = ...) -> None: ...

class AssignResponse(_message.Message):
    __slots__ = ("allocation",)
    ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    allocation: Allocation
    def __init__(self, allocation: _Optional[_Union[Allocation, _Mapping]] = ...) -> None: ...

class ReleaseRequest(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: _common_pb2.ServiceKey
    def __init__(self, service: _Optional[_Union[_common_pb2.ServiceKey, _Mapping]] = ...) -> None: ...

class ReleaseResponse(_message.Message):
    __slots__ = ("released",)
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    released: Allocation
    def __init__(self, released: _Optional[_Union[Allocation, _Mapping]] = ...) -> None: ...

class Restoration(_message.Message):
    __slots__ = ("service", "ips")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    IPS_FIELD_NUMBER: _ClassVar[int]
    service: Service
    ips: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, service: _Optional[_Union[Service, _Mapping]] = ..., ips: _Optional[_Iterable[str]] = ...) -> None: ...

class RestoreResult(_message.Message):
    __slots__ = ("service", "restored", "allocation", "error")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    RESTORED_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    service: _common_pb2.ServiceKey
    restored: bool
    allocation: Allocation
    error: _status_pb2.Status
    def __init__(self, service: _Optional[_Union[_common_pb2.ServiceKey, _Mapping]] = ..., restored: _Optional[bool] = ..., allocation: _Optional[_Union[Allocation, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class RestoreAllocationsRequest(_message.Message):
    __slots__ = ("restorations", "complete")
    RESTORATIONS_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    restorations: _containers.RepeatedCompositeFieldContainer[Restoration]
    complete: bool
    def __init__(self, restorations: _Optional[_Iterable[_Union[Restoration, _Mapping]]] = ..., complete: _Optional[bool] = ...) -> None: ...

class RestoreAllocationsResponse(_message.Message):
    __slots__ = ("results", "restore_complete")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    RESTORE_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[RestoreResult]
    restore_complete: bool
    def __init__(self, results: _Optional[_Iterable[_Union[RestoreResult, _Mapping]]] = ..., restore_complete: _Optional[bool] = ...) -> None: ...

class LoadBalancerService(_message.Message):
    __slots__ = ("namespace", "name", "type", "cluster_ips", "ip_families", "ip_family_policy", "load_balancer_ip", "external_traffic_policy", "selector", "labels", "annotations", "ports", "ingress_ips")
    class SelectorEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class AnnotationsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_IPS_FIELD_NUMBER: _ClassVar[int]
    IP_FAMILIES_FIELD_NUMBER: _ClassVar[int]
    IP_FAMILY_POLICY_FIELD_NUMBER: _ClassVar[int]
    LOAD_BALANCER_IP_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_TRAFFIC_POLICY_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    PORTS_FIELD_NUMBER: _ClassVar[int]
    INGRESS_IPS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    type: str
    cluster_ips: _containers.RepeatedScalarFieldContainer[str]
    ip_families: _containers.RepeatedScalarFieldContainer[_common_pb2.IPFamily]
    ip_family_policy: _common_pb2.IPFamilyPolicy
    load_balancer_ip: str
    external_traffic_policy: str
    selector: _containers.ScalarMap[str, str]
    labels: _containers.ScalarMap[str, str]
    annotations: _containers.ScalarMap[str, str]
    ports: _containers.RepeatedCompositeFieldContainer[_common_pb2.Port]
    ingress_ips: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ..., type: _Optional[str] = ..., cluster_ips: _Optional[_Iterable[str]] = ..., ip_families: _Optional[_Iterable[_Union[_common_pb2.IPFamily, str]]] = ..., ip_family_policy: _Optional[_Union[_common_pb2.IPFamilyPolicy, str]] = ..., load_balancer_ip: _Optional[str] = ..., external_traffic_policy: _Optional[str] = ..., selector: _Optional[_Mapping[str, str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., annotations: _Optional[_Mapping[str, str]] = ..., ports: _Optional[_Iterable[_Union[_common_pb2.Port, _Mapping]]] = ..., ingress_ips: _Optional[_Iterable[str]] = ...) -> None: ...

class Labels(_message.Message):
    __slots__ = ("labels",)
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    LABELS_FIELD_NUMBER: _ClassVar[int]
    labels: _containers.ScalarMap[str, str]
    def __init__(self, labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ConvergeServicesRequest(_message.Message):
    __slots__ = ("services", "namespace_labels", "deleted", "complete_set")
    class NamespaceLabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Labels
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Labels, _Mapping]] = ...) -> None: ...
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_LABELS_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_SET_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedCompositeFieldContainer[LoadBalancerService]
    namespace_labels: _containers.MessageMap[str, Labels]
    deleted: _containers.RepeatedCompositeFieldContainer[_common_pb2.ServiceKey]
    complete_set: bool
    def __init__(self, services: _Optional[_Iterable[_Union[LoadBalancerService, _Mapping]]] = ..., namespace_labels: _Optional[_Mapping[str, Labels]] = ..., deleted: _Optional[_Iterable[_Union[_common_pb2.ServiceKey, _Mapping]]] = ..., complete_set: _Optional[bool] = ...) -> None: ...

class ServiceEvent(_message.Message):
    __slots__ = ("type", "reason", "message")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    type: EventType
    reason: str
    message: str
    def __init__(self, type: _Optional[_Union[EventType, str]] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ServiceDecision(_message.Message):
    __slots__ = ("service", "error", "ingress_ips", "pool", "events", "outcome", "status_changed")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    INGRESS_IPS_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    STATUS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    service: _common_pb2.ServiceKey
    error: _status_pb2.Status
    ingress_ips: _containers.RepeatedScalarFieldContainer[str]
    pool: str
    events: _containers.RepeatedCompositeFieldContainer[ServiceEvent]
    outcome: SyncOutcome
    status_changed: bool
    def __init__(self, service: _Optional[_Union[_common_pb2.ServiceKey, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ..., ingress_ips: _Optional[_Iterable[str]] = ..., pool: _Optional[str] = ..., events: _Optional[_Iterable[_Union[ServiceEvent, _Mapping]]] = ..., outcome: _Optional[_Union[SyncOutcome, str]] = ..., status_changed: _Optional[bool] = ...) -> None: ...

class ConvergeServicesResponse(_message.Message):
    __slots__ = ("decisions", "deleted")
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    decisions: _containers.RepeatedCompositeFieldContainer[ServiceDecision]
    deleted: _containers.RepeatedScalarFieldContainer[SyncOutcome]
    def __init__(self, decisions: _Optional[_Iterable[_Union[ServiceDecision, _Mapping]]] = ..., deleted: _Optional[_Iterable[_Union[SyncOutcome, str]]] = ...) -> None: ...

class GetAllocationRequest(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: _common_pb2.ServiceKey
    def __init__(self, service: _Optional[_Union[_common_pb2.ServiceKey, _Mapping]] = ...) -> None: ...

class GetAllocationResponse(_message.Message):
    __slots__ = ("allocation",)
    ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    allocation: Allocation
    def __init__(self, allocation: _Optional[_Union[Allocation, _Mapping]] = ...) -> None: ...

class ListAllocationsRequest(_message.Message):
    __slots__ = ("pool", "namespace")
    POOL_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    pool: str
    namespace: str
    def __init__(self, pool: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class ListAllocationsResponse(_message.Message):
    __slots__ = ("allocations",)
    ALLOCATIONS_FIELD_NUMBER: _ClassVar[int]
    allocations: _containers.RepeatedCompositeFieldContainer[Allocation]
    def __init__(self, allocations: _Optional[_Iterable[_Union[Allocation, _Mapping]]] = ...) -> None: ...

class WatchAllocationsRequest(_message.Message):
    __slots__ = ("resume_token",)
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    resume_token: _common_pb2.ResumeToken
    def __init__(self, resume_token: _Optional[_Union[_common_pb2.ResumeToken, _Mapping]] = ...) -> None: ...

class AllocationEvent(_message.Message):
    __slots__ = ("type", "allocation", "release_reason")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    RELEASE_REASON_FIELD_NUMBER: _ClassVar[int]
    type: AllocationEventType
    allocation: Allocation
    release_reason: ReleaseReason
    def __init__(self, type: _Optional[_Union[AllocationEventType, str]] = ..., allocation: _Optional[_Union[Allocation, _Mapping]] = ..., release_reason: _Optional[_Union[ReleaseReason, str]] = ...) -> None: ...

class WatchAllocationsResponse(_message.Message):
    __slots__ = ("events", "end_of_snapshot", "resume_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    END_OF_SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[AllocationEvent]
    end_of_snapshot: _common_pb2.EndOfSnapshot
    resume_token: _common_pb2.ResumeToken
    def __init__(self, events: _Optional[_Iterable[_Union[AllocationEvent, _Mapping]]] = ..., end_of_snapshot: _Optional[_Union[_common_pb2.EndOfSnapshot, _Mapping]] = ..., resume_token: _Optional[_Union[_common_pb2.ResumeToken, _Mapping]] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("instance_id", "restore_complete", "pools", "allocations")
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    RESTORE_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    POOLS_FIELD_NUMBER: _ClassVar[int]
    ALLOCATIONS_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    restore_complete: bool
    pools: int
    allocations: int
    def __init__(self, instance_id: _Optional[str] = ..., restore_complete: _Optional[bool] = ..., pools: _Optional[int] = ..., allocations: _Optional[int] = ...) -> None: ...
