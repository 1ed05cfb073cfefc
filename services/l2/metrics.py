"""The `metallb_layer2_*` metrics of MetalLB's speaker (behaviour reference §6), plus drops.

MetalLB exports `metallb_layer2_requests_received`, `metallb_layer2_responses_sent` and
`metallb_layer2_gratuitous_sent`, counters labelled `ip`, under exactly these names (Go's client
adds no `_total`). prometheus_client would rename a counter to `..._total`, so these are served
by a collector, typed `untyped`, under MetalLB's names so its dashboards and alerts keep working.
`metallb_layer2_requests_dropped{reason}` is ours: every frame the responder did not answer,
by `DropReason`. The hot path bumps plain attributes and dict entries; the collector reads them
at scrape time. Like a Go CounterVec, an address has no series until its first count.
"""

from collections import Counter
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address

from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric

from services.l2.core.drop import DropReason

IPAddress = IPv4Address | IPv6Address


class IPStats:
    """The three MetalLB counters of one address; the hot path bumps the attributes directly
    (one dict lookup per frame instead of a hash per counter)."""

    __slots__ = ("gratuitous", "requests", "responses")

    def __init__(self) -> None:
        self.requests = 0
        self.responses = 0
        self.gratuitous = 0


class L2Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.per_ip: dict[IPAddress, IPStats] = {}
        self.dropped: Counter[DropReason] = Counter()
        if registry is not None:
            registry.register(self)

    def ip(self, ip: IPAddress) -> IPStats:
        stats = self.per_ip.get(ip)
        if stats is None:
            stats = self.per_ip[ip] = IPStats()
        return stats

    def collect(self) -> Iterator[Metric]:
        # dict() copies in one C call: the hot-path thread may add a key meanwhile.
        per_ip = sorted(dict(self.per_ip).items(), key=lambda kv: (kv[0].version, int(kv[0])))
        for name, attr, doc in (
            ("requests_received", "requests", "Number of layer2 requests received for owned IPs"),
            ("responses_sent", "responses", "Number of layer2 responses sent for owned IPs"),
            (
                "gratuitous_sent",
                "gratuitous",
                "Number of gratuitous layer2 packets sent for owned IPs",
            ),
        ):
            metric = Metric(f"metallb_layer2_{name}", doc, "unknown")
            for ip, stats in per_ip:
                value = getattr(stats, attr)
                if value:
                    metric.add_sample(f"metallb_layer2_{name}", {"ip": str(ip)}, value)
            yield metric
        dropped = Metric(
            "metallb_layer2_requests_dropped",
            "Number of received ARP/NDP frames not answered, by reason",
            "unknown",
        )
        for reason, value in sorted(dict(self.dropped).items(), key=lambda kv: kv[0].value):
            dropped.add_sample("metallb_layer2_requests_dropped", {"reason": reason.value}, value)
        yield dropped
