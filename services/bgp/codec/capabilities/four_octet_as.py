"""Support for 4-octet AS number capability, code 65 (RFC 6793 §3).

Value: the speaker's own AS number in 4 octets. When the AS does not fit in 2 octets the
OPEN's My Autonomous System field carries AS_TRANS (23456) instead (RFC 6793 §4.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from ..wire import be, u32
from .base import Capability, expect_length


@dataclass(frozen=True)
class FourOctetAS(Capability):
    CODE: ClassVar[int] = 65
    asn: int

    def encode_value(self) -> bytes:
        return u32(self.asn, "AS number")

    @classmethod
    def decode_value(cls, value: bytes) -> Self:
        expect_length(value, 4, "4-octet AS")  # RFC 6793 §3: length 4
        return cls(be(value))
