"""The `metallb_bfd_*` metrics (behaviour reference §6), read from the sessions at scrape time.

MetalLB's frr-metrics sidecar exports them from FRR's counters when Prometheus scrapes; we do the
same from the core's `SessionCounters`, so counting a packet costs an integer increment and no
metrics-library call. Names are MetalLB's exactly, without a `_total` suffix; prometheus_client
writes a counter's TYPE line only with that suffix, so the counters are exposed untyped (PromQL's
`rate()` does not look at the type). Labels
are `peer` and `vrf` as in frr-metrics, plus `interface`, which keeps two single-hop sessions to
the same address over different links apart. Additions of ours: `metallb_bfd_packet_drops` by
`reason` (every discarded datagram, RFC 5880 §6.8.6 and friends) and
`metallb_bfd_send_errors`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from services.bfd.core.packet import State
from services.bfd.core.session import Session
from services.bfd.model import SessionSpec

__all__ = ["BFDCollector"]

_LABELS = ("peer", "interface", "vrf")


def _is_up(session: Session) -> float:
    return float(session.state is State.UP)


# name, type, help, value of a session
_PER_SESSION: tuple[tuple[str, str, str, Callable[[Session], float]], ...] = (
    ("session_up", "gauge", "BFD session state (1 is up, 0 is down)", _is_up),
    (
        "control_packet_input",
        "unknown",
        "Number of received BFD control packets",
        lambda s: s.counters.control_in,
    ),
    (
        "control_packet_output",
        "unknown",
        "Number of sent BFD control packets",
        lambda s: s.counters.control_out,
    ),
    (
        "echo_packet_input",
        "unknown",
        "Number of received BFD echo packets",
        lambda s: s.counters.echo_in,
    ),
    (
        "echo_packet_output",
        "unknown",
        "Number of sent BFD echo packets",
        lambda s: s.counters.echo_out,
    ),
    (
        "session_up_events",
        "unknown",
        "Number of BFD session up events",
        lambda s: s.counters.up_events,
    ),
    (
        "session_down_events",
        "unknown",
        "Number of BFD session down events",
        lambda s: s.counters.down_events,
    ),
)


class BFDCollector(Collector):
    """Yields the metrics of `sessions()` and `totals()` whenever the registry is scraped."""

    def __init__(
        self,
        sessions: Callable[[], Iterable[tuple[SessionSpec, Session]]],
        drops: Callable[[], dict[str, int]],
        send_errors: Callable[[], int],
    ) -> None:
        self._sessions = sessions
        self._drops = drops
        self._send_errors = send_errors

    def collect(self) -> Iterator[Metric]:
        sessions = list(self._sessions())
        for name, kind, doc, value in _PER_SESSION:
            full = f"metallb_bfd_{name}"
            metric = Metric(full, doc, kind)
            for spec, session in sessions:
                labels = {"peer": str(spec.peer), "interface": spec.interface, "vrf": spec.vrf}
                metric.add_sample(full, labels, float(value(session)))
            yield metric
        drops = Metric(
            "metallb_bfd_packet_drops", "Number of discarded BFD packets, by reason", "unknown"
        )
        for reason, count in sorted(self._drops().items()):
            drops.add_sample("metallb_bfd_packet_drops", {"reason": reason}, float(count))
        yield drops
        errors = Metric("metallb_bfd_send_errors", "Number of BFD packets not sent", "unknown")
        errors.add_sample("metallb_bfd_send_errors", {}, float(self._send_errors()))
        yield errors
