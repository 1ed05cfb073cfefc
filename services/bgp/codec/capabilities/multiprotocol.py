"""Multiprotocol Extensions capability, code 1 (RFC 4760 §8).

Value: AFI (2 octets), reserved (1 octet, sent as 0, ignored on receipt), SAFI (1 octet). One
capability per family; the negotiated families are those both speakers advertised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from ..negotiated import Family
from ..wire import be, u8, u16
from .base import Capability, expect_length


@dataclass(frozen=True)
class Multiprotocol(Capability):
    CODE: ClassVar[int] = 1
    family: Family

    def encode_value(self) -> bytes:
        return u16(self.family.afi, "AFI") + b"\x00" + u8(self.family.safi, "SAFI")

    @classmethod
    def decode_value(cls, value: bytes) -> Self:
        expect_length(value, 4, "multiprotocol")  # RFC 4760 §8: length 4
        return cls(Family(be(value[0:2]), value[3]))
