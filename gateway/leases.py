"""Leases read as client-go's leader election reads them (pure; k8s.io/client-go
tools/leaderelection: `observedRecord`, `observedTime`).

A Lease's `renewTime` is written by another host's wall clock; comparing it with ours would make
liveness depend on clock skew. Instead a renewal is a change of the Lease's record (holder,
acquire and renew times, transitions, duration) that *this process observed*, timed on its own
monotonic clock: the holder's lease expires `leaseDurationSeconds` after the last change we saw.
A process that has just started sees every Lease as renewed now, so it waits a whole duration
before calling one expired (client-go does the same before taking over a lock).
"""

from collections.abc import Iterable, Mapping
from typing import Any

DEFAULT_DURATION = 15  # seconds, when a Lease does not say


def lease_record(spec: Mapping[str, Any]) -> tuple[object, ...]:
    """What changes when the holder renews or a new holder takes over."""
    return (
        spec.get("holderIdentity"),
        spec.get("acquireTime"),
        spec.get("renewTime"),
        spec.get("leaseTransitions"),
        spec.get("leaseDurationSeconds"),
    )


class ObservedLeases:
    def __init__(self) -> None:
        # Lease name -> (its record, when we saw it change, its duration in seconds).
        self._seen: dict[str, tuple[tuple[object, ...], float, float]] = {}

    def observe(self, name: str, spec: Mapping[str, Any] | None, now: float) -> None:
        """The Lease `name` as read at `now` (None: it does not exist)."""
        if spec is None:
            self._seen.pop(name, None)
            return
        record = lease_record(spec)
        duration = float(spec.get("leaseDurationSeconds") or DEFAULT_DURATION)
        seen = self._seen.get(name)
        changed_at = now if seen is None or seen[0] != record else seen[1]
        self._seen[name] = (record, changed_at, duration)

    def observe_all(self, leases: Iterable[tuple[str, Mapping[str, Any]]], now: float) -> None:
        """Every Lease of interest as read at `now`; those not listed are gone."""
        listed = dict(leases)
        for name in set(self._seen) - set(listed):
            del self._seen[name]
        for name, spec in listed.items():
            self.observe(name, spec, now)

    def restart(self, now: float) -> None:
        """Count every Lease as renewed at `now`, as on start-up: changes could not be seen for a
        while (the API server was unreachable)."""
        self._seen = {name: (record, now, d) for name, (record, _, d) in self._seen.items()}

    def holder(self, name: str, now: float) -> str | None:
        """The holder of `name` while its lease has not expired, else None."""
        seen = self._seen.get(name)
        if seen is None or seen[1] + seen[2] <= now:
            return None
        holder = seen[0][0]
        return str(holder) if holder else None

    def current(self, now: float) -> set[str]:
        """The Leases renewed (as observed) less than their duration ago (client-go: valid while
        observedTime + duration is after now)."""
        return {name for name, (_, at, duration) in self._seen.items() if at + duration > now}

    def next_expiry(self, now: float) -> float | None:
        """When the next current Lease expires, if no renewal is seen before."""
        ends = [at + duration for _, at, duration in self._seen.values() if at + duration > now]
        return min(ends, default=None)


class LeaderTerm:
    """When a leader must stop acting, as client-go's leaderelection decides it, on this
    process's monotonic clock (pure).

    A renewal counts from the moment its request was *sent* (the Lease was written after that,
    so another contender, which waits `leaseDurationSeconds` after it observed the write, cannot
    take over before `sent + duration`). The leader acts while its last successful renewal was
    sent less than `renew_deadline` ago, `renew_deadline` < duration (client-go: 10 s of 15 s),
    and renews every `retry_period`; each renewal is abandoned after `timeout` at the latest,
    and a renewal that would end after the deadline is not waited for. Past the deadline it
    steps down: it stops acting before any other contender can start, whatever the API server
    does, however long a request hangs.
    """

    def __init__(
        self,
        duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        timeout: float = 2.0,
    ) -> None:
        if not 0 < renew_deadline < duration:
            raise ValueError("the renew deadline must be shorter than the Lease duration")
        self.duration = duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.timeout = timeout
        self._renewed_sent_at: float | None = None  # last successful renewal (or acquisition)

    def renewed(self, sent_at: float) -> None:
        """The acquisition or renewal sent at `sent_at` succeeded."""
        if self._renewed_sent_at is None or sent_at > self._renewed_sent_at:
            self._renewed_sent_at = sent_at

    def lost(self) -> None:
        """Another holder has the Lease: stop at once."""
        self._renewed_sent_at = None

    def deadline(self) -> float | None:
        """When leading ends unless a renewal succeeds before (None: not leading)."""
        if self._renewed_sent_at is None:
            return None
        return self._renewed_sent_at + self.renew_deadline

    def leading(self, now: float) -> bool:
        deadline = self.deadline()
        return deadline is not None and now < deadline

    def next_renewal(self, now: float) -> float:
        """When to send the next renewal (the last one was sent `retry_period` before)."""
        sent = self._renewed_sent_at
        return now if sent is None else max(now, sent + self.retry_period)

    def wait_for_reply(self, now: float) -> float:
        """How long a renewal sent at `now` may be waited for: its timeout, and never past the
        deadline (a reply after it could not make us leader again in time)."""
        deadline = self.deadline()
        limit = self.timeout if deadline is None else min(self.timeout, deadline - now)
        return max(0.0, limit)
