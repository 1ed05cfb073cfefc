"""The UPDATE packer: every prefix exactly once, no message over 4,096, few messages."""

from __future__ import annotations

import math
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.bgp.codec import (
    AFI,
    IPV4_UNICAST,
    IPV6_UNICAST,
    BGPEncodeError,
    Negotiated,
    Update,
    decode_message,
    end_of_rib,
    end_of_rib_family,
    pack_announcements,
    pack_withdrawals,
)
from services.bgp.codec.attributes import (
    AsPath,
    Communities,
    LargeCommunities,
    LargeCommunity,
    LocalPref,
    MpReachNlri,
    MpUnreachNlri,
    NextHop,
    Origin,
    PathAttribute,
    find,
)
from services.bgp.codec.prefixes import (
    Prefix,
    make_prefix,
    parse_prefix,
    prefix_family,
    prefix_size,
)

from .strategies import CTX2, CTX4, FAST, ipv4_prefix, ipv6_prefix

NH4 = IPv4Address("10.77.0.10")
NH6 = (IPv6Address("fd77::10"), IPv6Address("fe80::1"))
BASE: list[PathAttribute] = [
    Origin(),
    AsPath.sequence(64512, 4_200_000_000),
    LocalPref(100),
    Communities((0xFDE80064,)),
    LargeCommunities((LargeCommunity(64512, 1, 2),)),
]


def announced(updates: list[Update]) -> list[Prefix]:
    out: list[Prefix] = []
    for u in updates:
        out += u.nlri
        reach = find(u.attributes, MpReachNlri)
        if reach:
            out += reach.nlri
    return out


def withdrawn(updates: list[Update]) -> list[Prefix]:
    out: list[Prefix] = []
    for u in updates:
        out += u.withdrawn
        unreach = find(u.attributes, MpUnreachNlri)
        if unreach:
            out += unreach.withdrawn
    return out


def check_wire(updates: list[Update], ctx: Negotiated) -> None:
    for u in updates:
        raw = u.encode(ctx)
        assert len(raw) <= 4096
        assert decode_message(raw, ctx) == u


def lower_bound(prefixes: Sequence[Prefix], overhead: int) -> int:
    """Messages needed if every octet past `overhead` carried a prefix."""
    total = sum(prefix_size(p) for p in prefixes)
    return math.ceil(total / (4096 - overhead)) if prefixes else 0


def test_many_prefixes_both_families() -> None:
    v4: list[Prefix] = [make_prefix(AFI.IPV4, 0x0A000000 + i, 32) for i in range(3000)]
    v6: list[Prefix] = [make_prefix(AFI.IPV6, 0xFD000000 << 96 | i, 128) for i in range(1500)]
    updates = pack_announcements(v4 + v6, BASE, CTX4, next_hop=NH4, next_hop6=NH6)
    check_wire(updates, CTX4)
    got = announced(updates)
    assert sorted(p for p in got if prefix_family(p) == AFI.IPV4) == sorted(v4)  # each once
    assert sorted(p for p in got if prefix_family(p) == AFI.IPV6) == sorted(v6)
    # 3000 x 5 octets in ~4000-octet messages: 4 messages; 1500 x 17: 7 messages
    v4_msgs = [u for u in updates if u.nlri]
    v6_msgs = [u for u in updates if not u.nlri]
    assert len(v4_msgs) == lower_bound(v4, 120)
    assert len(v6_msgs) == lower_bound(v6, 160)
    # every message but the last of its family is full: one more prefix would not fit
    for group, size in ((v4_msgs, 5), (v6_msgs, 17)):
        for u in group[:-1]:
            assert len(u.encode(CTX4)) + size > 4096


def test_two_octet_peer_accounts_for_as4_path() -> None:
    v4 = [make_prefix(AFI.IPV4, 0x0A000000 + (i << 8), 24) for i in range(2000)]
    updates = pack_announcements(v4, BASE, CTX2, next_hop=NH4)
    check_wire(updates, CTX2)
    assert sorted(announced(updates)) == sorted(v4)
    for u in updates[:-1]:
        assert len(u.encode(CTX2)) + 4 > 4096


def test_ipv4_over_ipv6_next_hop() -> None:
    """RFC 8950 §4: with extended next hop, IPv4 routes ride in MP_REACH_NLRI."""
    v4 = [make_prefix(AFI.IPV4, 0x0A000000 + (i << 8), 24) for i in range(1200)]
    updates = pack_announcements(v4, BASE, CTX4, next_hop6=NH6)
    check_wire(updates, CTX4)
    for u in updates:
        reach = find(u.attributes, MpReachNlri)
        assert reach is not None
        assert reach.family == IPV4_UNICAST
        assert reach.next_hops == NH6
        assert not u.nlri
    assert sorted(announced(updates)) == sorted(v4)


