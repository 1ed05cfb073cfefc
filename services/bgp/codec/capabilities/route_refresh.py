"""Route Refresh capability, code 2 (RFC 2918 §2): no value, length 0."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from .base import Capability, expect_length


@dataclass(frozen=True)
class RouteRefreshCapability(Capability):
    CODE: ClassVar[int] = 2

    def encode_value(self) -> bytes:
        return b""

    @classmethod
    def decode_value(cls, value: bytes) -> Self:
        expect_length(value, 0, "route refresh")  # RFC 2918 §2: Capability Length 0
        return cls()
