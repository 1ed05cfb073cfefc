"""The `metallb_allocator_*` gauges of MetalLB's controller (behaviour reference §6).

Unlike MetalLB, `metallb_allocator_services_allocated_total` is populated (quirk 8).
"""

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Gauge

from metallb_rules.allocator.model import PoolUsage


class AllocatorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        def gauge(name: str, doc: str) -> Gauge:
            return Gauge(f"metallb_allocator_{name}", doc, ["pool"], registry=registry)

        self._gauges = {
            "total": gauge("addresses_total", "Number of usable IP addresses, per pool"),
            "ipv4_total": gauge(
                "ipv4_addresses_total", "Number of usable IPv4 addresses, per pool"
            ),
            "ipv6_total": gauge(
                "ipv6_addresses_total", "Number of usable IPv6 addresses, per pool"
            ),
            "in_use": gauge("addresses_in_use_total", "Number of IP addresses in use, per pool"),
            "ipv4_in_use": gauge(
                "ipv4_addresses_in_use_total", "Number of IPv4 addresses in use, per pool"
            ),
            "ipv6_in_use": gauge(
                "ipv6_addresses_in_use_total", "Number of IPv6 addresses in use, per pool"
            ),
            "services": gauge("services_allocated_total", "Number of services allocated, per pool"),
        }
        self._pools: set[str] = set()

    def update(self, pool: str, usage: PoolUsage) -> None:
        self._pools.add(pool)
        for attr, gauge in self._gauges.items():
            gauge.labels(pool).set(getattr(usage, attr))

    def forget_except(self, pools: Iterable[str]) -> None:
        """Drop the series of pools that no longer exist."""
        keep = set(pools)
        for gone in self._pools - keep:
            for gauge in self._gauges.values():
                gauge.remove(gone)
        self._pools &= keep
