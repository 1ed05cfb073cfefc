"""Pool parsing (behaviour reference §2.2, pool rules) and pool counting (§1.5, §1.9)."""

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metallb_rules.addresses import parse_entry
from metallb_rules.allocator.allocator import Allocator
from metallb_rules.allocator.errors import InvalidPoolsError
from metallb_rules.allocator.model import ip_text
from metallb_rules.allocator.pools import PoolSpec, ServiceAllocationSpec, parse_pools
from metallb_rules.allocator.spaces import MAX_INT64, AddressSpace
from metallb_rules.labels import LabelSelector
from tests.ipam.helpers import pool, svc


@pytest.mark.parametrize(
    ("specs", "text"),
    [
        ([PoolSpec("", ("1.2.3.0/24",))], "parsing address pool : missing pool name"),
        ([PoolSpec("p", ())], "parsing address pool p: pool has no prefixes defined"),
        (
            [PoolSpec("p", ("100.200.300.400/24",))],
            'parsing address pool p: invalid CIDR "100.200.300.400/24" in pool "p": '
            'invalid CIDR "100.200.300.400/24"',
        ),
        (
            [PoolSpec("p", ("1.2.3.0/33",))],
            'parsing address pool p: invalid CIDR "1.2.3.0/33" in pool "p": invalid CIDR '
            '"1.2.3.0/33"',
        ),
        (
            [PoolSpec("p", (" 1.2.3.0/24",))],
            'parsing address pool p: invalid CIDR " 1.2.3.0/24" in pool "p": invalid CIDR '
            '" 1.2.3.0/24"',
        ),
        (
            [PoolSpec("p", ("1.2.3.0",))],
            'parsing address pool p: invalid CIDR "1.2.3.0" in pool "p": invalid CIDR "1.2.3.0"',
        ),
        (
            [PoolSpec("p", ("1.2.3.10-1.2.3.1",))],
            'parsing address pool p: invalid CIDR "1.2.3.10-1.2.3.1" in pool "p": invalid IP '
            'range "1.2.3.10-1.2.3.1": start IP "1.2.3.10" is after the end IP "1.2.3.1"',
        ),
        (
            [PoolSpec("p", ("1.2.3.x-1.2.3.1",))],
            'parsing address pool p: invalid CIDR "1.2.3.x-1.2.3.1" in pool "p": invalid IP '
            'range "1.2.3.x-1.2.3.1": invalid start IP "1.2.3.x"',
        ),
        (
            [PoolSpec("p", ("1.2.3.1- nope",))],
            'parsing address pool p: invalid CIDR "1.2.3.1- nope" in pool "p": invalid IP '
            'range "1.2.3.1- nope": invalid end IP " nope"',
        ),
        (
            [PoolSpec("p", ("1.2.3.1-fd00::1",))],
            'parsing address pool p: invalid CIDR "1.2.3.1-fd00::1" in pool "p": invalid IP '
            'range "1.2.3.1-fd00::1"',
        ),
        (
            [PoolSpec("p", ("1.2.3.0/24",)), PoolSpec("p", ("1.2.4.0/24",))],
            'duplicate definition of pool "p"',
        ),
        (
            [PoolSpec("a", ("1.2.3.0/24", "1.2.3.5-1.2.3.6"))],
            'CIDR "1.2.3.5/32" in pool "a" overlaps with already defined CIDR "1.2.3.0/24"',
        ),
        (
            [PoolSpec("b", ("10.20.30.40/24",)), PoolSpec("a", ("10.20.30.0/24",))],
            'CIDR "10.20.30.0/24" in pool "b" overlaps with already defined CIDR "10.20.30.0/24"',
        ),
        (
            [
                PoolSpec(
                    "p",
                    ("1.2.3.0/24",),
                    service_allocation=ServiceAllocationSpec(namespaces=("a", "a")),
                )
            ],
            "parsing address pool p: duplicate definition in namespaces field",
        ),
        (
            [
                PoolSpec(
                    "p",
                    ("1.2.3.0/24",),
                    service_allocation=ServiceAllocationSpec(
                        service_selectors=(
                            LabelSelector.build({"a": "b"}),
                            LabelSelector.build({"a": "b"}),
                        )
                    ),
                )
            ],
            'parsing address pool p: duplicate definition of serviceSelectors "a=b"',
        ),
        (
            [
                PoolSpec(
                    "p",
                    ("1.2.3.0/24",),
                    service_allocation=ServiceAllocationSpec(
                        namespace_selectors=(LabelSelector.build(None, [("k", "In", ["x", "x"])]),)
                    ),
                )
            ],
            "parsing address pool p: duplicate definition of match expression value in label "
            'selector "k in (x,x)"',
        ),
    ],
)
def test_invalid_pools_carry_metallb_text(specs: list[PoolSpec], text: str) -> None:
    with pytest.raises(InvalidPoolsError) as info:
        parse_pools(specs)
    assert info.value.message == text
    assert info.value.field and info.value.field.startswith("pools[")


