"""Path attributes (RFC 4271 §4.3, §5, §6.3): one module per attribute, registered by type code.

Theory of operation. `decode_attributes` walks the Path Attributes field of an UPDATE:
1. split it into <flags, type, length, value> (Extended Length gives a 2-octet length); an
   attribute running past the field is an Attribute Length Error (§6.3);
2. a type seen twice is a Malformed Attribute List (§6.3);
3. a type in `REGISTRY` must carry the Optional/Transitive bits its module declares, and Partial
   only if it is optional transitive (§4.3, §6.3 Attribute Flags Error); its value goes to the
   module's decoder, whose `AttributeFaultError` becomes the NOTIFICATION with the attribute
   as data;
4. an unknown type is an Unrecognized Well-known Attribute unless it is optional, in which case
   it is kept as `UnknownAttribute` (§5, §6.3);
5. with a 2-octet peer, AS4_PATH and AS4_AGGREGATOR are merged into AS_PATH and AGGREGATOR
   (RFC 6793 §4.2.3) and dropped; malformed ones, or ones from a 4-octet peer, are discarded
   (RFC 6793 §6).
So a decoded attribute list never holds AS4_PATH / AS4_AGGREGATOR, and `AsPath` / `Aggregator`
always hold true AS numbers. `encode_attributes` is the inverse: for a 2-octet peer it adds
AS4_PATH / AS4_AGGREGATOR when some AS does not fit 2 octets (RFC 6793 §4.2.2). Extended Length
is used when the value exceeds 255 octets, and for the types listed in `extended`: some speakers
(FRR for AS_PATH, FRR and BIRD for MP_REACH_NLRI) set it on short values, and recording that
(`decode_attribute_list`) lets a received UPDATE re-encode to its own bytes.

Malformed attributes are handled as RFC 7606 says (revised.py): most are treat-as-withdraw or
attribute discard, returned as `AttributeIssue`s; only the cases that still require it raise
the RFC 4271 §6.3 NOTIFICATION (session reset).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

from ..errors import BGPEncodeError, BGPNotificationError, UpdateSubcode, update_error
from ..negotiated import AS_TRANS, Negotiated
from .aggregator import Aggregator, As4Aggregator
from .as_path import (
    CONFED_SEGMENTS,
    As4Path,
    AsPath,
    AsPathSegment,
    SegmentType,
    path_length,
)
from .atomic_aggregate import AtomicAggregate
from .base import (
    OPTIONAL_TRANSITIVE,
    AttrFlag,
    AttributeFaultError,
    AttrType,
    PathAttribute,
)
from .communities import NO_ADVERTISE, NO_EXPORT, NO_EXPORT_SUBCONFED, Communities, community
from .large_communities import LargeCommunities, LargeCommunity
from .local_pref import LocalPref
from .med import MultiExitDisc
from .mp_reach import MpReachNlri
from .mp_unreach import MpUnreachNlri
from .next_hop import NextHop
from .origin import Origin, OriginType
from .revised import MP_TYPES, AttributeIssue, ErrorAction, action_for
from .unknown import UnknownAttribute

REGISTRY: dict[int, type[PathAttribute]] = {
    cls.TYPE_CODE: cls
    for cls in (
        Origin,
        AsPath,
        NextHop,
        MultiExitDisc,
        LocalPref,
        AtomicAggregate,
        Aggregator,
        Communities,
        MpReachNlri,
        MpUnreachNlri,
        As4Path,
        As4Aggregator,
        LargeCommunities,
    )
}
#: Attributes that only exist on the wire between a 4-octet and a 2-octet speaker.
AS4_TYPES = frozenset({AttrType.AS4_PATH, AttrType.AS4_AGGREGATOR})


def attribute_header(flags: int, type_code: int, length: int, extended: bool = False) -> bytes:
    """Flags, type and length; Extended Length when the value needs it or `extended` (§4.3)."""
    if length > 0xFFFF:
        raise BGPEncodeError(f"attribute {type_code} value is {length} > 65535 octets")
    if length > 255 or extended:
        return bytes([flags | AttrFlag.EXTENDED_LENGTH, type_code]) + length.to_bytes(2, "big")
    return bytes([flags & ~AttrFlag.EXTENDED_LENGTH & 0xFF, type_code, length])


def encode_attribute(attr: PathAttribute, ctx: Negotiated, extended: bool = False) -> bytes:
    value = attr.encode_value(ctx)
    return attribute_header(attr.wire_flags(), attr.wire_type(), len(value), extended) + value


def decode_attribute(
    flags: int, type_code: int, value: bytes, raw: bytes, ctx: Negotiated
) -> PathAttribute:
    """Decode one attribute; `raw` is its whole wire form (the NOTIFICATION data on error)."""
    cls = REGISTRY.get(type_code)
    if cls is None:
        if not flags & AttrFlag.OPTIONAL:
            # §6.3: an unrecognised well-known attribute, data = the attribute
            raise update_error(
                UpdateSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE, raw, f"type {type_code}"
            )
        return UnknownAttribute(flags & 0xE0, type_code, bytes(value))
    ot = flags & (AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE)
    partial_ok = cls.FLAGS == OPTIONAL_TRANSITIVE
    if ot != cls.FLAGS or (flags & AttrFlag.PARTIAL and not partial_ok):
        # §6.3 Attribute Flags Error (Partial must be 0 for well-known and optional
        # non-transitive attributes, §4.3), data = the attribute
        raise update_error(
            UpdateSubcode.ATTRIBUTE_FLAGS_ERROR, raw, f"flags {flags:#04x} for type {type_code}"
        )
    try:
        return cls.decode_value(value, ctx)
    except AttributeFaultError as fault:
        raise update_error(fault.subcode, raw if fault.with_data else b"", str(fault)) from None


def split_attributes(data: bytes) -> list[tuple[int, int, bytes, bytes]]:
    """The (flags, type, value, raw) of each attribute in a Path Attributes field."""
    items, overrun = split_attribute_field(data)
    if overrun is not None:
        raise overrun
    return items


def split_attribute_field(
    data: bytes,
) -> tuple[list[tuple[int, int, bytes, bytes]], BGPNotificationError | None]:
    """The attributes before any overrun, and the RFC 4271 §6.3 error of the overrun if any.

    An overrun (RFC 7606 §4: the last attribute's length runs past the field, or too few octets
    are left for an attribute header) is treat-as-withdraw, except when the overrunning
    attribute is MP_REACH_NLRI / MP_UNREACH_NLRI: its NLRI is lost, so that one is raised.
    """
    out: list[tuple[int, int, bytes, bytes]] = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            malformed = UpdateSubcode.MALFORMED_ATTRIBUTE_LIST
            return out, update_error(malformed, b"", "truncated attribute")
        flags, type_code = data[pos], data[pos + 1]
        head = 4 if flags & AttrFlag.EXTENDED_LENGTH else 3
        if pos + head > len(data):
            error = update_error(UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, b"", "truncated length")
            if type_code in MP_TYPES:
                raise error
            return out, error
        length = int.from_bytes(data[pos + 2 : pos + head], "big")
        end = pos + head + length
        if end > len(data):
            # §6.3: the attribute's length conflicts with the space left; data = what is there
            error = update_error(
                UpdateSubcode.ATTRIBUTE_LENGTH_ERROR,
                bytes(data[pos:]),
                f"attribute {type_code} length {length} runs past the attribute list",
            )
            if type_code in MP_TYPES:
                raise error
            return out, error
        out.append((flags, type_code, bytes(data[pos + head : end]), bytes(data[pos:end])))
        pos = end
    return out, None


def decode_attributes(data: bytes, ctx: Negotiated) -> tuple[PathAttribute, ...]:
    """Decode a whole Path Attributes field (see the module docstring for the steps)."""
    return decode_attribute_list(data, ctx)[0]


def decode_attribute_list(
    data: bytes, ctx: Negotiated
) -> tuple[tuple[PathAttribute, ...], frozenset[int], tuple[AttributeIssue, ...]]:
    """The attributes, the types sent with Extended Length though it was not needed, and the
    malformed attributes handled by RFC 7606 (revised.py) instead of a session reset."""
    seen: set[int] = set()
    extended: set[int] = set()
    decoded: list[PathAttribute] = []
    issues: list[AttributeIssue] = []
    as4_path: As4Path | None = None
    as4_aggregator: As4Aggregator | None = None
    items, overrun = split_attribute_field(data)
    if overrun is not None:  # RFC 7606 §4
        issues.append(AttributeIssue(ErrorAction.TREAT_AS_WITHDRAW, 0, overrun))
    for flags, type_code, value, raw in items:
        if type_code in seen:
            # RFC 7606 §3 g: MP_* repeated is a Malformed Attribute List (reset); any other
            # repeated attribute is discarded after its first occurrence
            error = update_error(
                UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, b"", f"attribute {type_code} repeated"
            )
            if type_code in MP_TYPES:
                raise error
            issues.append(AttributeIssue(ErrorAction.ATTRIBUTE_DISCARD, type_code, error))
            continue
        seen.add(type_code)
        if type_code in AS4_TYPES:
            try:
                attr = decode_attribute(flags, type_code, value, raw, ctx)
            except BGPNotificationError as error:
                # RFC 6793 §6: a malformed AS4_* attribute is discarded
                issues.append(AttributeIssue(ErrorAction.ATTRIBUTE_DISCARD, type_code, error))
                continue
            if ctx.four_octet_as:
                continue  # RFC 6793 §6: AS4_* from a NEW speaker are discarded
            if isinstance(attr, As4Path):
                as4_path = attr
            elif isinstance(attr, As4Aggregator):
                as4_aggregator = attr
            continue
        try:
            decoded.append(decode_attribute(flags, type_code, value, raw, ctx))
        except BGPNotificationError as error:
            action = action_for(type_code, error)
            if action is None:
                raise
            issues.append(AttributeIssue(action, type_code, error))
            continue
        if flags & AttrFlag.EXTENDED_LENGTH and len(value) <= 255:
            extended.add(type_code)
    if not ctx.four_octet_as:
        decoded = merge_as4(decoded, as4_path, as4_aggregator)
    return tuple(decoded), frozenset(extended), tuple(issues)


def merge_as4(
    attrs: list[PathAttribute], as4_path: As4Path | None, as4_agg: As4Aggregator | None
) -> list[PathAttribute]:
    """Rebuild the true AS path and aggregator from a 2-octet peer's UPDATE (RFC 6793 §4.2.3)."""
    aggregator = next((a for a in attrs if isinstance(a, Aggregator)), None)
    if aggregator is not None and aggregator.asn != AS_TRANS:
        # §4.2.3: AGGREGATOR with a real AS means AS4_AGGREGATOR and AS4_PATH are ignored
        return attrs
    out = list(attrs)
    if aggregator is not None and as4_agg is not None:
        out[out.index(aggregator)] = Aggregator(as4_agg.asn, as4_agg.address)
    as_path = next((a for a in out if isinstance(a, AsPath)), None)
    if as_path is None or as4_path is None:
        return out
    need = path_length(as_path.segments) - path_length(as4_path.segments)
    if need < 0:
        return out  # §4.2.3: AS4_PATH longer than AS_PATH is ignored
    # §4.2.3: take as many ASes and segments from the front of AS_PATH as make the lengths
    # equal, then AS4_PATH (leading confederation segments count 0 and are kept).
    merged: list[AsPathSegment] = []
    cut = False  # whether an AS_SEQUENCE was cut short: AS4_PATH then continues it
    for seg in as_path.segments:
        if seg.type in CONFED_SEGMENTS:
            merged.append(seg)
            continue
        if need == 0:
            break
        if seg.type == SegmentType.AS_SET:
            merged.append(seg)
            need -= 1
        else:
            take = min(need, len(seg.asns))
            merged.append(AsPathSegment(seg.type, seg.asns[:take]))
            need -= take
            cut = take < len(seg.asns)
    rest = list(as4_path.segments)
    last = merged[-1] if merged else None
    if (
        cut
        and rest
        and last is not None
        and rest[0].type == SegmentType.AS_SEQUENCE
        and len(last.asns) + len(rest[0].asns) <= 255
    ):
        merged[-1] = AsPathSegment(SegmentType.AS_SEQUENCE, last.asns + rest.pop(0).asns)
    merged += rest
    out[out.index(as_path)] = AsPath(tuple(merged))
    return out


