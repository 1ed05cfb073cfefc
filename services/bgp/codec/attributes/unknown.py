"""Optional attributes this codec does not interpret, kept as flags + raw value (RFC 4271 §5:
an unrecognised optional transitive attribute is passed on with Partial set; an unrecognised
optional non-transitive one is ignored). The session decides which; the codec only keeps them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from ..errors import BGPEncodeError
from ..negotiated import Negotiated
from .base import AttrFlag, PathAttribute


@dataclass(frozen=True)
class UnknownAttribute(PathAttribute):
    TYPE_CODE: ClassVar[int] = -1
    FLAGS: ClassVar[int] = AttrFlag.OPTIONAL
    flags: int
    type_code: int
    value: bytes = b""

    def wire_type(self) -> int:
        if not 0 <= self.type_code <= 255:
            raise BGPEncodeError(f"attribute type {self.type_code} out of range")
        return self.type_code

    def wire_flags(self) -> int:
        if not self.flags & AttrFlag.OPTIONAL:
            raise BGPEncodeError("an unknown attribute must be optional (RFC 4271 §5)")
        return self.flags & (AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE | AttrFlag.PARTIAL)

    def encode_value(self, ctx: Negotiated) -> bytes:
        return self.value

    @classmethod
    def decode_value(cls, value: bytes, ctx: Negotiated) -> Self:
        raise NotImplementedError("use UnknownAttribute(flags, type_code, value)")
