"""MetalLB's BGPPeer rules (metallb_rules.bgp_peer, behaviour reference §2.2 "Peers") and the
BGP route decisions per peer (metallb_rules.announce.bgp): one copy, called by the gateway and
the BGP service alike."""

from dataclasses import replace
from ipaddress import IPv4Address, ip_address
from typing import Any

import pytest

from metallb_rules.announce.bgp import (
    DEFAULT_LOCAL_PREF,
    PeerRoute,
    Route,
    local_pref_for,
    peer_routes,
    per_peer,
)
from metallb_rules.bgp_peer import (
    DynamicASN,
    PeerError,
    PeerFields,
    effective_timers,
    is_internal,
    validate_peer,
)
from metallb_rules.communities import Community
from tests.bgp.model_peers import peer

S = 1_000_000_000
BASE = PeerFields(name="p", my_asn=64512, peer_asn=65002, address="10.0.0.2")


def fields(**kw: Any) -> PeerFields:
    return replace(BASE, **kw)


@pytest.mark.parametrize(
    ("kw", "field", "text"),
    [
        ({"my_asn": 0}, "myASN", "missing local ASN"),
        ({"peer_asn": 0}, "peerASN", "missing peer ASN and dynamicASN"),
        ({"dynamic_asn": "internal"}, "dynamicASN", "both peer ASN and dynamicASN specified"),
        ({"peer_asn": 0, "dynamic_asn": "bogus"}, "dynamicASN", "invalid dynamicASN bogus"),
        (
            {"peer_asn": 64512, "ebgp_multihop": True},
            "ebgpMultiHop",
            "invalid ebgp-multihop parameter set for an ibgp peer",
        ),
        ({"address": ""}, "peerAddress", "peer has no Address or Interface specified"),
        ({"interface": "eth0"}, "interface", "peer has both Address and Interface specified"),
        ({"address": "1.2.3"}, "peerAddress", 'invalid BGPPeer address "1.2.3"'),
        ({"router_id": "x"}, "routerID", 'invalid router ID "x"'),
        ({"router_id": "::1"}, "routerID", 'invalid router ID "::1"'),
        ({"source_address": "nope"}, "sourceAddress", 'invalid source IP "nope"'),
        (
            {"source_address": "fd00::1"},
            "sourceAddress",
            "source address fd00::1 and peer address 10.0.0.2 are of different families",
        ),
        (
            {"hold_time_ns": 2 * S},
            "holdTime",
            'invalid BGPPeer timers: invalid hold time "2s": must be 0 or >=3s',
        ),
        (
            {"hold_time_ns": 30 * S, "keepalive_time_ns": 60 * S},
            "keepaliveTime",
            'invalid BGPPeer timers: invalid keepaliveTime "1m0s", must be lower than '
            'holdTime "30s"',
        ),
        # Go's Duration.String() below one second: milliseconds.
        (
            {"hold_time_ns": 400_000_000, "keepalive_time_ns": 500_000_000},
            "keepaliveTime",
            'invalid BGPPeer timers: invalid keepaliveTime "500ms", must be lower than '
            'holdTime "400ms"',
        ),
        ({"port": 70000}, "peerPort", "invalid peer port 70000"),
        ({"password": "x" * 81}, "password", "password longer than 80 octets (TCP MD5 key limit)"),
        (
            {"connect_time_ns": 0},
            "connectTime",
            "connect time should be between 1 seconds to 65535",
        ),
    ],
)
def test_invalid_peers_name_the_cr_field_with_metallbs_text(
    kw: dict[str, Any], field: str, text: str
) -> None:
    with pytest.raises(PeerError) as info:
        validate_peer(fields(**kw))
    assert (info.value.field, info.value.message) == (field, text)


def test_an_interface_peer_has_no_address_and_may_use_dynamic_asn() -> None:
    """MetalLB 0.15 BGPPeer `interface` (unnumbered): no peerAddress, dynamicASN allowed."""
    s = validate_peer(fields(address="", interface="eth1", peer_asn=0, dynamic_asn="external"))
    assert (s.address, s.interface, s.dynamic_asn) == (None, "eth1", DynamicASN.EXTERNAL)
    s = validate_peer(fields(address="", interface="eth1", source_address="fd00::1"))
    assert s.source_address == ip_address("fd00::1")