def test_host_bits_allowed_and_ranges_summarised() -> None:
    assert [str(n) for n in parse_entry("10.20.30.40/24")] == ["10.20.30.0/24"]
    assert [str(n) for n in parse_entry(" 3.3.3.2 - 3.3.3.9 ")] == [
        "3.3.3.2/31",
        "3.3.3.4/30",
        "3.3.3.8/31",
    ]


def _counts(*specs: PoolSpec) -> list[tuple[int, int, int]]:
    return [p.counts for p in parse_pools(specs).values()]


def test_pool_counts_match_metallb() -> None:
    # TestPoolCount of MetalLB's allocator.
    assert _counts(pool("p", "1.2.3.0/24")) == [(256, 256, 0)]
    assert _counts(pool("p", "1.2.3.0/24", "2.3.4.128/25")) == [(384, 384, 0)]
    assert _counts(pool("p", "1.2.3.0/24", "2.3.4.128/25", avoid=True)) == [(381, 381, 0)]
    assert _counts(pool("p", "1.2.3.0/31", "1000::/127", avoid=True)) == [(3, 1, 2)]
    # A /64 or larger cannot be counted in int64: MetalLB's MaxInt64, never an overflow.
    assert _counts(pool("p", "10.0.0.0/30", "fd00::/64")) == [(MAX_INT64, 4, MAX_INT64)]
    assert _counts(pool("p", "fd00::/48", "fd01::/48")) == [(MAX_INT64, 0, MAX_INT64)]


def test_in_use_counts_distinct_addresses_per_family() -> None:
    # e2e "Pool Status DUALSTACK": 4+4 → one dual service → 3/3 free → expand → delete.
    alloc = Allocator()
    alloc.set_pools([pool("p", "10.0.0.0/30", "fd00::/126")])
    alloc.restore([], complete=True)
    u = alloc.usage("p")
    assert (u.ipv4_available, u.ipv6_available) == (4, 4)
    alloc.allocate(svc("ns/a", "46"))
    alloc.allocate(svc("ns/b", share="k"))
    alloc.allocate(svc("ns/c", share="k"))  # shares with b: counted once
    u = alloc.usage("p")
    assert (u.ipv4_in_use, u.ipv6_in_use, u.ipv4_available, u.ipv6_available) == (2, 1, 2, 3)
    assert (u.in_use, u.services) == (3, 3)
    alloc.set_pools([pool("p", "10.0.0.0/29", "fd00::/125")])
    assert (alloc.usage("p").ipv4_available, alloc.usage("p").ipv6_available) == (6, 7)
    for key in ("ns/a", "ns/b", "ns/c"):
        alloc.release(key)
    assert (alloc.usage("p").ipv4_available, alloc.usage("p").ipv6_available) == (8, 8)


@given(
    prefix=st.integers(min_value=20, max_value=32),
    base=st.integers(min_value=0, max_value=2**32 - 1),
    avoid=st.booleans(),
)
def test_ranks_enumerate_exactly_the_usable_addresses(prefix: int, base: int, avoid: bool) -> None:
    network = ipaddress.IPv4Network((base, prefix), strict=False)
    space = AddressSpace.of(network, avoid)
    usable = [int(ip) for ip in network if not (avoid and int(ip) & 0xFF in (0, 255))]
    assert space.usable_count == len(usable)
    for rank, value in enumerate(usable):
        assert space.rank(value) == rank
        assert space.unrank(rank) == value
        assert space.usable(value)


@given(st.ip_addresses())
def test_ip_text_is_str_of_the_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    assert ip_text(ip) == str(ip)
