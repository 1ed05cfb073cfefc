"""The Router Solicitation / Advertisement codec (services/bgp/unnumbered/ra.py, RFC 4861 §4.1,
§4.2, §4.6): round trips, golden bytes from FRR 8.4, arbitrary bytes, and the §6.1 checks."""

from __future__ import annotations

from ipaddress import IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.bgp.unnumbered.ra import (
    RADrop,
    RADropError,
    RouterAdvertisement,
    RouterSolicitation,
    check_source,
    decode,
    lladdr_option,
)
from tests.bgp.strategies import FUZZ

# ICMPv6 messages captured with tcpdump on the speaker's side of an interop lab link
# (tests/bgp/interop/lab.py, global addresses flushed) with FRR 8.4.4 running `neighbor IFACE
# interface remote-as external` on the other side (bgpd turns RAs on, every 10 s).
FRR_RA = bytes.fromhex("8600dc874000001e00000000000000000101" + "2a03c2aac412")
FRR_RS = bytes.fromhex("85001dad00000000" + "0101" + "2a03c2aac412")  # its kernel's RS
RDISC6_RS = bytes.fromhex("8500a67c00000000")  # ndisc6's rdisc6, no option
FRR_MAC = bytes.fromhex("2a03c2aac412")

options = st.lists(
    st.tuples(
        st.integers(0, 255),
        st.integers(0, 3).flatmap(lambda n: st.binary(min_size=6 + 8 * n, max_size=6 + 8 * n)),
    ),
    max_size=4,
).map(tuple)


def test_frr_router_advertisement() -> None:
    ra = decode(FRR_RA)
    assert ra == RouterAdvertisement(
        cur_hop_limit=64, router_lifetime=30, options=(lladdr_option(FRR_MAC),)
    )
    assert isinstance(ra, RouterAdvertisement) and ra.source_lladdr == FRR_MAC
    assert ra.encode()[4:] == FRR_RA[4:]  # the checksum is the kernel's: written as 0
    assert ra.encode()[2:4] == b"\0\0"


def test_solicitations_with_and_without_a_link_layer_address() -> None:
    assert decode(FRR_RS) == RouterSolicitation((lladdr_option(FRR_MAC),))
    assert decode(RDISC6_RS) == RouterSolicitation()
    assert RouterSolicitation().encode()[4:] == RDISC6_RS[4:]


def test_ours_says_no_default_router() -> None:
    """RFC 4861 §6.2.3: router lifetime 0, so no host takes us for its default router."""
    raw = RouterAdvertisement(options=(lladdr_option(FRR_MAC),)).encode()
    assert raw[:2] == b"\x86\x00" and raw[6:8] == b"\0\0" and raw[16:] == b"\x01\x01" + FRR_MAC


advertisements = st.builds(
    RouterAdvertisement,
    cur_hop_limit=st.integers(0, 255),
    managed=st.booleans(),
    other=st.booleans(),
    router_lifetime=st.integers(0, 0xFFFF),
    reachable_time=st.integers(0, 0xFFFFFFFF),
    retrans_timer=st.integers(0, 0xFFFFFFFF),
    options=options,
)


@given(ra=advertisements)
def test_advertisement_round_trip(ra: RouterAdvertisement) -> None:
    assert decode(ra.encode()) == ra


@given(opts=options)
def test_solicitation_round_trip(opts: tuple[tuple[int, bytes], ...]) -> None:
    rs = RouterSolicitation(opts)
    assert decode(rs.encode()) == rs


@FUZZ
@given(data=st.binary(max_size=80))
def test_arbitrary_bytes_decode_or_raise_a_drop_reason(data: bytes) -> None:
    try:
        decode(data)
    except RADropError as err:
        assert isinstance(err.reason, RADrop)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (FRR_RA[:15], RADrop.TOO_SHORT),
        (RDISC6_RS[:7], RADrop.TOO_SHORT),
        (b"\x86\x01" + FRR_RA[2:], RADrop.BAD_CODE),
        (b"\x87\x00" + FRR_RA[2:], RADrop.UNKNOWN_TYPE),
        (FRR_RA[:16] + b"\x01\x00" + FRR_RA[18:], RADrop.BAD_OPTION_LENGTH),  # §4.6: length 0
        (FRR_RA[:16] + b"\x01\x02" + FRR_RA[18:], RADrop.BAD_OPTION_LENGTH),  # runs past
        (FRR_RA + b"\x05", RADrop.BAD_OPTION_LENGTH),
    ],
)
def test_invalid_messages_name_their_drop_reason(data: bytes, reason: RADrop) -> None:
    with pytest.raises(RADropError) as info:
        decode(data)
    assert info.value.reason is reason


def test_checks_that_need_the_ip_header() -> None:
    """§6.1.1-6.1.2: hop limit 255 (it crossed no router); an RA from a link-local address;
    an RS from :: carries no link-layer address."""
    ra, rs = decode(FRR_RA), decode(FRR_RS)
    check_source(ra, IPv6Address("fe80::1"), 255)
    with pytest.raises(RADropError) as info:
        check_source(ra, IPv6Address("fe80::1"), 254)
    assert info.value.reason is RADrop.BAD_HOP_LIMIT
    with pytest.raises(RADropError) as info:
        check_source(ra, IPv6Address("2001:db8::1"), 255)
    assert info.value.reason is RADrop.SOURCE_NOT_LINK_LOCAL
    with pytest.raises(RADropError) as info:
        check_source(rs, IPv6Address("::"), 255)
    assert info.value.reason is RADrop.UNSPECIFIED_SOURCE_WITH_LLADDR
    check_source(decode(RDISC6_RS), IPv6Address("::"), 255)
