"""ATOMIC_AGGREGATE, type 6, well-known discretionary (RFC 4271 §4.3, §5.1.6): no value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from ..negotiated import Negotiated
from .base import WELL_KNOWN, AttrType, PathAttribute, expect_length


@dataclass(frozen=True)
class AtomicAggregate(PathAttribute):
    TYPE_CODE: ClassVar[int] = AttrType.ATOMIC_AGGREGATE
    FLAGS: ClassVar[int] = WELL_KNOWN

    def encode_value(self, ctx: Negotiated) -> bytes:
        return b""

    @classmethod
    def decode_value(cls, value: bytes, ctx: Negotiated) -> Self:
        expect_length(value, 0, "ATOMIC_AGGREGATE")  # §6.3 Attribute Length Error
        return cls()
