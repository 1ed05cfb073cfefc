"""COMMUNITIES, type 8, optional transitive (RFC 1997): a list of 4-octet values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from ..errors import UpdateSubcode
from ..negotiated import Negotiated
from ..wire import be, u32
from .base import OPTIONAL_TRANSITIVE, AttributeFaultError, AttrType, PathAttribute

NO_EXPORT = 0xFFFFFF01  # RFC 1997
NO_ADVERTISE = 0xFFFFFF02  # RFC 1997
NO_EXPORT_SUBCONFED = 0xFFFFFF03  # RFC 1997


def community(asn: int, value: int) -> int:
    """The conventional <AS>:<value> form as one 32-bit community."""
    return (asn << 16) | value


@dataclass(frozen=True)
class Communities(PathAttribute):
    TYPE_CODE: ClassVar[int] = AttrType.COMMUNITIES
    FLAGS: ClassVar[int] = OPTIONAL_TRANSITIVE
    values: tuple[int, ...]

    def encode_value(self, ctx: Negotiated) -> bytes:
        return b"".join(u32(v, "community") for v in self.values)

    @classmethod
    def decode_value(cls, value: bytes, ctx: Negotiated) -> Self:
        if len(value) % 4 or not value:  # RFC 1997: a non-empty list of 4-octet values
            raise AttributeFaultError(
                UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, f"COMMUNITIES length {len(value)}"
            )
        return cls(tuple(be(value[i : i + 4]) for i in range(0, len(value), 4)))
