"""Extended Next Hop Encoding capability, code 5 (RFC 8950 §3).

Value: a list of <NLRI AFI (2), NLRI SAFI (2), Nexthop AFI (2)> triples, each saying "routes
of this family may carry a next hop of that AFI" (typically IPv4 unicast over an IPv6 next hop).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from ..negotiated import Family
from ..wire import be, u16
from .base import Capability, CapabilityFaultError


@dataclass(frozen=True)
class NextHopEntry:
    nlri_family: Family
    nexthop_afi: int


@dataclass(frozen=True)
class ExtendedNextHop(Capability):
    CODE: ClassVar[int] = 5
    entries: tuple[NextHopEntry, ...]

    def encode_value(self) -> bytes:
        return b"".join(
            u16(e.nlri_family.afi, "NLRI AFI")
            + u16(e.nlri_family.safi, "NLRI SAFI")
            + u16(e.nexthop_afi, "Nexthop AFI")
            for e in self.entries
        )

    @classmethod
    def decode_value(cls, value: bytes) -> Self:
        if len(value) % 6:  # RFC 8950 §3: a whole number of 6-octet triples
            raise CapabilityFaultError(f"extended next hop length {len(value)} not a multiple of 6")
        entries = tuple(
            NextHopEntry(
                Family(be(value[i : i + 2]), be(value[i + 2 : i + 4])), be(value[i + 4 : i + 6])
            )
            for i in range(0, len(value), 6)
        )
        return cls(entries)
