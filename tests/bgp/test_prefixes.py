"""The speaker's `Prefix` (codec/prefixes.py): parsed from text exactly as strict
`ipaddress.ip_network` parses it (same acceptance, same refusals, same error text), given back
as the same text, and encoded to and decoded from NLRI as RFC 4271 §4.3 says. The reference for
every expected value is `ipaddress`, never the module under test."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.bgp.codec import AFI
from services.bgp.codec.prefixes import (
    Prefix,
    decode_prefixes,
    encode_prefix,
    encode_prefixes,
    make_prefix,
    parse_prefix,
    parse_prefixes,
    prefix_family,
    prefix_from_network,
    prefix_length,
    prefix_network,
    prefix_size,
    prefix_text,
    prefix_to_network,
)

from .strategies import FAST

Network = IPv4Network | IPv6Network

NETWORKS = st.one_of(
    st.builds(
        lambda a, n: IPv4Network((a, n), strict=False),
        st.integers(0, 2**32 - 1),
        st.integers(0, 32),
    ),
    st.builds(
        lambda a, n: IPv6Network((a, n), strict=False),
        st.integers(0, 2**128 - 1),
        st.integers(0, 128),
    ),
)


def every_length() -> list[Network]:
    """For each family and each length, the network of all-ones and of an arbitrary address."""
    out: list[Network] = []
    for kind, width in ((IPv4Network, 32), (IPv6Network, 128)):
        for length in range(width + 1):
            for address in (2**width - 1, 0x0123456789ABCDEF0123456789ABCDEF % 2**width):
                out.append(kind((address, length), strict=False))
    return out


def wire(net: Network) -> bytes:
    """RFC 4271 §4.3 from ipaddress: length octet, then the fewest octets holding it."""
    return bytes([net.prefixlen]) + net.network_address.packed[: (net.prefixlen + 7) // 8]


def afi(net: Network) -> AFI:
    return AFI.IPV4 if net.version == 4 else AFI.IPV6


def same(got: Prefix, want: Network) -> None:
    """`got` is the prefix ipaddress calls `want`, seen through every accessor."""
    assert isinstance(got, bytes)
    assert got == make_prefix(afi(want), int(want.network_address), want.prefixlen)
    assert prefix_to_network(got) == want and type(prefix_to_network(got)) is type(want)
    assert prefix_text(got) == str(want)
    assert (prefix_family(got), prefix_network(got), prefix_length(got)) == (
        afi(want),
        int(want.network_address),
        want.prefixlen,
    )
    assert encode_prefix(got) == wire(want) and prefix_size(got) == len(wire(want))


@pytest.mark.parametrize("net", every_length(), ids=str)
def test_every_length_round_trips_through_text_and_nlri(net: Network) -> None:
    for text in {str(net), net.exploded, net.compressed}:
        prefix = parse_prefix(text)
        same(prefix, net)
        assert parse_prefix(prefix_text(prefix)) == prefix  # text -> Prefix -> text -> Prefix
        assert parse_prefixes([text]) == [prefix]
    prefix = prefix_from_network(net)
    data = encode_prefixes([prefix], afi(net))
    assert data == wire(net)
    assert decode_prefixes(data, afi(net), ValueError) == (prefix,)  # Prefix -> NLRI -> Prefix


@FAST
@given(NETWORKS)
def test_random_networks_in_their_usual_and_exploded_forms(net: Network) -> None:
    for text in {str(net), net.exploded}:
        same(parse_prefix(text), net)


@FAST
@given(st.lists(NETWORKS, max_size=40), st.sampled_from([AFI.IPV4, AFI.IPV6]))
def test_a_field_of_many_prefixes_round_trips(nets: list[Network], family: AFI) -> None:
    mine = [n for n in nets if afi(n) == family]
    prefixes = [prefix_from_network(n) for n in mine]
    data = encode_prefixes(prefixes, family)
    assert data == b"".join(map(wire, mine))
    assert decode_prefixes(data, family, ValueError) == tuple(prefixes)


@FAST
@given(NETWORKS, st.integers(1, 255))
def test_decoding_clears_the_irrelevant_trailing_bits(net: Network, noise: int) -> None:
    """RFC 4271 §4.3: trailing bits of the last octet are irrelevant; equal prefixes decode
    equal whatever they were."""
    data = bytearray(wire(net))
    spare = -net.prefixlen % 8
    if spare:
        data[-1] |= noise & ((1 << spare) - 1)
    assert decode_prefixes(bytes(data), afi(net), ValueError) == (prefix_from_network(net),)


def unscoped(net: Network) -> Network:
    """`net` without an IPv6 zone ("fe80::%eth0/64"): a route has none, nor has the wire."""
    return IPv6Network((int(net.network_address), net.prefixlen)) if net.version == 6 else net


def agrees_with_ip_network(text: str) -> None:
    try:
        want = unscoped(ip_network(text))
    except ValueError as refused:
        with pytest.raises(ValueError) as got:
            parse_prefix(text)
        assert str(got.value) == str(refused)  # the same words, host bits set included
        with pytest.raises(ValueError):
            parse_prefixes(["192.0.2.0/24", text])
        return
    same(parse_prefix(text), want)
    assert parse_prefixes(["192.0.2.0/24", text]) == [
        parse_prefix("192.0.2.0/24"),
        parse_prefix(text),
    ]


@given(st.text(alphabet="0123456789abcdef.:/%+ -x", max_size=45))
def test_arbitrary_text_is_parsed_or_refused_as_ip_network_does(text: str) -> None:
    agrees_with_ip_network(text)


@FAST
@given(NETWORKS, st.integers(0, 2**128 - 1))
def test_host_bits_are_refused_as_ip_network_refuses_them(net: Network, noise: int) -> None:
    width = net.max_prefixlen
    address = int(net.network_address) | noise % 2 ** (width - net.prefixlen)
    text = f"{net.network_address.__class__(address)}/{net.prefixlen}"
    agrees_with_ip_network(text)
    if address != int(net.network_address):
        with pytest.raises(ValueError, match="has host bits set"):
            make_prefix(afi(net), address, net.prefixlen)


@pytest.mark.parametrize(
    "text",
    ["192.0.2.1/24", "192.0.2.0/33", "2001:db8::1/64", "2001:db8::/129", "01.2.3.4/32",
     "1.2.3.4/ 32", "1.2.3.4/+32", "1.2.3/24", "::1/0128", "1.2.3.4/0032", "192.0.2.1",
     "10.0.0.0/255.0.0.0", "10.0.0.0/0.255.255.255", "fe80::%eth0/64", "", "/", "1.2.3.4/",
     "::ffff:1.2.3.4/128", "1.2.3.4/٣٢"],
)  # fmt: skip
def test_refusals_and_odd_forms(text: str) -> None:
    agrees_with_ip_network(text)


def test_order_is_family_then_length_then_address() -> None:
    texts = ["2001:db8::/32", "10.0.0.0/8", "10.0.0.1/32", "9.0.0.0/8", "::/0", "0.0.0.0/0"]
    ordered = sorted(parse_prefix(t) for t in texts)
    assert [prefix_text(p) for p in ordered] == [
        "0.0.0.0/0", "9.0.0.0/8", "10.0.0.0/8", "10.0.0.1/32", "::/0", "2001:db8::/32",
    ]  # fmt: skip


def test_misuse() -> None:
    v4, v6 = parse_prefix("10.0.0.0/8"), parse_prefix("fd00::/8")
    with pytest.raises(ValueError):
        make_prefix(3, 0, 0)
    with pytest.raises(ValueError):
        make_prefix(AFI.IPV4, 2**32, 32)
    with pytest.raises(ValueError):
        make_prefix(AFI.IPV6, 0, 129)
    from services.bgp.codec import BGPEncodeError

    with pytest.raises(BGPEncodeError):
        encode_prefixes([v4, v6], AFI.IPV4)  # an IPv6 prefix in an IPv4 field
    with pytest.raises(BGPEncodeError):
        encode_prefixes([v4], AFI.IPV6)
    with pytest.raises(ValueError, match="exceeds 32"):
        decode_prefixes(b"\x21\x0a\x00\x00\x00\x00", AFI.IPV4, ValueError)
    with pytest.raises(ValueError, match="past the end"):
        decode_prefixes(b"\x18\x0a\x00", AFI.IPV4, ValueError)
