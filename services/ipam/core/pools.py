"""IPAddressPool specs to validated pools, with MetalLB's `config.For` pool rules and texts.

Pools are parsed in name order, as MetalLB's reconcilers sort them, so the "first definition
wins" wording of duplicate and overlap errors matches MetalLB's. The first error aborts the whole
set: a caller keeps running on its last good set.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from metallb_grpc.gotext import quote
from metallb_grpc.labels import EVERYTHING, LabelSelector
from services.ipam.core.addresses import (
    AddressParseError,
    AddressSpace,
    IPNetwork,
    parse_entry,
    saturating_count,
)
from services.ipam.core.errors import InvalidPoolsError


@dataclass(frozen=True)
class ServiceAllocationSpec:
    """IPAddressPoolSpec.serviceAllocation, as written."""

    priority: int = 0
    namespaces: tuple[str, ...] = ()
    namespace_selectors: tuple[LabelSelector, ...] = ()
    service_selectors: tuple[LabelSelector, ...] = ()


@dataclass(frozen=True)
class PoolSpec:
    """An IPAddressPool as written: its name and every field of its spec."""

    name: str
    addresses: tuple[str, ...]
    auto_assign: bool = True
    avoid_buggy_ips: bool = False
    service_allocation: ServiceAllocationSpec | None = None


@dataclass(frozen=True)
class Pool:
    """A validated pool: its address spaces in spec order and its allocation rules."""

    spec: PoolSpec
    spaces: tuple[AddressSpace, ...]
    # Derived from serviceAllocation, as MetalLB's addressPoolServiceAllocationsFromCR does:
    # a serviceAllocation with no namespace or service rule selects every service.
    namespaces: frozenset[str] = frozenset()
    namespace_selectors: tuple[LabelSelector, ...] = ()
    service_selectors: tuple[LabelSelector, ...] = ()
    counts: tuple[int, int, int] = (0, 0, 0)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def auto_assign(self) -> bool:
        return self.spec.auto_assign

    @property
    def avoid_buggy_ips(self) -> bool:
        return self.spec.avoid_buggy_ips

    @property
    def has_service_allocation(self) -> bool:
        return self.spec.service_allocation is not None

    @property
    def priority(self) -> int:
        sa = self.spec.service_allocation
        return sa.priority if sa else 0

    def admits(
        self, namespace: str, namespace_labels: Mapping[str, str], labels: Mapping[str, str]
    ) -> bool:
        """MetalLB's `isPoolCompatibleWithService`: the namespace rule AND the service rule.

        Namespace selectors are evaluated against the labels of the service's namespace, which the
        caller sends, instead of being resolved against every namespace at parse time.
        """
        if self.namespaces or self.namespace_selectors:
            in_namespace = namespace in self.namespaces or any(
                sel.matches(namespace_labels) for sel in self.namespace_selectors
            )
            if not in_namespace:
                return False
        return not self.service_selectors or any(
            sel.matches(labels) for sel in self.service_selectors
        )


def _check_selectors(selectors: Sequence[LabelSelector], what: str, field: str) -> None:
    seen: set[str] = set()
    for index, sel in enumerate(selectors):
        where = f"service_allocation.{field}[{index}]"
        exprs: set[str] = set()
        for req in sel.match_expressions:
            if len(set(req.values)) != len(req.values):
                raise InvalidPoolsError(
                    "duplicate definition of match expression value in label selector "
                    f"{quote(req.render())}",
                    field=where,
                )
            text = req.render()
            if text in exprs:
                raise InvalidPoolsError(
                    f"duplicate definition of match expressions {quote(text)}", field=where
                )
            exprs.add(text)
        rendered = sel.render()
        if rendered in seen:
            raise InvalidPoolsError(
                f"duplicate definition of {what} {quote(rendered)}", field=where
            )
        seen.add(rendered)


def _pool_from_spec(spec: PoolSpec) -> Pool:
    if not spec.name:
        raise InvalidPoolsError("missing pool name", field="name")
    if not spec.addresses:
        raise InvalidPoolsError("pool has no prefixes defined", field="addresses")
    spaces: list[AddressSpace] = []
    for index, entry in enumerate(spec.addresses):
        try:
            networks: list[IPNetwork] = parse_entry(entry)
        except AddressParseError as err:
            raise InvalidPoolsError(
                f"invalid CIDR {quote(entry)} in pool {quote(spec.name)}: {err}",
                field=f"addresses[{index}]",
            ) from None
        spaces.extend(AddressSpace.of(n, spec.avoid_buggy_ips) for n in networks)
    namespaces: frozenset[str] = frozenset()
    ns_selectors: tuple[LabelSelector, ...] = ()
    svc_selectors: tuple[LabelSelector, ...] = ()
    sa = spec.service_allocation
    if sa is not None:
        if len(set(sa.namespaces)) != len(sa.namespaces):
            raise InvalidPoolsError(
                "duplicate definition in namespaces field", field="service_allocation.namespaces"
            )
        _check_selectors(sa.namespace_selectors, "namespaceSelectors", "namespace_selectors")
        _check_selectors(sa.service_selectors, "serviceSelectors", "service_selectors")
        namespaces = frozenset(sa.namespaces)
        ns_selectors = sa.namespace_selectors
        svc_selectors = sa.service_selectors
        if not namespaces and not ns_selectors and not svc_selectors:
            svc_selectors = (EVERYTHING,)
    return Pool(
        spec=spec,
        spaces=tuple(spaces),
        namespaces=namespaces,
        namespace_selectors=ns_selectors,
        service_selectors=svc_selectors,
        counts=saturating_count(spaces),
    )


def _overlaps(a: AddressSpace, b: AddressSpace) -> bool:
    return a.version == b.version and a.start <= b.end and b.start <= a.end


def parse_pools(specs: Iterable[PoolSpec]) -> dict[str, Pool]:
    """Validate a whole pool set (MetalLB `poolsFor`); the result is keyed and ordered by name."""
    pools: dict[str, Pool] = {}
    defined: list[AddressSpace] = []
    for position, spec in sorted(enumerate(specs), key=lambda item: item[1].name):
        where = f"pools[{position}]"
        try:
            pool = _pool_from_spec(spec)
        except InvalidPoolsError as err:
            field = f"{where}.{err.field}" if err.field else where
            raise InvalidPoolsError(
                f"parsing address pool {spec.name}: {err.message}", field=field
            ) from None
        if spec.name in pools:
            raise InvalidPoolsError(
                f"duplicate definition of pool {quote(spec.name)}", field=f"{where}.name"
            )
        for space in pool.spaces:
            for other in defined:
                if _overlaps(space, other):
                    raise InvalidPoolsError(
                        f"CIDR {quote(space.network)} in pool {quote(spec.name)} overlaps with "
                        f"already defined CIDR {quote(other.network)}",
                        field=f"{where}.addresses",
                    )
            defined.append(space)
        pools[spec.name] = pool
    return pools
