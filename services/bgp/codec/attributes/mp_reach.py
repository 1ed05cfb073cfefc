"""MP_REACH_NLRI, type 14, optional non-transitive (RFC 4760 §3).

Value: AFI (2), SAFI (1), Length of Next Hop (1), Next Hop, Reserved (1, sent as 0 and ignored
on receipt), NLRI (prefixes as in RFC 4271 §4.3). Next hops accepted:
- IPv6 unicast: 16 octets (global) or 32 (global then link-local) (RFC 2545 §3);
- IPv4 unicast: 4 octets, or 16 / 32 octets of IPv6 when extended next hop was negotiated for
  IPv4 unicast (RFC 8950 §3).
Only negotiated families are accepted (RFC 4760 §6); anything malformed is an Optional
Attribute Error with the attribute as data (RFC 4271 §6.3; RFC 4760 §7 allows this reset).
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import ClassVar, Self

from ..errors import BGPEncodeError, UpdateSubcode
from ..negotiated import AFI, IPV4_UNICAST, SUPPORTED_FAMILIES, Family, Negotiated
from ..prefixes import Prefix, decode_prefixes, encode_prefixes
from ..wire import be, u8, u16
from .base import OPTIONAL_NON_TRANSITIVE, AttributeFaultError, AttrType, PathAttribute

IPAddress = IPv4Address | IPv6Address


def check_family(family: Family, ctx: Negotiated) -> str | None:
    """Why `family` cannot be used in this session, or None."""
    if family not in SUPPORTED_FAMILIES:
        return f"family {family} not supported by this codec"
    if family not in ctx.families:
        return f"family {family} was not negotiated"  # RFC 4760 §6
    return None


def next_hop_lengths(family: Family, ctx: Negotiated) -> tuple[int, ...]:
    if family.afi == AFI.IPV6:
        return (16, 32)  # RFC 2545 §3: global, or global + link-local
    if family in ctx.extended_nexthop:
        return (4, 16, 32)  # RFC 8950 §3
    return (4,)


@dataclass(frozen=True)
class MpReachNlri(PathAttribute):
    TYPE_CODE: ClassVar[int] = AttrType.MP_REACH_NLRI
    FLAGS: ClassVar[int] = OPTIONAL_NON_TRANSITIVE
    family: Family
    next_hops: tuple[IPAddress, ...]
    nlri: tuple[Prefix, ...] = ()

    def encode_next_hop(self) -> bytes:
        return b"".join(a.packed for a in self.next_hops)

    def encode_value(self, ctx: Negotiated) -> bytes:
        problem = check_family(self.family, ctx)
        if problem:
            raise BGPEncodeError(problem)
        nh = self.encode_next_hop()
        kinds = {a.version for a in self.next_hops}
        if len(nh) not in next_hop_lengths(self.family, ctx) or len(kinds) != 1:
            raise BGPEncodeError(f"next hop {self.next_hops} not valid for {self.family}")
        return (
            u16(self.family.afi, "AFI")
            + u8(self.family.safi, "SAFI")
            + bytes([len(nh)])
            + nh
            + b"\x00"
            + encode_prefixes(self.nlri, self.family.afi)
        )

    @classmethod
    def decode_value(cls, value: bytes, ctx: Negotiated) -> Self:
        fault = UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR
        if len(value) < 5:
            raise AttributeFaultError(fault, f"MP_REACH_NLRI length {len(value)} < 5")
        family = Family(be(value[0:2]), value[2])
        problem = check_family(family, ctx)
        if problem:
            raise AttributeFaultError(fault, problem)
        nh_len = value[3]
        if 4 + nh_len + 1 > len(value):
            raise AttributeFaultError(fault, "next hop runs past the attribute")
        if nh_len not in next_hop_lengths(family, ctx):
            raise AttributeFaultError(fault, f"next hop length {nh_len} invalid for {family}")
        nh = value[4 : 4 + nh_len]
        next_hops: tuple[IPAddress, ...]
        if nh_len == 4:
            next_hops = (IPv4Address(nh),)
        else:
            next_hops = tuple(IPv6Address(nh[i : i + 16]) for i in range(0, nh_len, 16))
        # value[4 + nh_len] is the Reserved octet: ignored on receipt (RFC 4760 §3)
        nlri = decode_prefixes(
            value[5 + nh_len :], family.afi, lambda why: AttributeFaultError(fault, why)
        )
        return cls(family, next_hops, nlri)


def ipv4_over_ipv6(ctx: Negotiated) -> bool:
    """May IPv4 unicast routes carry an IPv6 next hop in this session? (RFC 8950 §4)"""
    return IPV4_UNICAST in ctx.extended_nexthop
