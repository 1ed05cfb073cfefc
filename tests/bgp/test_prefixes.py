"""`parse_prefix` (the API's fast prefix parser) is `ipaddress.ip_network`, strict, only faster:
same value, type, hash, text and attributes, and the same refusals."""

from ipaddress import IPv4Network, IPv6Network, ip_network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.bgp.codec.prefixes import encode_prefix, parse_prefix

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


def same(got: object, want: IPv4Network | IPv6Network) -> None:
    assert type(got) is type(want) and got == want and hash(got) == hash(want)
    assert str(got) == str(want) and repr(got) == repr(want)
    assert isinstance(got, IPv4Network | IPv6Network)
    assert (got.prefixlen, got.netmask, got.broadcast_address) == (
        want.prefixlen,
        want.netmask,
        want.broadcast_address,
    )
    assert got.network_address.packed == want.network_address.packed
    assert encode_prefix(got) == encode_prefix(want)


@given(NETWORKS)
def test_every_network_in_its_usual_and_exploded_forms(net: IPv4Network | IPv6Network) -> None:
    for text in {str(net), net.exploded}:
        same(parse_prefix(text), net)


def agrees_with_ip_network(text: str) -> None:
    try:
        want = ip_network(text)
    except ValueError:
        with pytest.raises(ValueError):
            parse_prefix(text)
        return
    same(parse_prefix(text), want)


@given(st.text(alphabet="0123456789abcdef.:/%+ -x", max_size=45))
def test_arbitrary_text_is_parsed_or_refused_as_ip_network_does(text: str) -> None:
    agrees_with_ip_network(text)


@pytest.mark.parametrize(
    "text",
    ["192.0.2.1/24", "192.0.2.0/33", "2001:db8::1/64", "2001:db8::/129", "01.2.3.4/32",
     "1.2.3.4/ 32", "1.2.3.4/+32", "1.2.3/24", "::1/0128", "1.2.3.4/0032"],
)  # fmt: skip
def test_refusals_and_odd_forms(text: str) -> None:
    agrees_with_ip_network(text)
