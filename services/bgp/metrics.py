"""The `metallb_bgp_*` metrics of MetalLB's FRR mode (behaviour reference §6), from the peers.

A collector reads the peers when Prometheus scrapes, so nothing has to be kept in step.
Labels are `peer` (the peer address, as frr-metrics labels it; for an unnumbered peer the
interface, FRR's name for such a neighbour) and `vrf`. Every family is a
gauge so that the names are exactly MetalLB's (a prometheus_client counter would add
`_total`), as frr-metrics exports them. `metallb_bgp_pending_prefixes_total`,
`metallb_bgp_updates_treated_as_withdraw` and `metallb_bgp_attributes_discarded` (RFC 7606)
are the native speaker's extra gauges.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from services.bgp.codec import MessageType
from services.bgp.fsm import Peer
from services.bgp.fsm.table import State

_MESSAGE_METRICS: list[tuple[str, str, Callable[[Peer], int]]] = [
    ("opens_sent", "OPEN messages sent", lambda p: p.counters.sent[MessageType.OPEN]),
    ("opens_received", "OPEN messages received", lambda p: p.counters.received[MessageType.OPEN]),
    (
        "notifications_sent",
        "NOTIFICATION messages sent",
        lambda p: p.counters.sent[MessageType.NOTIFICATION],
    ),
    ("updates_total", "UPDATE messages sent", lambda p: p.counters.sent[MessageType.UPDATE]),
    (
        "updates_total_received",
        "UPDATE messages received",
        lambda p: p.counters.received[MessageType.UPDATE],
    ),
    (
        "keepalives_sent",
        "KEEPALIVE messages sent",
        lambda p: p.counters.sent[MessageType.KEEPALIVE],
    ),
    (
        "keepalives_received",
        "KEEPALIVE messages received",
        lambda p: p.counters.received[MessageType.KEEPALIVE],
    ),
    (
        "route_refresh_sent",
        "ROUTE-REFRESH messages sent",
        lambda p: p.counters.sent[MessageType.ROUTE_REFRESH],
    ),
    ("total_sent", "BGP messages sent", lambda p: sum(p.counters.sent.values())),
    ("total_received", "BGP messages received", lambda p: sum(p.counters.received.values())),
]


def _peer_label(peer: Peer) -> str:
    address = peer.config.peer_address
    return str(address) if address is not None else peer.config.interface


class BGPCollector(Collector):
    def __init__(self, peers: Callable[[], list[Peer]]) -> None:
        self._peers = peers

    def _snapshot(self) -> list[Peer]:
        for _ in range(3):  # the scrape runs in another thread; retry a torn read
            try:
                return list(self._peers())
            except RuntimeError:
                continue
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        peers = self._snapshot()
        labels = ["peer", "vrf"]

        def family(name: str, doc: str, value: Callable[[Peer], float]) -> GaugeMetricFamily:
            metric = GaugeMetricFamily(f"metallb_bgp_{name}", doc, labels=labels)
            for peer in peers:
                metric.add_metric([_peer_label(peer), peer.config.vrf], value(peer))
            return metric

        yield family(
            "session_up",
            "BGP session state (1 is up, 0 is down)",
            lambda p: 1.0 if p.state == State.ESTABLISHED else 0.0,
        )
        yield family(
            "announced_prefixes_total",
            "Number of prefixes currently being advertised on the BGP session",
            lambda p: len(p.rib.sent),
        )
        yield family(
            "pending_prefixes_total",
            "Number of prefixes that should be advertised on the BGP session",
            lambda p: p.pending(),
        )
        for name, doc, value in _MESSAGE_METRICS:
            yield family(name, f"Number of {doc}", value)
        yield family(
            "updates_treated_as_withdraw",
            "Number of received UPDATEs handled as withdrawals (RFC 7606: malformed attribute)",
            lambda p: p.counters.updates_treated_as_withdraw,
        )
        yield family(
            "attributes_discarded",
            "Number of malformed received path attributes discarded (RFC 7606)",
            lambda p: p.counters.attributes_discarded,
        )

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())


def register(registry: CollectorRegistry, peers: Callable[[], list[Peer]]) -> BGPCollector:
    collector = BGPCollector(peers)
    registry.register(collector)
    return collector
