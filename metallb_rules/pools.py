"""IPAddressPool specs to validated pools, with MetalLB's `config.For` pool rules and texts.

Shared by IPAM (which allocates from pools) and the gateway (which validates the whole
configuration and finds the pool of an announced address). Pools are parsed in name order, as
MetalLB's reconcilers sort them, so the "first definition wins" wording of duplicate and overlap
errors matches MetalLB's. The first error aborts the whole set.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from metallb_rules.addresses import AddressParseError, IPAddress, IPNetwork, parse_entry, span
from metallb_rules.errors import InvalidArgumentError
from metallb_rules.gotext import quote
from metallb_rules.labels import EVERYTHING, LabelSelector


class InvalidPoolsError(InvalidArgumentError):
    """The pool set does not parse; `field` names the pool and its field (`pools[2].addresses`)."""


# Pools are slotted and share one empty namespace set: IPAM holds a whole pool set, and two while
# it replaces one (16,384 pools in a SetPools at its bound; an empty frozenset is 216 bytes).
_NO_NAMESPACES: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ServiceAllocationSpec:
    """IPAddressPoolSpec.serviceAllocation, as written."""

    priority: int = 0
    namespaces: tuple[str, ...] = ()
    namespace_selectors: tuple[LabelSelector, ...] = ()
    service_selectors: tuple[LabelSelector, ...] = ()


@dataclass(frozen=True, slots=True)
class PoolSpec:
    """An IPAddressPool as written: its name and every field of its spec."""

    name: str
    addresses: tuple[str, ...]
    auto_assign: bool = True
    avoid_buggy_ips: bool = False
    service_allocation: ServiceAllocationSpec | None = None


@dataclass(frozen=True, slots=True)
class ParsedPool:
    """A validated pool: its CIDRs in spec order and its allocation rules."""

    spec: PoolSpec
    networks: tuple[IPNetwork, ...]
    # Derived from serviceAllocation, as MetalLB's addressPoolServiceAllocationsFromCR does:
    # a serviceAllocation with no namespace or service rule selects every service.
    namespaces: frozenset[str] = _NO_NAMESPACES
    namespace_selectors: tuple[LabelSelector, ...] = ()
    service_selectors: tuple[LabelSelector, ...] = ()

    @property
    def name(self) -> str:
        return self.spec.name

    def contains(self, ip: IPAddress, *, avoid_buggy: bool) -> bool:
        """Whether `ip` is in one of the pool's CIDRs (skipping buggy IPs when asked)."""
        if (
            avoid_buggy
            and self.spec.avoid_buggy_ips
            and ip.version == 4
            and int(ip) & 0xFF
            in (
                0,
                0xFF,
            )
        ):
            return False
        return any(ip in n for n in self.networks if n.version == ip.version)

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


def check_selectors(selectors: Sequence[LabelSelector], what: str, field: str) -> None:
    """MetalLB's duplicate checks for a selector list (`what` is the CR field name)."""
    seen: set[str] = set()
    for index, sel in enumerate(selectors):
        where = f"{field}[{index}]"
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


def _pool_from_spec(spec: PoolSpec) -> ParsedPool:
    if not spec.name:
        raise InvalidPoolsError("missing pool name", field="name")
    if not spec.addresses:
        raise InvalidPoolsError("pool has no prefixes defined", field="addresses")
    networks: list[IPNetwork] = []
    for index, entry in enumerate(spec.addresses):
        try:
            networks.extend(parse_entry(entry))
        except AddressParseError as err:
            raise InvalidPoolsError(
                f"invalid CIDR {quote(entry)} in pool {quote(spec.name)}: {err}",
                field=f"addresses[{index}]",
            ) from None
    namespaces: frozenset[str] = _NO_NAMESPACES
    ns_selectors: tuple[LabelSelector, ...] = ()
    svc_selectors: tuple[LabelSelector, ...] = ()
    sa = spec.service_allocation
    if sa is not None:
        if len(set(sa.namespaces)) != len(sa.namespaces):
            raise InvalidPoolsError(
                "duplicate definition in namespaces field", field="service_allocation.namespaces"
            )
        check_selectors(
            sa.namespace_selectors,
            "namespaceSelectors",
            "service_allocation.namespace_selectors",
        )
        check_selectors(
            sa.service_selectors, "serviceSelectors", "service_allocation.service_selectors"
        )
        namespaces = frozenset(sa.namespaces)
        ns_selectors = sa.namespace_selectors
        svc_selectors = sa.service_selectors
        if not namespaces and not ns_selectors and not svc_selectors:
            svc_selectors = (EVERYTHING,)
    return ParsedPool(spec, tuple(networks), namespaces, ns_selectors, svc_selectors)


class _Defined:
    """The networks defined so far, as disjoint address intervals per family sorted by start.

    MetalLB compares each new CIDR with every one defined before (O(n²): 5,000 pools took 14 s);
    here the intervals overlapping a new one are found by bisection (O(log n) each), and the
    first of them in definition order is the one named, as MetalLB names it.
    """

    def __init__(self) -> None:
        self._starts: dict[int, list[int]] = {4: [], 6: []}
        self._entries: dict[int, list[tuple[int, int, int, IPNetwork]]] = {4: [], 6: []}
        self._count = 0

    def first_overlap(self, net: IPNetwork) -> IPNetwork | None:
        start, end = span(net)
        starts, entries = self._starts[net.version], self._entries[net.version]
        # Disjoint intervals sorted by start have increasing ends: the ones that overlap
        # [start, end] are a contiguous run, ending at the last start <= end.
        hi = bisect_right(starts, end)
        found: tuple[int, IPNetwork] | None = None
        i = hi - 1
        while i >= 0 and entries[i][1] >= start:
            order, other = entries[i][2], entries[i][3]
            if found is None or order < found[0]:
                found = (order, other)
            i -= 1
        return None if found is None else found[1]

    def add(self, net: IPNetwork) -> None:
        start, end = span(net)
        at = bisect_left(self._starts[net.version], start)
        self._starts[net.version].insert(at, start)
        self._entries[net.version].insert(at, (start, end, self._count, net))
        self._count += 1


def parse_pool_specs(specs: Iterable[PoolSpec]) -> dict[str, ParsedPool]:
    """Validate a whole pool set (MetalLB `poolsFor`); the result is keyed and ordered by name."""
    pools: dict[str, ParsedPool] = {}
    defined = _Defined()
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
        for network in pool.networks:
            other = defined.first_overlap(network)
            if other is not None:
                raise InvalidPoolsError(
                    f"CIDR {quote(network)} in pool {quote(spec.name)} overlaps with "
                    f"already defined CIDR {quote(other)}",
                    field=f"{where}.addresses",
                )
            defined.add(network)
        pools[spec.name] = pool
    return pools
