"""SetAdvertisements' RouteGroup, the bulk form of `routes`: prefixes as text or packed as NLRI
(RFC 4271 §4.3, RFC 4760 §5) sharing one set of attributes. Packed bytes become the same
`Prefix` values, ListAdvertisements gives them back as text, every bad packed field is refused
with the field and the byte offset while the other peers' routes are applied, and a prefix
given twice anywhere names both places. Expected values come from `ipaddress`."""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Any

import pytest
from google.rpc import code_pb2
from hypothesis import given
from hypothesis import strategies as st

from metallb.bgp.v1 import bgp_pb2
from services.bgp.codec import AFI
from services.bgp.codec.prefixes import PackedPrefixError, count_nlri, prefix_text, split_nlri
from services.bgp.convert import peer_routes_from_proto, route_to_proto
from services.bgp.fsm import InvalidPeerError, RouteAttrs

from .test_service import bgp_server, conf

Network = IPv4Network | IPv6Network


def nlri(net: Network) -> bytes:
    """RFC 4271 §4.3 from ipaddress: the length octet, then the octets that hold it."""
    return bytes([net.prefixlen]) + net.network_address.packed[: (net.prefixlen + 7) // 8]


def packed(nets: list[Network]) -> bytes:
    return b"".join(map(nlri, nets))


def texts(routes: dict[Any, RouteAttrs]) -> set[str]:
    """What ListAdvertisements shows of `routes`."""
    return {route_to_proto(p, a, False).prefix for p, a in routes.items()}


def refusal(ads: bgp_pb2.PeerAdvertisements) -> str:
    with pytest.raises(InvalidPeerError) as info:
        peer_routes_from_proto(ads, "advertisements[1]")
    return info.value.describe()


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
@given(data=st.data())
def test_packed_prefixes_round_trip_to_text(family: str, data: Any) -> None:
    width = 32 if family == "ipv4" else 128
    network = IPv4Network if family == "ipv4" else IPv6Network
    if data.draw(st.booleans()):  # mixed lengths
        lengths = st.integers(0, width)
    else:  # all one length: the C-loop path
        lengths = st.just(data.draw(st.integers(0, width)))
    nets = data.draw(
        st.lists(
            st.builds(
                lambda a, n: network((a, n), strict=False), st.integers(0, 2**width - 1), lengths
            ),
            unique=True,
            max_size=30,
        )
    )
    group = bgp_pb2.RouteGroup(local_pref=7)
    setattr(group, f"{family}_nlri", packed(nets))
    routes = peer_routes_from_proto(bgp_pb2.PeerAdvertisements(peer="p", groups=[group]), "a")
    assert texts(routes) == {str(n) for n in nets}
    assert set(routes.values()) <= {RouteAttrs(local_pref=7)}


def test_many_host_routes_of_both_families() -> None:
    v4 = [ip_network(f"198.18.{i >> 8}.{i & 255}/32") for i in range(1000)]
    v6 = [ip_network(f"fd00::{i:x}/128") for i in range(1000)]
    group = bgp_pb2.RouteGroup(ipv4_nlri=packed(v4), ipv6_nlri=packed(v6))
    routes = peer_routes_from_proto(bgp_pb2.PeerAdvertisements(peer="p", groups=[group]), "a")
    assert texts(routes) == {str(n) for n in v4 + v6}


@pytest.mark.parametrize(
    ("field", "data", "text"),
    [
        ("ipv4_nlri", bytes([24, 192, 0, 2, 33, 1, 2, 3, 4, 5]),
         "prefix at byte 4: length 33 exceeds 32"),
        ("ipv6_nlri", bytes([129]) + bytes(17), "prefix at byte 0: length 129 exceeds 128"),
        ("ipv4_nlri", bytes([32, 192, 0, 2, 1, 24, 192, 0]),
         "prefix at byte 5: /24 needs 3 octets, 2 left"),
        ("ipv4_nlri", bytes([32, 192, 0, 2, 1, 32, 192, 0, 2, 2, 32]),
         "prefix at byte 10: /32 needs 4 octets, 0 left"),
        ("ipv4_nlri", bytes([23, 192, 0, 3]), "prefix at byte 0: bits set past its length /23"),
        # one length everywhere, one prefix with a stray bit: the fast path must refuse it too
        ("ipv4_nlri", bytes([23, 192, 0, 2, 23, 192, 0, 3]),
         "prefix at byte 4: bits set past its length /23"),
        ("ipv6_nlri", bytes([60]) + bytes(7) + b"\x01", "prefix at byte 0: bits set past its "
         "length /60"),
    ],
)  # fmt: skip
def test_bad_packed_fields_are_refused_with_field_and_offset(
    field: str, data: bytes, text: str
) -> None:
    group = bgp_pb2.RouteGroup()
    setattr(group, field, data)
    ads = bgp_pb2.PeerAdvertisements(peer="p", groups=[bgp_pb2.RouteGroup(), group])
    assert refusal(ads) == f"advertisements[1].groups[1].{field}: {text}"


@given(st.binary(max_size=40), st.sampled_from([AFI.IPV4, AFI.IPV6]))
def test_any_bytes_are_split_or_refused_never_a_crash(data: bytes, afi: AFI) -> None:
    try:
        prefixes = split_nlri(data, afi)
    except PackedPrefixError as err:
        assert 0 <= err.offset < len(data)
    else:  # accepted: exactly the prefixes, re-encoded, give the same bytes
        assert b"".join(p[1:] for p in prefixes) == data
        # the request bound counts what split_nlri cuts, stopping just past a smaller bound
        assert count_nlri(data, len(prefixes)) == len(prefixes)
        if prefixes:
            assert len(prefixes) - 1 <= count_nlri(data, len(prefixes) - 1) <= len(prefixes)


def test_a_group_shares_its_attributes_and_checks_them() -> None:
    group = bgp_pb2.RouteGroup(prefixes=["192.0.2.1/32", "2001:db8::/64"], local_pref=50)
    group.communities.add(asn=65000, value=1)
    routes = peer_routes_from_proto(bgp_pb2.PeerAdvertisements(peer="p", groups=[group]), "a")
    assert texts(routes) == {"192.0.2.1/32", "2001:db8::/64"}
    (attrs,) = set(routes.values())
    assert attrs == RouteAttrs((65000 << 16 | 1,), (), 50)
    ads = bgp_pb2.PeerAdvertisements(peer="p", groups=[group])
    group = ads.groups[0]
    group.communities.add(asn=65000, value=70000)
    group.prefixes.append("192.0.2.300/32")
    assert refusal(ads) == (
        "advertisements[1].groups[0].communities[1]: community 65000:70000: each half is 16 "
        "bits (RFC 1997)"
    )
    del group.communities[1]
    assert (
        refusal(ads) == "advertisements[1].groups[0].prefixes[2]: invalid prefix '192.0.2.300/32'"
    )


def test_routes_and_groups_mix() -> None:
    ads = bgp_pb2.PeerAdvertisements(
        peer="p",
        routes=[bgp_pb2.Route(prefix="192.0.2.1/32", local_pref=10)],
        groups=[
            bgp_pb2.RouteGroup(prefixes=["192.0.2.2/32"]),
            bgp_pb2.RouteGroup(ipv4_nlri=bytes([32, 192, 0, 2, 3]), ipv6_nlri=bytes([0])),
        ],
    )
    routes = peer_routes_from_proto(ads, "a")
    assert {prefix_text(p): a for p, a in routes.items()} == {
        "192.0.2.1/32": RouteAttrs(local_pref=10),
        "192.0.2.2/32": RouteAttrs(),
        "192.0.2.3/32": RouteAttrs(),
        "::/0": RouteAttrs(),
    }


@pytest.mark.parametrize(
    ("routes", "groups", "text"),
    [
        (["192.0.2.1/32"], [{"ipv4_nlri": bytes([32, 192, 0, 2, 1])}],
         "advertisements[1].groups[0].ipv4_nlri: prefix 192.0.2.1/32 at byte 0 given twice: one "
         "route per prefix (first at advertisements[1].routes[0].prefix)"),
        ([], [{"prefixes": ["10.0.0.0/8"]}, {"ipv4_nlri": bytes([32, 192, 0, 2, 1, 8, 10])}],
         "advertisements[1].groups[1].ipv4_nlri: prefix 10.0.0.0/8 at byte 5 given twice: one "
         "route per prefix (first at advertisements[1].groups[0].prefixes[0])"),
        ([], [{"ipv6_nlri": bytes([128]) + bytes(16) + bytes([128]) + bytes(16)}],
         "advertisements[1].groups[0].ipv6_nlri: prefix ::/128 at byte 17 given twice: one "
         "route per prefix (first at advertisements[1].groups[0].ipv6_nlri at byte 0)"),
        ([], [{"prefixes": ["2001:db8::/32", "2001:0db8::/32"]}],
         "advertisements[1].groups[0].prefixes[1]: prefix 2001:db8::/32 given twice: one route "
         "per prefix (first at advertisements[1].groups[0].prefixes[0])"),
        (["192.0.2.1/32", "192.0.2.1/32"], [],
         "advertisements[1].routes[1].prefix: prefix 192.0.2.1/32 given twice: one route per "
         "prefix (first at advertisements[1].routes[0].prefix)"),
    ],
)  # fmt: skip
def test_a_prefix_given_twice_names_both_places(
    routes: list[str], groups: list[dict[str, Any]], text: str
) -> None:
    ads = bgp_pb2.PeerAdvertisements(
        peer="p",
        routes=[bgp_pb2.Route(prefix=p) for p in routes],
        groups=[bgp_pb2.RouteGroup(**g) for g in groups],
    )
    assert refusal(ads) == text


def test_over_grpc_a_bad_group_refuses_its_peer_only(arun: Callable[..., Any]) -> None:
    """Through the service: the good peer's packed routes are applied and listed as text; the
    bad peer's status names the packed field and the offset, and it keeps what it had."""
    good = [ip_network(f"203.0.113.{i}/32") for i in range(50)] + [ip_network("10.0.0.0/8")]
    good6 = [ip_network(f"2001:db8::{i:x}/128") for i in range(50)]

    async def scenario() -> None:
        async with bgp_server() as (_, stub):
            for name in ("good", "bad"):  # nothing listens on port 9: the routes stay unsent
                peer = conf(name, peer_port=9, dual_stack_address_family=True)
                await stub.AddPeer(bgp_pb2.AddPeerRequest(peer=peer))
            first = bgp_pb2.SetAdvertisementsRequest()
            first.advertisements.add(peer="bad").groups.add(prefixes=["198.51.100.1/32"])
            await stub.SetAdvertisements(first)
            request = bgp_pb2.SetAdvertisementsRequest()
            request.advertisements.add(peer="bad").groups.add(
                ipv4_nlri=bytes([32, 198, 51, 100, 2, 40, 1])
            )
            request.advertisements.add(peer="good").groups.add(
                ipv4_nlri=packed(good), ipv6_nlri=packed(good6)
            )
            reply = await stub.SetAdvertisements(request)
            got = [(c.peer, c.announced, c.status.code, c.status.message) for c in reply.changes]
            assert got == [
                ("bad", 0, code_pb2.INVALID_ARGUMENT,
                 "advertisements[0].groups[0].ipv4_nlri: prefix at byte 5: length 40 exceeds 32"),
                ("good", 101, code_pb2.OK, ""),
            ]  # fmt: skip
            listed = await stub.ListAdvertisements(bgp_pb2.ListAdvertisementsRequest())
            shown = {ads.peer: {r.prefix for r in ads.routes} for ads in listed.peers}
            assert shown == {"bad": {"198.51.100.1/32"}, "good": {str(n) for n in good + good6}}

    arun(scenario())
