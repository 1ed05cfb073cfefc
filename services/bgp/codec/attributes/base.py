"""The shape every path attribute module follows (RFC 4271 §4.3).

A path attribute is <flags (1), type code (1), length (1, or 2 with Extended Length), value>.
Each module defines one frozen dataclass with `TYPE_CODE`, the `FLAGS` it must carry
(Optional / Transitive bits), `encode_value(ctx)` and `decode_value(value, ctx)`. A decoder that
finds its value malformed raises `AttributeFaultError` with the UPDATE Message Error subcode;
`decode_attribute` (the only caller) adds the attribute's own bytes as data and raises the
NOTIFICATION error.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import IntEnum, IntFlag
from typing import ClassVar, Self

from ..errors import UpdateSubcode
from ..negotiated import Negotiated


class AttrFlag(IntFlag):
    """Attribute flag bits (RFC 4271 §4.3); the low four bits are unused."""

    OPTIONAL = 0x80
    TRANSITIVE = 0x40
    PARTIAL = 0x20
    EXTENDED_LENGTH = 0x10


WELL_KNOWN = AttrFlag.TRANSITIVE
OPTIONAL_TRANSITIVE = AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE
OPTIONAL_NON_TRANSITIVE = AttrFlag.OPTIONAL


class AttrType(IntEnum):
    """Path attribute type codes (IANA registry)."""

    ORIGIN = 1
    AS_PATH = 2
    NEXT_HOP = 3
    MULTI_EXIT_DISC = 4
    LOCAL_PREF = 5
    ATOMIC_AGGREGATE = 6
    AGGREGATOR = 7
    COMMUNITIES = 8
    MP_REACH_NLRI = 14
    MP_UNREACH_NLRI = 15
    AS4_PATH = 17
    AS4_AGGREGATOR = 18
    LARGE_COMMUNITY = 32


class AttributeFaultError(Exception):
    """Internal: an attribute value is malformed. Never escapes `decode_attribute`.

    `with_data`: whether the NOTIFICATION data is the attribute (most §6.3 rules) or empty
    (Malformed AS_PATH, §6.3 gives it no data).
    """

    def __init__(self, subcode: UpdateSubcode, reason: str, *, with_data: bool = True) -> None:
        super().__init__(reason)
        self.subcode = subcode
        self.with_data = with_data


class PathAttribute(ABC):
    """Base of all path attributes; subclasses are frozen dataclasses."""

    TYPE_CODE: ClassVar[int]
    FLAGS: ClassVar[int]

    def wire_type(self) -> int:
        return self.TYPE_CODE

    def wire_flags(self) -> int:
        """Optional / Transitive / Partial bits to send; Extended Length is chosen by size."""
        return self.FLAGS

    @abstractmethod
    def encode_value(self, ctx: Negotiated) -> bytes: ...

    @classmethod
    @abstractmethod
    def decode_value(cls, value: bytes, ctx: Negotiated) -> Self: ...


def expect_length(value: bytes, length: int, name: str) -> None:
    if len(value) != length:
        raise AttributeFaultError(
            UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, f"{name} length {len(value)}, expected {length}"
        )