def encode_attributes(
    attrs: Iterable[PathAttribute], ctx: Negotiated, extended: frozenset[int] = frozenset()
) -> bytes:
    """Encode a Path Attributes field, adding AS4_* for a 2-octet peer (RFC 6793 §4.2.2).

    `extended`: types to send with Extended Length even when their value is short.
    """
    items: list[tuple[int, bytes]] = []
    extra: list[PathAttribute] = []
    for attr in attrs:
        if isinstance(attr, As4Path | As4Aggregator):
            raise BGPEncodeError("AS4_PATH / AS4_AGGREGATOR are added by the encoder itself")
        code = attr.wire_type()
        items.append((code, encode_attribute(attr, ctx, code in extended)))
        if not ctx.four_octet_as:
            if isinstance(attr, AsPath) and attr.needs_as4():
                # §4.2.2: confederation segments are not carried in AS4_PATH (§6)
                segs = tuple(s for s in attr.segments if s.type not in CONFED_SEGMENTS)
                if segs:
                    extra.append(As4Path(segs))
            elif isinstance(attr, Aggregator) and attr.asn > 0xFFFF:
                extra.append(As4Aggregator(attr.asn, attr.address))
    for attr in extra:  # keep ascending type order where the caller's list has it (§5)
        code = attr.wire_type()
        at = next((i for i, (t, _) in enumerate(items) if t > code), len(items))
        items.insert(at, (code, encode_attribute(attr, ctx)))
    return b"".join(raw for _, raw in items)


T = TypeVar("T", bound=PathAttribute)


def find(attrs: Sequence[PathAttribute], kind: type[T]) -> T | None:
    """The attribute of class `kind` in `attrs`, if any."""
    return next((a for a in attrs if isinstance(a, kind)), None)


__all__ = [
    "AS4_TYPES",
    "NO_ADVERTISE",
    "NO_EXPORT",
    "NO_EXPORT_SUBCONFED",
    "REGISTRY",
    "Aggregator",
    "As4Aggregator",
    "As4Path",
    "AsPath",
    "AsPathSegment",
    "AtomicAggregate",
    "AttrFlag",
    "AttrType",
    "AttributeIssue",
    "Communities",
    "ErrorAction",
    "LargeCommunities",
    "LargeCommunity",
    "LocalPref",
    "MpReachNlri",
    "MpUnreachNlri",
    "MultiExitDisc",
    "NextHop",
    "Origin",
    "OriginType",
    "PathAttribute",
    "SegmentType",
    "UnknownAttribute",
    "community",
    "decode_attribute",
    "decode_attribute_list",
    "decode_attributes",
    "encode_attribute",
    "encode_attributes",
    "find",
    "split_attribute_field",
    "split_attributes",
]
