"""When to send gratuitous ARP / unsolicited NA for an address: MetalLB's `spamLoop`, with time
as an argument.

Theory of operation
-------------------
Every new announcement is enqueued; a new address is due at once, then every 1.1 s while the
send time is within 5 s of its last enqueue (behaviour reference §3.4): rounds at t = 0, 1.1,
2.2, 3.3 and 4.4 s. Re-enqueueing an address already in its window only extends the window, as
MetalLB does. A withdrawn address is cancelled and never sent again. The adapter calls
`due(now)`, sends a round for each address returned, and arms a timer at `next_deadline()`.
Unlike MetalLB's one shared ticker, each address keeps its own 1.1 s cadence from its first send.
"""

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

__all__ = ["INTERVAL", "WINDOW", "GratuitousSchedule"]

IPAddress = IPv4Address | IPv6Address

INTERVAL = 1.1  # seconds between rounds (MetalLB's ticker)
WINDOW = 5.0  # seconds after the last enqueue during which rounds are sent


@dataclass(slots=True)
class _Entry:
    next_at: float
    until: float


class GratuitousSchedule:
    def __init__(self, interval: float = INTERVAL, window: float = WINDOW) -> None:
        self._interval = interval
        self._window = window
        self._entries: dict[IPAddress, _Entry] = {}

    def enqueue(self, ip: IPAddress, now: float) -> None:
        entry = self._entries.get(ip)
        if entry is None:
            self._entries[ip] = _Entry(now, now + self._window)
        else:
            entry.until = now + self._window

    def cancel(self, ip: IPAddress) -> None:
        self._entries.pop(ip, None)

    def due(self, now: float) -> list[IPAddress]:
        """The addresses to send a round for now; advances each past `now`."""
        ready: list[IPAddress] = []
        for ip, entry in list(self._entries.items()):
            if entry.next_at > now:
                continue
            ready.append(ip)
            entry.next_at += self._interval
            while entry.next_at <= now:  # a late timer does not send a burst of catch-up rounds
                entry.next_at += self._interval
            if entry.next_at > entry.until:
                del self._entries[ip]
        return ready

    def next_deadline(self) -> float | None:
        return min((e.next_at for e in self._entries.values()), default=None)

    def pending(self) -> frozenset[IPAddress]:
        return frozenset(self._entries)
