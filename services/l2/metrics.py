"""The `metallb_layer2_*` metrics of MetalLB's speaker (behaviour reference §6), plus drops.

MetalLB exports `metallb_layer2_requests_received`, `metallb_layer2_responses_sent` and
`metallb_layer2_gratuitous_sent`, counters labelled `ip`, under exactly these names (Go's client
adds no `_total`). prometheus_client would rename a counter to `..._total`, so these are served
by a collector, typed `untyped`, under MetalLB's names so its dashboards and alerts keep working.
`metallb_layer2_requests_dropped{reason}` is ours: every frame the responder did not answer,
by `DropReason`. Like a Go CounterVec, an address has no series until its first count.

Every counter has exactly one writing thread, so no increment is ever lost and the hot path
takes no lock: each hot path (a link's thread, or the event loop in loop mode) writes its own
`HotCounters`, keyed by the small integer `slot` the loop thread gave each address (an int
hashes in C; an `ipaddress` object does not); the loop writes the gratuitous counts. A scrape
sums them: the live ones, plus those of finished threads, folded into one retired set under a
lock that only scrapes and finishing threads take.
"""

import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address

from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric

from services.l2.core.drop import DropReason

IPAddress = IPv4Address | IPv6Address


class HotCounters:
    """What one hot path counts; only that hot path's thread writes it."""

    __slots__ = ("dropped", "requests", "responses")

    def __init__(self) -> None:
        self.requests: defaultdict[int, int] = defaultdict(int)  # by address slot
        self.responses: defaultdict[int, int] = defaultdict(int)
        self.dropped: Counter[DropReason] = Counter()

    def add(self, other: "HotCounters") -> None:
        for mine, theirs in ((self.requests, other.requests), (self.responses, other.responses)):
            for slot, value in dict(theirs).items():  # dict(): one C-level copy
                mine[slot] += value
        self.dropped.update(dict(other.dropped))


class L2Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self._slots: dict[IPAddress, int] = {}
        self._ips: list[IPAddress] = []  # slot -> address
        self.gratuitous: defaultdict[int, int] = defaultdict(int)  # by slot; the loop writes it
        self._live: list[HotCounters] = []
        self._retired = HotCounters()
        self._lock = threading.Lock()  # scrapes and finishing threads; never the hot path
        if registry is not None:
            registry.register(self)

    def slot(self, ip: IPAddress) -> int:
        """The counter slot of `ip` (assigned on first use, by the loop thread, never reused)."""
        slot = self._slots.get(ip)
        if slot is None:
            slot = self._slots[ip] = len(self._ips)
            self._ips.append(ip)
        return slot

    def hot_counters(self) -> HotCounters:
        """Fresh counters for a hot path that starts now."""
        counters = HotCounters()
        with self._lock:
            self._live.append(counters)
        return counters

    def retire(self, counters: HotCounters) -> None:
        """`counters`' hot path has finished: keep its counts, drop the object."""
        with self._lock:
            self._retired.add(counters)
            self._live.remove(counters)

    def totals(self) -> HotCounters:
        """Everything counted so far by every hot path."""
        total = HotCounters()
        with self._lock:
            for counters in (self._retired, *self._live):
                total.add(counters)
        return total

    def collect(self) -> Iterator[Metric]:
        total = self.totals()
        gratuitous = dict(self.gratuitous)
        ips = list(self._ips)
        order = sorted(range(len(ips)), key=lambda slot: (ips[slot].version, int(ips[slot])))
        for name, values, doc in (
            (
                "requests_received",
                total.requests,
                "Number of layer2 requests received for owned IPs",
            ),
            ("responses_sent", total.responses, "Number of layer2 responses sent for owned IPs"),
            (
                "gratuitous_sent",
                gratuitous,
                "Number of gratuitous layer2 packets sent for owned IPs",
            ),
        ):
            metric = Metric(f"metallb_layer2_{name}", doc, "unknown")
            for slot in order:
                value = values.get(slot, 0)
                if value:
                    metric.add_sample(f"metallb_layer2_{name}", {"ip": str(ips[slot])}, value)
            yield metric
        dropped = Metric(
            "metallb_layer2_requests_dropped",
            "Number of received ARP/NDP frames not answered, by reason",
            "unknown",
        )
        for reason, value in sorted(total.dropped.items(), key=lambda kv: kv[0].value):
            dropped.add_sample("metallb_layer2_requests_dropped", {"reason": reason.value}, value)
        yield dropped
