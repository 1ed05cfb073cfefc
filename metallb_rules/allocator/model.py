"""The allocator's vocabulary: families, ports, service requests and allocations."""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from types import MappingProxyType
from typing import NamedTuple

from metallb_rules.addresses import IPAddress

_NO_LABELS: Mapping[str, str] = MappingProxyType({})


def ip_text(ip: IPAddress) -> str:
    """`str(ip)`, at half the cost for IPv4 (dotted quad from the integer: the hot path of every
    allocation's answer)."""
    if ip.version == 4:
        v = int(ip)
        return f"{v >> 24}.{v >> 16 & 255}.{v >> 8 & 255}.{v & 255}"
    return str(ip)


class Family(StrEnum):
    """MetalLB's `ipfamily.Family`; the values are the texts its errors print."""

    IPV4 = "ipv4"
    IPV6 = "ipv6"
    DUAL = "dual"

    @staticmethod
    def of(ip: IPAddress) -> "Family":
        return Family.IPV4 if ip.version == 4 else Family.IPV6


class FamilyPolicy(Enum):
    SINGLE_STACK = "SingleStack"
    PREFER_DUAL_STACK = "PreferDualStack"
    REQUIRE_DUAL_STACK = "RequireDualStack"


class RequestedIPsSource(Enum):
    ANNOTATION = "annotation"
    SPEC = "spec.loadBalancerIP"


@dataclass(frozen=True, order=True, slots=True)
class Port:
    """A service port as the sharing rules see it; printed `TCP/80` as MetalLB prints it."""

    protocol: str
    port: int

    def __str__(self) -> str:
        return f"{self.protocol}/{self.port}"


class ServiceRequest(NamedTuple):
    """Everything the allocation rules look at for one service (a tuple: cheap to build)."""

    namespace: str
    name: str
    # The service's families from its clusterIPs, in spec.ipFamilies order (first is primary).
    families: tuple[Family, ...]
    policy: FamilyPolicy = FamilyPolicy.SINGLE_STACK
    labels: Mapping[str, str] = _NO_LABELS
    namespace_labels: Mapping[str, str] = _NO_LABELS
    requested_ips: tuple[str, ...] = ()
    requested_ips_source: RequestedIPsSource = RequestedIPsSource.ANNOTATION
    requested_pool: str = ""
    sharing_key: str = ""
    backend_key: str = ""
    ports: tuple[Port, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def family(self) -> Family:
        """ipv4, ipv6 or dual, as MetalLB derives it from the cluster IPs."""
        return self.families[0] if len(set(self.families)) == 1 else Family.DUAL

    @property
    def primary(self) -> Family:
        """IPv4 unless spec.ipFamilies[0] is IPv6 (MetalLB `findBestPoolForService`)."""
        return Family.IPV6 if self.families and self.families[0] is Family.IPV6 else Family.IPV4


class Allocation(NamedTuple):
    """What one service holds: its addresses in status order and where they came from."""

    namespace: str
    name: str
    ips: tuple[IPAddress, ...]
    pool: str
    sharing_key: str = ""
    backend_key: str = ""
    ports: tuple[Port, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def family(self) -> Family:
        fams = {Family.of(ip) for ip in self.ips}
        return fams.pop() if len(fams) == 1 else Family.DUAL


class ChangeType(Enum):
    ALLOCATED = "allocated"
    RELEASED = "released"


class ReleaseReason(Enum):
    RELEASED = "released"
    NOT_IN_ANY_POOL = "not-in-any-pool"
    POOL_NOT_COMPATIBLE = "pool-not-compatible"


class Change(NamedTuple):
    """One allocation change, in the order it happened (drained by the adapter for watchers)."""

    type: ChangeType
    allocation: Allocation
    reason: ReleaseReason | None = None


@dataclass(frozen=True, slots=True)
class LostAllocation:
    allocation: Allocation
    reason: ReleaseReason
    message: str


@dataclass(frozen=True, slots=True)
class MovedAllocation:
    allocation: Allocation
    previous_pool: str


@dataclass(frozen=True, slots=True)
class PoolUsage:
    """A pool's counts as MetalLB's metrics and IPAddressPool status give them."""

    total: int
    ipv4_total: int
    ipv6_total: int
    ipv4_in_use: int
    ipv6_in_use: int
    services: int

    @property
    def in_use(self) -> int:
        return self.ipv4_in_use + self.ipv6_in_use

    @property
    def ipv4_available(self) -> int:
        return self.ipv4_total - self.ipv4_in_use

    @property
    def ipv6_available(self) -> int:
        return self.ipv6_total - self.ipv6_in_use
