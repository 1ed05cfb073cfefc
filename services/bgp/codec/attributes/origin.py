"""ORIGIN, type 1, well-known mandatory (RFC 4271 §4.3, §5.1.1): one octet, IGP/EGP/INCOMPLETE."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Self

from ..errors import BGPEncodeError, UpdateSubcode
from ..negotiated import Negotiated
from .base import WELL_KNOWN, AttributeFaultError, AttrType, PathAttribute, expect_length


class OriginType(IntEnum):
    IGP = 0
    EGP = 1
    INCOMPLETE = 2


@dataclass(frozen=True)
class Origin(PathAttribute):
    TYPE_CODE: ClassVar[int] = AttrType.ORIGIN
    FLAGS: ClassVar[int] = WELL_KNOWN
    value: OriginType = OriginType.IGP

    def encode_value(self, ctx: Negotiated) -> bytes:
        if self.value not in OriginType.__members__.values():
            raise BGPEncodeError(f"ORIGIN {self.value} is not IGP, EGP or INCOMPLETE")
        return bytes([self.value])

    @classmethod
    def decode_value(cls, value: bytes, ctx: Negotiated) -> Self:
        expect_length(value, 1, "ORIGIN")  # §6.3 Attribute Length Error
        try:
            return cls(OriginType(value[0]))
        except ValueError:
            # §6.3: an undefined ORIGIN value is Invalid ORIGIN Attribute, data = attribute
            raise AttributeFaultError(
                UpdateSubcode.INVALID_ORIGIN_ATTRIBUTE, f"ORIGIN value {value[0]}"
            ) from None
