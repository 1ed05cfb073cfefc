"""UPDATE packing and End-of-RIB markers.

Theory of operation: one set of path attributes shared by many prefixes should cost as few
UPDATEs as possible. IPv4 unicast prefixes go in the classic NLRI field with NEXT_HOP (RFC 4271
§4.3), or in MP_REACH_NLRI with an IPv6 next hop when extended next hop was negotiated (RFC 8950
§4); IPv6 unicast prefixes go in MP_REACH_NLRI (RFC 4760 §3). Withdrawals use the Withdrawn
Routes field for IPv4 and MP_UNREACH_NLRI for IPv6 (RFC 4760 §4). Each family is packed
greedily in sorted order (by length, then address): a message takes prefixes while its exact
encoded size stays within `ctx.max_message_size` (4,096, RFC 4271 §4.1); the size is computed,
not estimated, including the switch to a 2-octet attribute length above 255 octets. Since a
prefix is at most 17 octets and a message holds ~4,000, greedy filling is within one message of
optimal per family.

End-of-RIB (RFC 4724 §2): an UPDATE with nothing in it for IPv4 unicast, and an UPDATE whose
only attribute is an empty MP_UNREACH_NLRI for any other family.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from ipaddress import IPv4Address, IPv6Address
from itertools import accumulate, repeat
from operator import sub

from .attributes import (
    MpReachNlri,
    MpUnreachNlri,
    NextHop,
    PathAttribute,
    encode_attributes,
)
from .attributes.mp_reach import check_family, ipv4_over_ipv6
from .errors import BGPEncodeError
from .header import HEADER_LEN
from .messages import Update
from .negotiated import AFI, IPV4_UNICAST, IPV6_UNICAST, Family, Negotiated
from .prefixes import Prefix

#: Withdrawn Routes Length + Total Path Attribute Length fields (RFC 4271 §4.3).
_UPDATE_FIXED = HEADER_LEN + 2 + 2


_FIRST_V4, _FIRST_V6, _AFTER_V6 = bytes([AFI.IPV4]), bytes([AFI.IPV6]), bytes([AFI.IPV6 + 1])
_TAGS = (_FIRST_V4, _FIRST_V6)


def _tlv_header(value_len: int) -> int:
    return 4 if value_len > 255 else 3  # RFC 4271 §4.3 Extended Length


def _split(prefixes: Iterable[Prefix]) -> tuple[list[Prefix], list[Prefix]]:
    """IPv4 and IPv6 prefixes, each de-duplicated and sorted (by length, then address).

    A Prefix's first octet is its family, so one sort puts every IPv4 prefix before every IPv6
    one and a bisection splits them: no Python step per prefix (200,000 at a session's start).
    """
    given = list(prefixes)
    try:
        ordered = sorted(set(given))
        valid = not ordered or (ordered[0] >= _FIRST_V4 and ordered[-1] < _AFTER_V6)
    except TypeError:  # something other than bytes among them
        valid = False
    if not valid:
        wrong = next(p for p in given if not (isinstance(p, bytes) and p[:1] in _TAGS))
        raise BGPEncodeError(f"{wrong!r} is not a prefix")
    cut = bisect_left(ordered, _FIRST_V6)
    return ordered[:cut], ordered[cut:]


def _capacity(fits: Callable[[int], bool]) -> int:
    """The greatest n such that fits(n) (-1 if none); `fits` only turns false as n grows."""
    if not fits(0):
        return -1
    low, high = 0, 1
    while fits(high):  # a bound first, then bisection
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if fits(mid) else (low, mid)
    return low


def _runs(prefixes: Sequence[Prefix], fits: Callable[[int], bool]) -> list[tuple[int, int]]:
    """Split `prefixes` into [start, end) runs, each as long as it can be (greedy, in order);
    `fits(n)`: may a run hold n octets of NLRI. The run ends are found by bisecting the running
    totals of the prefixes' wire sizes (C loops: map, accumulate), not by a Python step per
    prefix."""
    capacity = _capacity(fits)
    totals = list(accumulate(map(sub, map(len, prefixes), repeat(1)), initial=0))
    runs: list[tuple[int, int]] = []
    start = 0
    while start < len(prefixes):
        end = bisect_right(totals, totals[start] + capacity, lo=start) - 1
        if end <= start:
            raise BGPEncodeError("the path attributes leave no room for a single prefix")
        runs.append((start, end))
        start = end
    return runs


def _require(family: Family, ctx: Negotiated) -> None:
    problem = check_family(family, ctx)  # RFC 4760 §6: only negotiated families are sent
    if problem:
        raise BGPEncodeError(problem)


def _by_type(attrs: Iterable[PathAttribute]) -> tuple[PathAttribute, ...]:
    return tuple(sorted(attrs, key=lambda a: a.wire_type()))  # RFC 4271 §5: ascending order


def _mp_reach(
    family: Family,
    next_hops: tuple[IPv6Address, ...],
    prefixes: Sequence[Prefix],
    others: tuple[PathAttribute, ...],
    ctx: Negotiated,
) -> list[Update]:
    _require(family, ctx)
    fixed = 5 + 16 * len(next_hops)  # AFI, SAFI, next hop length, next hop, reserved (§3)
    base = _UPDATE_FIXED + len(encode_attributes(others, ctx))

    def fits(n: int) -> bool:
        return base + _tlv_header(fixed + n) + fixed + n <= ctx.max_message_size

    out: list[Update] = []
    for start, end in _runs(prefixes, fits):
        mp = MpReachNlri(family, next_hops, tuple(prefixes[start:end]))
        out.append(Update(attributes=_by_type((*others, mp))))
    return out


def pack_announcements(
    prefixes: Iterable[Prefix],
    attributes: Iterable[PathAttribute],
    ctx: Negotiated,
    *,
    next_hop: IPv4Address | None = None,
    next_hop6: tuple[IPv6Address, ...] = (),
) -> list[Update]:
    """The fewest UPDATEs announcing every prefix (each once) with `attributes`.

    `attributes` are the shared ones (ORIGIN, AS_PATH, LOCAL_PREF, communities...); next hops
    are given separately because where they go depends on the family: `next_hop` becomes
    NEXT_HOP for IPv4, `next_hop6` (global, optionally link-local) the MP_REACH_NLRI next hop
    for IPv6, and for IPv4 too when `next_hop` is None and extended next hop is negotiated.
    """
    v4, v6 = _split(prefixes)
    attrs = list(attributes)
    for attr in attrs:
        if isinstance(attr, NextHop | MpReachNlri | MpUnreachNlri):
            raise BGPEncodeError(f"{type(attr).__name__} is added by the packer, not given to it")
    others = _by_type(attrs)
    out: list[Update] = []
    if v4:
        if next_hop is not None:
            _require(IPV4_UNICAST, ctx)
            with_nh = _by_type((*others, NextHop(next_hop)))
            base = _UPDATE_FIXED + len(encode_attributes(with_nh, ctx))
            for start, end in _runs(v4, lambda n: base + n <= ctx.max_message_size):
                out.append(Update(attributes=with_nh, nlri=tuple(v4[start:end])))
        elif next_hop6 and ipv4_over_ipv6(ctx):
            out += _mp_reach(IPV4_UNICAST, next_hop6, v4, others, ctx)  # RFC 8950 §4
        else:
            raise BGPEncodeError("IPv4 prefixes need next_hop (or extended next hop + next_hop6)")
    if v6:
        if not next_hop6:
            raise BGPEncodeError("IPv6 prefixes need next_hop6")
        out += _mp_reach(IPV6_UNICAST, next_hop6, v6, others, ctx)
    return out


def pack_withdrawals(prefixes: Iterable[Prefix], ctx: Negotiated) -> list[Update]:
    """The fewest UPDATEs withdrawing every prefix once (IPv4 classic, IPv6 MP_UNREACH_NLRI)."""
    v4, v6 = _split(prefixes)
    for family, present in ((IPV4_UNICAST, v4), (IPV6_UNICAST, v6)):
        if present:
            _require(family, ctx)
    out: list[Update] = []
    for start, end in _runs(v4, lambda n: _UPDATE_FIXED + n <= ctx.max_message_size):
        out.append(Update(withdrawn=tuple(v4[start:end])))

    def fits6(n: int) -> bool:  # MP_UNREACH value: AFI, SAFI, prefixes (RFC 4760 §4)
        return _UPDATE_FIXED + _tlv_header(3 + n) + 3 + n <= ctx.max_message_size

    for start, end in _runs(v6, fits6):
        out.append(Update(attributes=(MpUnreachNlri(IPV6_UNICAST, tuple(v6[start:end])),)))
    return out


def end_of_rib(family: Family) -> Update:
    """The End-of-RIB marker for `family` (RFC 4724 §2)."""
    if family == IPV4_UNICAST:
        return Update()
    return Update(attributes=(MpUnreachNlri(family),))


def end_of_rib_family(update: Update) -> Family | None:
    """The family whose End-of-RIB `update` is, or None if it is not one (RFC 4724 §2)."""
    if update.withdrawn or update.nlri:
        return None
    if not update.attributes:
        return IPV4_UNICAST
    if len(update.attributes) == 1:
        (attr,) = update.attributes
        if isinstance(attr, MpUnreachNlri) and not attr.withdrawn:
            return attr.family
    return None


__all__ = [
    "end_of_rib",
    "end_of_rib_family",
    "pack_announcements",
    "pack_withdrawals",
]
