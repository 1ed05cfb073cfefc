"""The shape every capability module follows (RFC 5492 §4).

A capability is <code (1 octet), length (1 octet), value>. Each module defines one frozen
dataclass with a `CODE`, `encode_value()` and `decode_value(value)`. A decoder that finds its
value malformed raises `CapabilityFaultError`; `decode_capability` (the only caller) turns it into
the OPEN Message Error the peer is sent, with the whole capability as data.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Self


class CapabilityFaultError(Exception):
    """Internal: a capability value is malformed. Never escapes `decode_capability`."""


class Capability(ABC):
    """Base of all capabilities; subclasses are frozen dataclasses."""

    CODE: ClassVar[int]

    def wire_code(self) -> int:
        return self.CODE

    @abstractmethod
    def encode_value(self) -> bytes: ...

    @classmethod
    @abstractmethod
    def decode_value(cls, value: bytes) -> Self: ...


def expect_length(value: bytes, length: int, name: str) -> None:
    if len(value) != length:
        raise CapabilityFaultError(f"{name} capability length {len(value)}, expected {length}")
