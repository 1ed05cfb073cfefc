"""LARGE_COMMUNITY, type 32, optional transitive (RFC 8092 §3): a list of 12-octet values
<Global Administrator, Local Data Part 1, Local Data Part 2>, 4 octets each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from ..errors import UpdateSubcode
from ..negotiated import Negotiated
from ..wire import be, u32
from .base import OPTIONAL_TRANSITIVE, AttributeFaultError, AttrType, PathAttribute


@dataclass(frozen=True, order=True)
class LargeCommunity:
    global_admin: int
    local1: int
    local2: int

    def __str__(self) -> str:
        return f"{self.global_admin}:{self.local1}:{self.local2}"


@dataclass(frozen=True)
class LargeCommunities(PathAttribute):
    TYPE_CODE: ClassVar[int] = AttrType.LARGE_COMMUNITY
    FLAGS: ClassVar[int] = OPTIONAL_TRANSITIVE
    values: tuple[LargeCommunity, ...]

    def encode_value(self, ctx: Negotiated) -> bytes:
        return b"".join(
            u32(c.global_admin, "global admin")
            + u32(c.local1, "local 1")
            + u32(c.local2, "local 2")
            for c in self.values
        )

    @classmethod
    def decode_value(cls, value: bytes, ctx: Negotiated) -> Self:
        if len(value) % 12 or not value:  # RFC 8092 §5: non-zero multiple of 12
            raise AttributeFaultError(
                UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, f"LARGE_COMMUNITY length {len(value)}"
            )
        return cls(
            tuple(
                LargeCommunity(
                    be(value[i : i + 4]), be(value[i + 4 : i + 8]), be(value[i + 8 : i + 12])
                )
                for i in range(0, len(value), 12)
            )
        )
