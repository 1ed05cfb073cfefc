"""NEXT_HOP, type 3, well-known mandatory for IPv4 NLRI (RFC 4271 §4.3, §5.1.3): 4 octets.

Only the syntax is checked here; semantic checks (§6.3: not our own address, not a multicast
address) belong to the session, which knows the addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import ClassVar, Self

from ..negotiated import Negotiated
from .base import WELL_KNOWN, AttrType, PathAttribute, expect_length


@dataclass(frozen=True)
class NextHop(PathAttribute):
    TYPE_CODE: ClassVar[int] = AttrType.NEXT_HOP
    FLAGS: ClassVar[int] = WELL_KNOWN
    address: IPv4Address

    def encode_value(self, ctx: Negotiated) -> bytes:
        return self.address.packed

    @classmethod
    def decode_value(cls, value: bytes, ctx: Negotiated) -> Self:
        expect_length(value, 4, "NEXT_HOP")  # §6.3 Attribute Length Error
        return cls(IPv4Address(value))
