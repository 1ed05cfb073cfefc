"""LOCAL_PREF, type 5, well-known, sent to internal peers (RFC 4271 §4.3, §5.1.5): 4 octets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from ..negotiated import Negotiated
from ..wire import be, u32
from .base import WELL_KNOWN, AttrType, PathAttribute, expect_length


@dataclass(frozen=True)
class LocalPref(PathAttribute):
    TYPE_CODE: ClassVar[int] = AttrType.LOCAL_PREF
    FLAGS: ClassVar[int] = WELL_KNOWN
    value: int

    def encode_value(self, ctx: Negotiated) -> bytes:
        return u32(self.value, "LOCAL_PREF")

    @classmethod
    def decode_value(cls, value: bytes, ctx: Negotiated) -> Self:
        expect_length(value, 4, "LOCAL_PREF")  # §6.3 Attribute Length Error
        return cls(be(value))
