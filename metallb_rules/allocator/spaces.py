"""Usable-address ranks inside a pool's CIDRs, and MetalLB's pool counting.

Theory of operation. Each CIDR of a pool becomes an `AddressSpace`: an inclusive integer interval
plus the rule that says which of its addresses are usable (all of them, or, with avoidBuggyIPs,
all IPv4 addresses but the ones ending in .0 and .255). The space gives every usable address a
rank (0, 1, 2, ... in address order) and back, in O(1), so the allocator can find the lowest free
address with a binary search over the sorted in-use addresses, never walking the pool.
"""

import ipaddress
from dataclasses import dataclass

from metallb_rules.addresses import IPAddress, IPNetwork, is_buggy, span

MAX_INT64 = (1 << 63) - 1


@dataclass(frozen=True, slots=True)
class AddressSpace:
    """One CIDR of a pool, with the ranks of its usable addresses (all fields precomputed)."""

    network: IPNetwork
    avoid_buggy: bool
    version: int
    start: int
    end: int
    size: int
    # Usable addresses, exactly (MetalLB's poolCount before saturation).
    usable_count: int
    first_usable: int
    # avoidBuggyIPs over whole /24 blocks: two buggy addresses in each (MetalLB's poolCount).
    per_block: bool

    @classmethod
    def of(cls, network: IPNetwork, avoid_buggy: bool) -> "AddressSpace":
        start, end = span(network)
        size = end - start + 1
        v4_buggy = avoid_buggy and network.version == 4
        per_block = v4_buggy and network.prefixlen <= 24
        first_buggy = v4_buggy and is_buggy(network.network_address)
        # A /32 has one address: buggy or not, it is counted (and skipped) once.
        last_buggy = v4_buggy and size > 1 and is_buggy(ipaddress.ip_address(end))
        count = size - 2 * (size // 256) if per_block else size - first_buggy - last_buggy
        return cls(
            network=network,
            avoid_buggy=avoid_buggy,
            version=network.version,
            start=start,
            end=end,
            size=size,
            usable_count=count,
            first_usable=start + (1 if first_buggy else 0),
            per_block=per_block,
        )

    def usable(self, value: int) -> bool:
        if not self.start <= value <= self.end:
            return False
        return not (self.avoid_buggy and self.version == 4 and value & 0xFF in (0, 0xFF))

    def rank(self, value: int) -> int:
        """Number of usable addresses below the usable address `value`."""
        if self.per_block:
            offset = value - self.start
            return (offset >> 8) * 254 + (offset & 0xFF) - 1
        return value - self.first_usable

    def unrank(self, rank: int) -> int:
        """The usable address of the given rank."""
        if self.per_block:
            return self.start + (rank // 254) * 256 + rank % 254 + 1
        return self.first_usable + rank

    def to_ip(self, value: int) -> IPAddress:
        if self.version == 4:
            return ipaddress.IPv4Address(value)
        return ipaddress.IPv6Address(value)


def saturating_count(spaces: list[AddressSpace]) -> tuple[int, int, int]:
    """(total, ipv4, ipv6) as MetalLB counts them: a CIDR with 62 or more host bits makes the
    total and the IPv6 count 2^63-1 (MetalLB's MaxInt64), and no sum overflows int64."""
    total = v4 = v6 = 0
    huge = False
    for space in spaces:
        if space.network.max_prefixlen - space.network.prefixlen >= 62:
            huge = True
            continue
        n = space.usable_count
        total += n
        if space.version == 4:
            v4 += n
        else:
            v6 += n
    if huge:
        return MAX_INT64, min(v4, MAX_INT64), MAX_INT64
    return min(total, MAX_INT64), min(v4, MAX_INT64), min(v6, MAX_INT64)