@pytest.mark.parametrize(
    ("kw", "field", "text"),
    [
        (
            {"interface": "a" * 16},
            "interface",
            f'invalid interface name "{"a" * 16}": 1 to 15 octets, not . or .., no /, : or '
            "white space",
        ),
        (
            {"interface": "eth0:1"},
            "interface",
            'invalid interface name "eth0:1": 1 to 15 octets, not . or .., no /, : or white space',
        ),
        (
            {"interface": ".."},
            "interface",
            'invalid interface name "..": 1 to 15 octets, not . or .., no /, : or white space',
        ),
        (
            {"interface": "eth1", "source_address": "10.0.0.1"},
            "sourceAddress",
            "source address 10.0.0.1 is not IPv6: the session over interface eth1 runs over "
            "IPv6 link-local",
        ),
    ],
)
def test_interface_peers_beyond_metallb(kw: dict[str, Any], field: str, text: str) -> None:
    """Our choices where MetalLB validates nothing (docs/bgp.md "Unnumbered peering")."""
    with pytest.raises(PeerError) as info:
        validate_peer(fields(address="", **kw))
    assert (info.value.field, info.value.message) == (field, text)


def test_valid_peer_is_typed() -> None:
    s = validate_peer(fields(router_id="1.1.1.1", source_address="10.0.0.1", dynamic_asn=""))
    assert s.address == ip_address("10.0.0.2") and s.router_id == IPv4Address("1.1.1.1")
    assert s.port == 179 and s.dynamic_asn is DynamicASN.NONE
    assert (s.hold_time, s.keepalive_time, s.connect_time) == (None, None, None)


def test_timers_follow_parse_timers() -> None:
    def timers(hold: int | None, keepalive: int | None) -> tuple[int | None, int | None]:
        s = validate_peer(fields(hold_time_ns=hold, keepalive_time_ns=keepalive))
        return s.hold_time, s.keepalive_time

    assert timers(None, None) == (None, None)
    assert effective_timers(None, None) == (90, 30)  # MetalLB native's defaults
    assert timers(12 * S, None) == (12, 4)
    assert timers(None, 5 * S) == (15, 5)
    assert timers(0, 0) == (0, 0)
    assert timers(3_500_000_000, None) == (3, 1)  # hold truncated to whole seconds


def test_internal_peers_and_local_pref() -> None:
    assert is_internal(64512, 0, 64512, "")
    assert is_internal(64512, 65000, 65000, "")  # localASN is the AS we present
    assert not is_internal(64512, 65000, 64512, "")
    assert is_internal(64512, 0, 0, "internal") and not is_internal(64512, 0, 0, "external")
    ibgp, ebgp = peer("i", my_asn=64512, peer_asn=64512), peer("e")
    assert local_pref_for(ibgp, None) == DEFAULT_LOCAL_PREF == 100
    assert local_pref_for(ibgp, 250) == 250
    assert local_pref_for(ebgp, 250) is None  # RFC 4271 §5.1.5


def test_peer_routes_go_to_the_named_peers_or_all() -> None:
    a, b = peer("a", my_asn=64512, peer_asn=64512), peer("b")
    c1 = Community.legacy(65000, 1)
    routes = [Route("192.0.2.1/32", 150, (c1,), ()), Route("192.0.2.2/32", None, (), ("b",))]
    assert peer_routes(routes, [a, b]) == {
        PeerRoute("a", "192.0.2.1/32", (c1,), 150),
        PeerRoute("b", "192.0.2.1/32", (c1,), None),
        PeerRoute("b", "192.0.2.2/32", (), None),
    }


def test_per_peer_merges_one_prefix_like_metallb() -> None:
    c1, c2 = Community.legacy(65000, 1), Community.legacy(65000, 2)
    large = Community.large_of(1, 1, 1)
    merged = per_peer(
        [
            PeerRoute("a", "192.0.2.1/32", (c2,), 150),
            PeerRoute("a", "192.0.2.1/32", (c1, large), 300),
            PeerRoute("b", "192.0.2.2/32"),
        ]
    )
    # Union of the communities in MetalLB's order (a large one sorts as its triple, a legacy
    # a:b as (a << 16 | b, 0, 0)); the LOCAL_PREF of the first route in sort order, the one
    # whose communities sort first: (c1, large) < (c2,).
    assert merged == {
        "a": {"192.0.2.1/32": PeerRoute("a", "192.0.2.1/32", (large, c1, c2), 300)},
        "b": {"192.0.2.2/32": PeerRoute("b", "192.0.2.2/32")},
    }
