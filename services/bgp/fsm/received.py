"""What is kept of the routes a peer sends us: their prefixes, for counting, and a bound.

Received routes are never installed (MetalLB's speakers only announce), so the only use of them
is `prefixes_received`. Each prefix is kept as the codec decodes it, a `Prefix` (a few octets of
bytes, about 90 octets with the set's entry) rather than an ip_network object (about 500).
At most `limit` are kept (issue #15: 800,000 /32 took the process from 89 MB to 527 MB);
`add` returns how many new prefixes did not fit, and the peer decides what that means
(drop-and-warn or Cease, PeerConfig.max_prefix_cease).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from services.bgp.codec.prefixes import Prefix


class ReceivedPrefixes:
    """A bounded set of prefixes."""

    __slots__ = ("_keys", "ignored", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._keys: set[Prefix] = set()
        #: Announcements not kept because the set was full (since the session came up).
        self.ignored = 0

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[Prefix]:
        return iter(self._keys)

    def __contains__(self, prefix: Prefix) -> bool:
        return prefix in self._keys

    def add(self, prefixes: Iterable[Prefix]) -> int:
        """Keep the new prefixes that fit; the number of new ones that did not."""
        over = 0
        keys = self._keys
        for prefix in prefixes:
            if prefix in keys:
                continue  # an implicit replacement (RFC 4271 §3.1): still one route
            if len(keys) >= self.limit:
                over += 1
                continue
            keys.add(prefix)
        self.ignored += over
        return over

    def discard(self, prefixes: Iterable[Prefix]) -> None:
        self._keys.difference_update(prefixes)

    def clear(self) -> None:
        self._keys = set()
        self.ignored = 0

    @property
    def full(self) -> bool:
        return len(self._keys) >= self.limit
