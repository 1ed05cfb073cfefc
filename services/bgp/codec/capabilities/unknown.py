"""Any capability this codec does not interpret, kept as raw bytes (RFC 5492 §3: an unknown
capability is ignored, not an error), so that it can be logged and re-encoded unchanged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from ..errors import BGPEncodeError
from .base import Capability


@dataclass(frozen=True)
class UnknownCapability(Capability):
    CODE: ClassVar[int] = -1
    code: int
    value: bytes = b""

    def wire_code(self) -> int:
        if not 0 <= self.code <= 255:
            raise BGPEncodeError(f"capability code {self.code} out of range")
        return self.code

    def encode_value(self) -> bytes:
        return self.value

    @classmethod
    def decode_value(cls, value: bytes) -> Self:
        raise NotImplementedError("use UnknownCapability(code, value)")
