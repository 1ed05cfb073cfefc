"""AGGREGATOR, type 7, optional transitive (RFC 4271 §4.3, §5.1.7), and AS4_AGGREGATOR, type 18
(RFC 6793 §3).

AGGREGATOR is <AS (2 octets, or 4 between 4-octet speakers per RFC 6793 §4.1), IPv4 address>.
For a 2-octet peer a 4-octet-only AS is written as AS_TRANS and the true one travels in
AS4_AGGREGATOR (always <4-octet AS, address>), added by the attribute list encoder.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import ClassVar, Self

from ..negotiated import AS_TRANS, Negotiated
from ..wire import be, u16, u32
from .base import OPTIONAL_TRANSITIVE, AttrType, PathAttribute, expect_length


@dataclass(frozen=True)
class Aggregator(PathAttribute):
    TYPE_CODE: ClassVar[int] = AttrType.AGGREGATOR
    FLAGS: ClassVar[int] = OPTIONAL_TRANSITIVE
    asn: int
    address: IPv4Address

    def encode_value(self, ctx: Negotiated) -> bytes:
        if ctx.four_octet_as:
            return u32(self.asn, "AGGREGATOR AS") + self.address.packed
        asn = AS_TRANS if 0xFFFF < self.asn <= 0xFFFFFFFF else self.asn  # RFC 6793 §4.2.2
        return u16(asn, "AGGREGATOR AS") + self.address.packed

    @classmethod
    def decode_value(cls, value: bytes, ctx: Negotiated) -> Self:
        width = 4 if ctx.four_octet_as else 2
        expect_length(value, width + 4, "AGGREGATOR")  # §6.3 Attribute Length Error
        return cls(be(value[:width]), IPv4Address(value[width:]))


@dataclass(frozen=True)
class As4Aggregator(PathAttribute):
    """Wire-only: sent to and received from 2-octet peers; never part of a decoded UPDATE."""

    TYPE_CODE: ClassVar[int] = AttrType.AS4_AGGREGATOR
    FLAGS: ClassVar[int] = OPTIONAL_TRANSITIVE
    asn: int
    address: IPv4Address

    def encode_value(self, ctx: Negotiated) -> bytes:
        return u32(self.asn, "AS4_AGGREGATOR AS") + self.address.packed

    @classmethod
    def decode_value(cls, value: bytes, ctx: Negotiated) -> Self:
        expect_length(value, 8, "AS4_AGGREGATOR")  # RFC 6793 §6: else malformed, discarded
        return cls(be(value[:4]), IPv4Address(value[4:]))
