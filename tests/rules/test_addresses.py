"""metallb_rules.addresses.span: a network's first and last addresses without ipaddress's cache."""

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from metallb_rules.addresses import span


@given(st.integers(0, (1 << 32) - 1), st.integers(0, 32))
def test_the_span_of_an_ipv4_network_is_its_first_and_broadcast_address(
    value: int, prefix: int
) -> None:
    net = ipaddress.IPv4Network((value, prefix), strict=False)
    assert span(net) == (int(net.network_address), int(net.broadcast_address))


@given(st.integers(0, (1 << 128) - 1), st.integers(0, 128))
def test_the_span_of_an_ipv6_network_is_its_first_and_last_address(value: int, prefix: int) -> None:
    net = ipaddress.IPv6Network((value, prefix), strict=False)
    assert span(net) == (int(net.network_address), int(net.broadcast_address))


def test_the_span_leaves_the_network_without_a_cached_broadcast_address() -> None:
    net = ipaddress.ip_network("192.0.2.0/24")
    span(net)
    assert "broadcast_address" not in net.__dict__
