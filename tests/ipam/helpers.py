"""Building blocks for allocator tests: compact service/pool constructors and invariants."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from metallb_rules.addresses import IPAddress
from metallb_rules.allocator.allocator import Allocator
from metallb_rules.allocator.model import (
    Allocation,
    Family,
    FamilyPolicy,
    Port,
    RequestedIPsSource,
    ServiceRequest,
)
from metallb_rules.allocator.pools import PoolSpec, ServiceAllocationSpec
from metallb_rules.labels import LabelSelector

FAMILIES = {
    "4": (Family.IPV4,),
    "6": (Family.IPV6,),
    "46": (Family.IPV4, Family.IPV6),
    "64": (Family.IPV6, Family.IPV4),
}
POLICIES = {
    "single": FamilyPolicy.SINGLE_STACK,
    "prefer": FamilyPolicy.PREFER_DUAL_STACK,
    "require": FamilyPolicy.REQUIRE_DUAL_STACK,
}


def svc(
    key: str,
    fam: str = "4",
    policy: str = "",
    *,
    ips: Sequence[str] = (),
    spec_ip: str = "",
    pool: str = "",
    share: str = "",
    backend: str = "",
    ports: Sequence[str] = (),
    labels: Mapping[str, str] | None = None,
    ns_labels: Mapping[str, str] | None = None,
) -> ServiceRequest:
    """`svc("ns/a", "46", "require", share="k", ports=["TCP/80"])`."""
    namespace, _, name = key.partition("/")
    if not policy:
        policy = "require" if len(fam) == 2 else "single"
    parsed_ports = []
    for text in ports:
        proto, _, num = text.partition("/")
        parsed_ports.append(Port(proto, int(num)))
    return ServiceRequest(
        namespace=namespace,
        name=name,
        families=FAMILIES[fam],
        policy=POLICIES[policy],
        labels=dict(labels or {}),
        namespace_labels=dict(ns_labels or {}),
        requested_ips=(spec_ip,) if spec_ip else tuple(ips),
        requested_ips_source=RequestedIPsSource.SPEC if spec_ip else RequestedIPsSource.ANNOTATION,
        requested_pool=pool,
        sharing_key=share,
        backend_key=backend,
        ports=tuple(parsed_ports),
    )


def pool(
    name: str,
    *addresses: str,
    auto: bool = True,
    avoid: bool = False,
    priority: int | None = None,
    namespaces: Sequence[str] = (),
    ns_selectors: Sequence[Mapping[str, str]] = (),
    svc_selectors: Sequence[Mapping[str, str]] = (),
) -> PoolSpec:
    sa = None
    if priority is not None or namespaces or ns_selectors or svc_selectors:
        sa = ServiceAllocationSpec(
            priority=priority or 0,
            namespaces=tuple(namespaces),
            namespace_selectors=tuple(LabelSelector.build(s) for s in ns_selectors),
            service_selectors=tuple(LabelSelector.build(s) for s in svc_selectors),
        )
    return PoolSpec(name, tuple(addresses), auto, avoid, sa)


def ips_of(alloc: Allocation | None) -> list[str]:
    return [str(ip) for ip in alloc.ips] if alloc else []


@dataclass
class Expect:
    """What a row expects: addresses (and optionally the pool), or an error class and text."""

    ips: list[str] = field(default_factory=list)
    pool: str | None = None
    error: type[Exception] | None = None
    text: str = ""


def check_invariants(alloc: Allocator) -> None:
    """Invariants that must hold after every operation, whatever happened before."""
    alloc.verify()
    users: dict[IPAddress, list[Allocation]] = {}
    for a in alloc.allocations():
        assert 1 <= len(a.ips) <= 2
        pool = alloc.pool(a.pool)
        for ip in a.ips:
            assert any(s.usable(int(ip)) and s.version == ip.version for s in pool.spaces), (
                f"{a.key} holds {ip} outside its pool {a.pool}"
            )
            users.setdefault(ip, []).append(a)
    # No address is held by two services that may not share it.
    for ip, holders in users.items():
        if len(holders) < 2:
            continue
        keys = {(h.sharing_key, h.backend_key) for h in holders}
        assert len(keys) == 1, f"{ip} shared across keys {keys}"
        assert next(iter(keys))[0], f"{ip} shared without a sharing key"
        seen: set[Port] = set()
        for h in holders:
            assert not seen & set(h.ports), f"{ip}: port conflict among {holders}"
            seen |= set(h.ports)
    # Counts agree with the allocations: distinct addresses, per family, per pool.
    for p in alloc.pools():
        usage = alloc.usage(p.name)
        mine = {ip for ip, holders in users.items() if holders[0].pool == p.name}
        assert usage.ipv4_in_use == sum(1 for ip in mine if ip.version == 4)
        assert usage.ipv6_in_use == sum(1 for ip in mine if ip.version == 6)
        assert usage.services == len(alloc.allocations(pool=p.name))
        assert usage.ipv4_available == usage.ipv4_total - usage.ipv4_in_use >= 0
        assert usage.ipv6_available >= 0
