"""The allocator's view of a validated pool: its address spaces and counts.

Validation (MetalLB's `config.For` pool rules, with its texts) is shared with the gateway and
lives in `metallb_rules.pools`; this module adds what allocation needs.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from metallb_rules.allocator.spaces import AddressSpace, saturating_count
from metallb_rules.pools import ParsedPool, PoolSpec, ServiceAllocationSpec, parse_pool_specs

__all__ = ["Pool", "PoolSpec", "ServiceAllocationSpec", "parse_pools"]


@dataclass(frozen=True, slots=True)
class Pool:
    """A validated pool, its address spaces in spec order, and its (total, ipv4, ipv6) counts."""

    parsed: ParsedPool
    spaces: tuple[AddressSpace, ...]
    counts: tuple[int, int, int]

    @property
    def spec(self) -> PoolSpec:
        return self.parsed.spec

    @property
    def name(self) -> str:
        return self.parsed.spec.name

    @property
    def auto_assign(self) -> bool:
        return self.parsed.spec.auto_assign

    @property
    def avoid_buggy_ips(self) -> bool:
        return self.parsed.spec.avoid_buggy_ips

    @property
    def has_service_allocation(self) -> bool:
        return self.parsed.spec.service_allocation is not None

    @property
    def namespaces(self) -> frozenset[str]:
        return self.parsed.namespaces

    @property
    def priority(self) -> int:
        sa = self.parsed.spec.service_allocation
        return sa.priority if sa else 0

    def admits(
        self, namespace: str, namespace_labels: Mapping[str, str], labels: Mapping[str, str]
    ) -> bool:
        return self.parsed.admits(namespace, namespace_labels, labels)


def parse_pools(specs: Iterable[PoolSpec]) -> dict[str, Pool]:
    """Validate a pool set and build each pool's address spaces, keyed and ordered by name."""
    pools = {}
    for name, parsed in parse_pool_specs(specs).items():
        spaces = [AddressSpace.of(n, parsed.spec.avoid_buggy_ips) for n in parsed.networks]
        pools[name] = Pool(parsed, tuple(spaces), saturating_count(spaces))
    return pools
