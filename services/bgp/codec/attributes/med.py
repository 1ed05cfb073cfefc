"""MULTI_EXIT_DISC, type 4, optional non-transitive (RFC 4271 §4.3, §5.1.4): 4 octets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from ..negotiated import Negotiated
from ..wire import be, u32
from .base import OPTIONAL_NON_TRANSITIVE, AttrType, PathAttribute, expect_length


@dataclass(frozen=True)
class MultiExitDisc(PathAttribute):
    TYPE_CODE: ClassVar[int] = AttrType.MULTI_EXIT_DISC
    FLAGS: ClassVar[int] = OPTIONAL_NON_TRANSITIVE
    value: int

    def encode_value(self, ctx: Negotiated) -> bytes:
        return u32(self.value, "MULTI_EXIT_DISC")

    @classmethod
    def decode_value(cls, value: bytes, ctx: Negotiated) -> Self:
        expect_length(value, 4, "MULTI_EXIT_DISC")  # §6.3 Attribute Length Error
        return cls(be(value))
