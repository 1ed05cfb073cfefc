"""The `metallb_allocator_*` gauges of MetalLB's controller (behaviour reference §6).

Unlike MetalLB, `metallb_allocator_services_allocated_total` is populated (quirk 8).

The gauges are read from the allocator when Prometheus scrapes (a custom collector), not set
after every command: an allocation then costs the metrics nothing, and a scrape always sees the
current counts. The scrape runs on the metrics server's thread and only reads counters the owner
task replaces or increments whole (each read is atomic under the GIL).
"""

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from metallb_rules.allocator.model import PoolUsage

_GAUGES = (
    ("addresses_total", "Number of usable IP addresses, per pool", "total"),
    ("ipv4_addresses_total", "Number of usable IPv4 addresses, per pool", "ipv4_total"),
    ("ipv6_addresses_total", "Number of usable IPv6 addresses, per pool", "ipv6_total"),
    ("addresses_in_use_total", "Number of IP addresses in use, per pool", "in_use"),
    ("ipv4_addresses_in_use_total", "Number of IPv4 addresses in use, per pool", "ipv4_in_use"),
    ("ipv6_addresses_in_use_total", "Number of IPv6 addresses in use, per pool", "ipv6_in_use"),
    ("services_allocated_total", "Number of services allocated, per pool", "services"),
)


class AllocatorMetrics(Collector):
    """Registers itself; `usages()` gives (pool, usage) for every pool at scrape time."""

    def __init__(
        self, registry: CollectorRegistry, usages: Callable[[], list[tuple[str, PoolUsage]]]
    ) -> None:
        self._usages = usages
        registry.register(self)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        for name, doc, _ in _GAUGES:
            yield GaugeMetricFamily(f"metallb_allocator_{name}", doc, labels=["pool"])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        usages = self._usages()
        for name, doc, attr in _GAUGES:
            family = GaugeMetricFamily(f"metallb_allocator_{name}", doc, labels=["pool"])
            for pool, usage in usages:
                family.add_metric([pool], getattr(usage, attr))
            yield family
