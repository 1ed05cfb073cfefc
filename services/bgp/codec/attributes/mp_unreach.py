"""MP_UNREACH_NLRI, type 15, optional non-transitive (RFC 4760 §4).

Value: AFI (2), SAFI (1), Withdrawn Routes (prefixes). With no prefixes it is the End-of-RIB
marker of that family (RFC 4724 §2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from ..errors import BGPEncodeError, UpdateSubcode
from ..negotiated import Family, Negotiated
from ..prefixes import Prefix, decode_prefixes, encode_prefixes
from ..wire import be, u8, u16
from .base import OPTIONAL_NON_TRANSITIVE, AttributeFaultError, AttrType, PathAttribute
from .mp_reach import check_family


@dataclass(frozen=True)
class MpUnreachNlri(PathAttribute):
    TYPE_CODE: ClassVar[int] = AttrType.MP_UNREACH_NLRI
    FLAGS: ClassVar[int] = OPTIONAL_NON_TRANSITIVE
    family: Family
    withdrawn: tuple[Prefix, ...] = ()

    def encode_value(self, ctx: Negotiated) -> bytes:
        problem = check_family(self.family, ctx)
        if problem:
            raise BGPEncodeError(problem)
        return (
            u16(self.family.afi, "AFI")
            + u8(self.family.safi, "SAFI")
            + encode_prefixes(self.withdrawn, self.family.afi)
        )

    @classmethod
    def decode_value(cls, value: bytes, ctx: Negotiated) -> Self:
        fault = UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR
        if len(value) < 3:
            raise AttributeFaultError(fault, f"MP_UNREACH_NLRI length {len(value)} < 3")
        family = Family(be(value[0:2]), value[2])
        problem = check_family(family, ctx)
        if problem:
            raise AttributeFaultError(fault, problem)
        withdrawn = decode_prefixes(
            value[3:], family.afi, lambda why: AttributeFaultError(fault, why)
        )
        return cls(family, withdrawn)