def test_attributes_in_type_order_with_next_hop() -> None:
    (u,) = pack_announcements(
        [parse_prefix("10.0.0.0/8")], list(reversed(BASE)), CTX4, next_hop=NH4
    )
    codes = [a.wire_type() for a in u.attributes]
    assert codes == sorted(codes)
    assert find(u.attributes, NextHop) == NextHop(NH4)


def test_withdrawals() -> None:
    v4: list[Prefix] = [make_prefix(AFI.IPV4, 0x0A000000 + i, 32) for i in range(2000)]
    v6: list[Prefix] = [make_prefix(AFI.IPV6, 0xFD000000 << 96 | i, 128) for i in range(1000)]
    updates = pack_withdrawals(v6 + v4 + v4[:10], CTX4)  # duplicates collapse
    check_wire(updates, CTX4)
    got = withdrawn(updates)
    assert sorted(p for p in got if prefix_family(p) == AFI.IPV4) == sorted(v4)
    assert sorted(p for p in got if prefix_family(p) == AFI.IPV6) == sorted(v6)
    assert len(updates) == lower_bound(v4, 23) + lower_bound(v6, 30)


def test_misuse() -> None:
    with pytest.raises(BGPEncodeError):
        pack_announcements([parse_prefix("10.0.0.0/8")], BASE, CTX4)  # no next hop
    with pytest.raises(BGPEncodeError):
        pack_announcements([parse_prefix("fd00::/8")], BASE, CTX4, next_hop=NH4)
    with pytest.raises(BGPEncodeError):
        pack_announcements([parse_prefix("10.0.0.0/8")], [*BASE, NextHop(NH4)], CTX4, next_hop=NH4)
    with pytest.raises(BGPEncodeError):  # IPv6 not negotiated
        pack_announcements(
            [parse_prefix("fd00::/8")], BASE, Negotiated(four_octet_as=True), next_hop6=NH6
        )
    huge = Communities(tuple(range(1100)))  # 4,400 octets of attributes: not even one prefix
    with pytest.raises(BGPEncodeError):
        pack_announcements([parse_prefix("10.0.0.0/8")], [Origin(), huge], CTX4, next_hop=NH4)


@FAST
@given(
    st.lists(st.one_of(ipv4_prefix, ipv6_prefix), max_size=600),
    st.lists(st.integers(0, 2**32 - 1), max_size=300),
    st.booleans(),
)
def test_packer_invariants(prefixes: list[Prefix], comms: list[int], four: bool) -> None:
    ctx = CTX4 if four else CTX2
    attrs: list[PathAttribute] = [Origin(), AsPath.sequence(65001)]
    if comms:
        attrs.append(Communities(tuple(comms)))
    updates = pack_announcements(prefixes, attrs, ctx, next_hop=NH4, next_hop6=NH6)
    check_wire(updates, ctx)
    assert sorted(announced(updates)) == sorted(set(prefixes))
    overhead = 23 + len(Update(attributes=tuple(attrs)).encode_body(ctx)) + 30
    v4 = [p for p in set(prefixes) if prefix_family(p) == AFI.IPV4]
    v6 = [p for p in set(prefixes) if prefix_family(p) == AFI.IPV6]
    assert len(updates) <= lower_bound(v4, overhead) + lower_bound(v6, overhead + 40) + 2
    removed = pack_withdrawals(prefixes, ctx)
    check_wire(removed, ctx)
    assert sorted(withdrawn(removed)) == sorted(set(prefixes))


def test_end_of_rib() -> None:
    """RFC 4724 §2: empty UPDATE for IPv4 unicast, empty MP_UNREACH_NLRI otherwise."""
    v4 = end_of_rib(IPV4_UNICAST)
    v6 = end_of_rib(IPV6_UNICAST)
    assert v4.encode(CTX4) == b"\xff" * 16 + bytes.fromhex("00170200000000")
    assert v6.encode(CTX4) == b"\xff" * 16 + bytes.fromhex("001d0200000006800f03000201")
    assert end_of_rib_family(v4) == IPV4_UNICAST
    assert end_of_rib_family(v6) == IPV6_UNICAST
    (route,) = pack_announcements([parse_prefix("10.0.0.0/8")], BASE, CTX4, next_hop=NH4)
    assert end_of_rib_family(route) is None
    assert end_of_rib_family(Update(withdrawn=(parse_prefix("10.0.0.0/8"),))) is None
    assert (
        end_of_rib_family(
            Update(attributes=(MpUnreachNlri(IPV6_UNICAST, (parse_prefix("fd00::/8"),)),))
        )
        is None
    )
