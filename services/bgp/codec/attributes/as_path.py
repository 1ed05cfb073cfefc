"""AS_PATH, type 2, well-known mandatory (RFC 4271 §4.3, §5.1.2), and AS4_PATH, type 17,
optional transitive (RFC 6793 §3).

The value is a sequence of segments <type (1), count of ASes (1), ASes>. Each AS is 2 octets,
or 4 when both speakers have the 4-octet AS capability (RFC 6793 §4.1); AS4_PATH is always
4-octet. Segment types: AS_SET, AS_SEQUENCE (RFC 4271), AS_CONFED_SEQUENCE, AS_CONFED_SET
(RFC 5065 §3). `AsPath` always holds the true (4-octet) AS numbers: encoding it for a 2-octet
peer writes AS_TRANS for the ones that do not fit (RFC 6793 §4.2.2), and the attribute list
encoder adds the AS4_PATH that carries them. The reverse merge (RFC 6793 §4.2.3) also lives in
the attribute list (attributes/__init__.py), since it needs AGGREGATOR too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Self

from ..errors import BGPEncodeError, UpdateSubcode
from ..negotiated import AS_TRANS, Negotiated
from ..wire import be, uint
from .base import OPTIONAL_TRANSITIVE, WELL_KNOWN, AttributeFaultError, AttrType, PathAttribute


class SegmentType(IntEnum):
    AS_SET = 1
    AS_SEQUENCE = 2
    AS_CONFED_SEQUENCE = 3  # RFC 5065 §3
    AS_CONFED_SET = 4  # RFC 5065 §3


CONFED_SEGMENTS = frozenset({SegmentType.AS_CONFED_SEQUENCE, SegmentType.AS_CONFED_SET})


@dataclass(frozen=True)
class AsPathSegment:
    type: SegmentType
    asns: tuple[int, ...]

    def path_length(self) -> int:
        """Contribution to the path length (RFC 4271 §9.1.2.2 a; RFC 5065 §5.3)."""
        if self.type in CONFED_SEGMENTS:
            return 0
        return 1 if self.type == SegmentType.AS_SET else len(self.asns)


def path_length(segments: tuple[AsPathSegment, ...]) -> int:
    return sum(s.path_length() for s in segments)


def encode_segments(segments: tuple[AsPathSegment, ...], width: int) -> bytes:
    out = bytearray()
    for seg in segments:
        if seg.type not in SegmentType.__members__.values():
            raise BGPEncodeError(f"unknown AS_PATH segment type {seg.type}")
        if not 1 <= len(seg.asns) <= 255:
            raise BGPEncodeError(f"AS_PATH segment of {len(seg.asns)} ASes (1..255)")
        out += bytes([seg.type, len(seg.asns)])
        for asn in seg.asns:
            # RFC 6793 §4.2.2: for a 2-octet peer, non-mappable AS numbers become AS_TRANS
            mapped = AS_TRANS if width == 2 and 0xFFFF < asn <= 0xFFFFFFFF else asn
            out += uint(mapped, width, "AS number")
    return bytes(out)


def decode_segments(value: bytes, width: int) -> tuple[AsPathSegment, ...] | str:
    """The segments in `value`, or a string saying why it is malformed."""
    out: list[AsPathSegment] = []
    pos = 0
    while pos < len(value):
        if pos + 2 > len(value):
            return "truncated segment header"
        kind, count = value[pos], value[pos + 1]
        try:
            seg_type = SegmentType(kind)
        except ValueError:
            return f"unknown segment type {kind}"
        if count == 0:
            return "empty segment"  # RFC 7606 §7.2 / RFC 6793 §6: zero-length segment
        end = pos + 2 + count * width
        if end > len(value):
            return "segment runs past the attribute"
        asns = tuple(be(value[i : i + width]) for i in range(pos + 2, end, width))
        out.append(AsPathSegment(seg_type, asns))
        pos = end
    return tuple(out)


@dataclass(frozen=True)
class AsPath(PathAttribute):
    TYPE_CODE: ClassVar[int] = AttrType.AS_PATH
    FLAGS: ClassVar[int] = WELL_KNOWN
    segments: tuple[AsPathSegment, ...] = ()

    @classmethod
    def sequence(cls, *asns: int) -> AsPath:
        """The usual path: one AS_SEQUENCE (empty for a locally originated iBGP route)."""
        return cls((AsPathSegment(SegmentType.AS_SEQUENCE, asns),) if asns else ())

    def needs_as4(self) -> bool:
        """True if some AS does not fit in 2 octets (RFC 6793 §4.2.2)."""
        return any(asn > 0xFFFF for seg in self.segments for asn in seg.asns)

    def encode_value(self, ctx: Negotiated) -> bytes:
        return encode_segments(self.segments, 4 if ctx.four_octet_as else 2)

    @classmethod
    def decode_value(cls, value: bytes, ctx: Negotiated) -> Self:
        segments = decode_segments(value, 4 if ctx.four_octet_as else 2)
        if isinstance(segments, str):
            # RFC 4271 §6.3: syntactically incorrect AS_PATH is Malformed AS_PATH (no data)
            raise AttributeFaultError(UpdateSubcode.MALFORMED_AS_PATH, segments, with_data=False)
        return cls(segments)


@dataclass(frozen=True)
class As4Path(PathAttribute):
    """Wire-only: sent to and received from 2-octet peers; never part of a decoded UPDATE."""

    TYPE_CODE: ClassVar[int] = AttrType.AS4_PATH
    FLAGS: ClassVar[int] = OPTIONAL_TRANSITIVE
    segments: tuple[AsPathSegment, ...] = ()

    def encode_value(self, ctx: Negotiated) -> bytes:
        return encode_segments(self.segments, 4)

    @classmethod
    def decode_value(cls, value: bytes, ctx: Negotiated) -> Self:
        segments = decode_segments(value, 4)
        if isinstance(segments, str) or not segments:
            # RFC 6793 §6: a malformed AS4_PATH is discarded; the list decoder drops it.
            raise AttributeFaultError(UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, "malformed AS4_PATH")
        # RFC 6793 §6: confederation segments in AS4_PATH are discarded
        return cls(tuple(s for s in segments if s.type not in CONFED_SEGMENTS))
