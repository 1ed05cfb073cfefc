"""Events a BFD session reports to its owner, and its counters.

Events are frozen dataclasses returned by the session's entry points (aioquic style); the
adapter turns them into gRPC watch messages, logs and metrics. Counters are a plain mutable
record owned by the session, read by the metrics exporter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.bfd.core.drop import DropReason
from services.bfd.core.packet import Diagnostic, State

__all__ = [
    "Event",
    "PacketDropped",
    "PollSequenceCompleted",
    "SessionCounters",
    "SessionFinished",
    "StateChanged",
]


@dataclass(frozen=True, slots=True)
class StateChanged:
    """bfd.SessionState moved; `diag` is bfd.LocalDiag after the move (RFC 5880 §4.1)."""

    old: State
    new: State
    diag: Diagnostic
    at: float


@dataclass(frozen=True, slots=True)
class PacketDropped:
    """A received packet was discarded for `reason`."""

    reason: DropReason


@dataclass(frozen=True, slots=True)
class PollSequenceCompleted:
    """Our Poll Sequence got its Final (RFC 5880 §6.5); new intervals are now in use."""

    desired_min_tx: int
    required_min_rx: int
    at: float


@dataclass(frozen=True, slots=True)
class SessionFinished:
    """A deleted session has sent AdminDown long enough (RFC 5880 §6.8.16); forget it."""

    at: float


Event = StateChanged | PacketDropped | PollSequenceCompleted | SessionFinished


@dataclass(slots=True)
class SessionCounters:
    """Per-session counters (MetalLB's metallb_bfd_* metrics, plus drops by reason)."""

    control_in: int = 0
    control_out: int = 0
    echo_in: int = 0
    echo_out: int = 0
    drops: dict[DropReason, int] = field(default_factory=dict)
    up_events: int = 0
    down_events: int = 0
    last_up_at: float | None = None
    last_down_at: float | None = None

    def count_drop(self, reason: DropReason) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + 1
