"""SetAdvertisements' route conversion: the fast path (prefix-only routes recognised from the
message's encoded size) gives what the route-by-route path gives, and errors name the field."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metallb.bgp.v1 import bgp_pb2
from services.bgp.convert import _checked, peer_routes_from_proto
from services.bgp.fsm import InvalidPeerError

PREFIXES = st.sampled_from(
    ["192.0.2.1/32", "192.0.2.0/24", "2001:db8::1/128", "::/0", "10.0.0.0/8", "fd00::/8",
     "192.0.2.1/24", "x", "", "2001:0db8:0000:0000:0000:0000:0000:0001/128"]
)  # fmt: skip


@st.composite
def routes(draw: Any) -> bgp_pb2.Route:
    route = bgp_pb2.Route(prefix=draw(PREFIXES))
    if draw(st.booleans()):
        route.sent = True
    if draw(st.booleans()):
        route.local_pref = draw(st.integers(0, 2**32 - 1))
    for asn, value in draw(st.lists(st.tuples(st.integers(0, 70000), st.integers(0, 65535)))):
        route.communities.add(asn=asn, value=value)
    return route


def outcome(convert: Any, ads: bgp_pb2.PeerAdvertisements) -> Any:
    try:
        return convert(ads, "advertisements[0]")
    except InvalidPeerError as err:
        return err.describe()


@given(st.text(max_size=3), st.lists(routes(), max_size=6), st.booleans())
def test_fast_path_equals_route_by_route(peer: str, items: list[Any], plain: bool) -> None:
    if plain:
        items = [bgp_pb2.Route(prefix=r.prefix) for r in items]
    ads = bgp_pb2.PeerAdvertisements(peer=peer, routes=items)
    assert outcome(peer_routes_from_proto, ads) == outcome(_checked, ads)


def test_errors_name_the_route_field() -> None:
    ads = bgp_pb2.PeerAdvertisements(
        peer="p",
        routes=[bgp_pb2.Route(prefix="192.0.2.1/32"), bgp_pb2.Route(prefix="192.0.2.1/32")],
    )
    with pytest.raises(InvalidPeerError) as info:
        peer_routes_from_proto(ads, "advertisements[3]")
    assert info.value.describe() == (
        "advertisements[3].routes[1].prefix: prefix 192.0.2.1/32 given twice: one route per prefix "
        "(first at advertisements[3].routes[0].prefix)"
    )
