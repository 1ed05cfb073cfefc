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
