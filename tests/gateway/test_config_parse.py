"""Configuration rules of the behaviour reference §2.2/§2.3 as a table: objects in, text out."""

import base64
from typing import Any

import pytest
import yaml

from metallb_rules.config.model import ConfigError, Node, TransientConfigError
from metallb_rules.config.parse import parse
from metallb_rules.config.resources import ClusterResources

KINDS = {
    "IPAddressPool": "pools",
    "BGPPeer": "peers",
    "BFDProfile": "bfd_profiles",
    "BGPAdvertisement": "bgp_advertisements",
    "L2Advertisement": "l2_advertisements",
    "Community": "communities",
}

BASE = """
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: pool1, labels: {tier: gold}}
spec: {addresses: [1.1.1.0/28, "2001:db8::/120"]}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: peer1}
spec: {myASN: 64500, peerASN: 64501, peerAddress: 10.0.0.1}
"""


def resources(
    text: str,
    base: str = BASE,
    nodes: list[Node] | None = None,
    secrets: dict[str, Any] | None = None,
) -> ClusterResources:
    res = ClusterResources(nodes=nodes or [], secrets=secrets or {})
    for doc in yaml.safe_load_all(base + "\n---\n" + text):
        if doc:
            getattr(res, KINDS[doc["kind"]]).append(doc)
    return res


def error_of(text: str, **kw: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse(resources(text, **kw))
    return info.value


INVALID = [
    # Pools.
    (
        "kind: IPAddressPool\nmetadata: {name: q2}\nspec: {addresses: [1.1.1.8/29]}",
        'CIDR "1.1.1.8/29" in pool "q2" overlaps with already defined CIDR "1.1.1.0/28"',
    ),
    (
        "kind: IPAddressPool\nmetadata: {name: p2}\nspec: {addresses: [100.200.300.400/24]}",
        'parsing address pool p2: invalid CIDR "100.200.300.400/24" in pool "p2": invalid CIDR '
        '"100.200.300.400/24"',
    ),
    (
        "kind: IPAddressPool\nmetadata: {name: p2}\nspec: {addresses: []}",
        "parsing address pool p2: pool has no prefixes defined",
    ),
    # Peers.
    (
        "kind: BGPPeer\nmetadata: {name: p2}\nspec: {peerASN: 1, peerAddress: 10.0.0.2}",
        "parsing peer p2 missing local ASN",
    ),
    (
        "kind: BGPPeer\nmetadata: {name: p2}\nspec: {myASN: 64500, peerAddress: 10.0.0.2}",
        "parsing peer p2 missing peer ASN and dynamicASN",
    ),
    (
        "kind: BGPPeer\nmetadata: {name: p2}\nspec: {myASN: 64500, peerASN: 1, dynamicASN: external,"
        " peerAddress: 10.0.0.2}",
        "parsing peer p2 both peer ASN and dynamicASN specified",
    ),
    (
        "kind: BGPPeer\nmetadata: {name: p2}\nspec: {myASN: 64500, dynamicASN: sideways,"
        " peerAddress: 10.0.0.2}",
        "parsing peer p2 invalid dynamicASN sideways",
    ),
    (
        "kind: BGPPeer\nmetadata: {name: p2}\nspec: {myASN: 64500, peerASN: 64500, ebgpMultiHop: true,"
        " peerAddress: 10.0.0.2}",
        "parsing peer p2 invalid ebgp-multihop parameter set for an ibgp peer",
    ),
    (
        "kind: BGPPeer\nmetadata: {name: p2}\nspec: {myASN: 64500, peerASN: 1}",
        "parsing peer p2 peer has no Address or Interface specified",
    ),
    (
        "kind: BGPPeer\nmetadata: {name: p2}\nspec: {myASN: 64500, peerASN: 1, peerAddress: 10.0.0.2,"
        " interface: eth0}",
        "parsing peer p2 peer has both Address and Interface specified",
    ),
    (
        "kind: BGPPeer\nmetadata: {name: p2}\nspec: {myASN: 64500, peerASN: 1, peerAddress: 10.0.0.2,"
        " holdTime: 2s}",
        'parsing peer p2 invalid BGPPeer timers: invalid hold time "2s": must be 0 or >=3s',
    ),
    (
        "kind: BGPPeer\nmetadata: {name: p2}\nspec: {myASN: 64500, peerASN: 1, peerAddress: 10.0.0.2,"
        " holdTime: 30s, keepaliveTime: 40s}",
        'parsing peer p2 invalid BGPPeer timers: invalid keepaliveTime "40s", must be lower than '
        'holdTime "30s"',
    ),
    (
        "kind: BGPPeer\nmetadata: {name: p2}\nspec: {myASN: 64500, peerASN: 1,"
        " peerAddress: 10.0.0.300}",
        'parsing peer p2 invalid BGPPeer address "10.0.0.300"',
    ),
    (
        "kind: BGPPeer\nmetadata: {name: p2}\nspec: {myASN: 64500, peerASN: 1, peerAddress: 10.0.0.2,"
        " routerID: bad}",
        'parsing peer p2 invalid router ID "bad"',
    ),
    (
        "kind: BGPPeer\nmetadata: {name: p2}\nspec: {myASN: 64500, peerASN: 1, peerAddress: 10.0.0.2,"
        " sourceAddress: nope}",
        'parsing peer p2 invalid source IP "nope"',
    ),
    (
        "kind: BGPPeer\nmetadata: {name: p2}\nspec: {myASN: 64500, peerASN: 1, peerAddress: 10.0.0.2,"
        " nodeSelectors: [{matchLabels: {a: b}}, {matchLabels: {a: b}}]}",
        'parsing peer p2 duplicate definition of nodeSelectors "a=b"',
    ),
    (
        "kind: BGPPeer\nmetadata: {name: p2}\nspec: {myASN: 64500, peerASN: 1, peerAddress: 10.0.0.2,"
        " password: x, passwordSecret: {name: s}}",
        "parsing peer p2 can not have both password and secret ref set in peer config "
        '"metallb-system"/"s"',
    ),
    (
        "kind: BGPPeer\nmetadata: {name: p2}\nspec: {myASN: 64500, peerASN: 1, peerAddress: 10.0.0.2,"
        " passwordSecret: {name: wrongtype}}",
        'parsing peer p2 secret type mismatch on "metallb-system"/"wrongtype", type '
        '"kubernetes.io/basic-auth" is expected \nfailed to parse peer p2 password secret',
    ),
    (
        "kind: BGPPeer\nmetadata: {name: p2}\nspec: {myASN: 64500, peerASN: 1, peerAddress: 10.0.0.2,"
        " passwordSecret: {name: nopass}}",
        'parsing peer p2 password not specified in the secret "metallb-system"/"nopass"\nfailed to '
        "parse peer p2 password secret",
    ),
    (
        "kind: BGPPeer\nmetadata: {name: p2}\nspec: {myASN: 64500, peerASN: 64501,"
        " peerAddress: 10.0.0.1}",
        "peer 10.0.0.1 already exists",
    ),
    # FRR-mode peer rules (peers sharing a node).
    (
        "kind: BGPPeer\nmetadata: {name: q2}\nspec: {myASN: 64500, peerASN: 1, peerAddress: 10.0.0.2,"
        " routerID: 1.2.3.4}",
        "peer 10.0.0.2 has RouterID different from 10.0.0.1, in FRR mode peers selecting the same "
        "node must all have the same RouterID",
    ),
    (
        "kind: BGPPeer\nmetadata: {name: q2}\nspec: {myASN: 64999, peerASN: 1, peerAddress: 10.0.0.2}",
        "peer 10.0.0.2 has myAsn different from 10.0.0.1, in FRR mode peers selecting the same node "
        "must have the same myAsn within the same VRF",
    ),
    (
        "kind: BGPPeer\nmetadata: {name: p2}\nspec: {myASN: 64500, peerASN: 7, peerAddress: 10.0.0.1}",
        "peer 10.0.0.1 already exists, FRR mode doesn't support duplicate BGPPeers selecting the same "
        "node",
    ),
    # BFD profiles.
    (
        "kind: BFDProfile\nmetadata: {name: b}\nspec: {detectMultiplier: 1}",
        "parsing bfd profile #0: invalid value 1, must be in 2-255 range\ninvalid detect multiplier "
        "value",
    ),
    (
        "kind: BFDProfile\nmetadata: {name: b}\nspec: {receiveInterval: 5}",
        "parsing bfd profile #0: invalid value 5, must be in 10-60000 range\ninvalid receive interval "
        "value",
    ),
    # Communities.
    (
        "kind: Community\nmetadata: {name: c}\nspec: {communities: [{name: x, value: '99999999:1'}]}",
        'parsing community "x": invalid community value: invalid section "99999999" of community '
        '"99999999:1", err: "strconv.ParseUint: parsing \\"99999999\\": value out of range"',
    ),
    (
        "kind: Community\nmetadata: {name: c}\nspec: {communities: [{name: x, value: '1:1'},"
        " {name: x, value: '1:2'}]}",
        'duplicate definition of community "x"',
    ),
    (
        "kind: Community\nmetadata: {name: c}\nspec: {communities: [{name: x,"
        " value: 'lar:123:9999:123'}]}",
        'parsing community "x": invalid community value: invalid marker for large community, '
        "expected community to be of format large:<uint32>:<uint32>:<uint32> but got "
        '"lar:123:9999:123" instead',
    ),
    # BGP advertisements.
    (
        "kind: BGPAdvertisement\nmetadata: {name: a}\nspec: {aggregationLength: 26}",
        "invalid aggregation length 26: prefix 28 in this pool is more specific than the aggregation "
        "length for addresses 1.1.1.0/28",
    ),
    (
        "kind: BGPAdvertisement\nmetadata: {name: a}\nspec: {aggregationLength: 33}",
        "invalid aggregation length '!' for IPv4",
    ),
    (
        "kind: BGPAdvertisement\nmetadata: {name: a}\nspec: {aggregationLength: 30,"
        " serviceSelectors: [{matchLabels: {a: b}}]}",
        "serviceSelectors and aggregationLength are mutually exclusive, both cannot be set in a",
    ),
    (
        "kind: BGPAdvertisement\nmetadata: {name: a}\nspec: {communities: ['1:1', '1:1']}",
        'duplicate definition of community "1:1"',
    ),
    (
        "kind: BGPAdvertisement\nmetadata: {name: a}\nspec: {ipAddressPools: [pool1, pool1]}",
        'duplicate definition of ipAddressPools "pool1"',
    ),
    (
        "kind: BGPAdvertisement\nmetadata: {name: a}\nspec: {peers: [peer1, peer1]}",
        'duplicate definition of peers "peer1"',
    ),
    (
        "kind: BGPAdvertisement\nmetadata: {name: a}\nspec: {communities: ['99999999:1']}",
        'invalid community "99999999:1" in BGP advertisement: invalid community value: invalid '
        'section "99999999" of community "99999999:1", err: "strconv.ParseUint: parsing '
        '\\"99999999\\": value out of range"',
    ),
    (
        "kind: BGPAdvertisement\nmetadata: {name: a}\nspec: {communities: ['lar:123:9999:123']}",
        'invalid community "lar:123:9999:123" in BGP advertisement: invalid community value: '
        "invalid marker for large community, expected community to be of format "
        'large:<uint32>:<uint32>:<uint32> but got "lar:123:9999:123" instead',
    ),
    (
        "kind: BGPAdvertisement\nmetadata: {name: a}\nspec: {localPref: 100}\n---\n"
        "kind: BGPAdvertisement\nmetadata: {name: b}\nspec: {localPref: 100}",
        "duplicate definition of bgpadvertisements. advertisement 0 and 1 are equal",
    ),
    (
        "kind: BGPAdvertisement\nmetadata: {name: a}\nspec: {localPref: 100}\n---\n"
        "kind: BGPAdvertisement\nmetadata: {name: b}\nspec: {localPref: 200}",
        "invalid local preference 200: local preferernce 100 was already set for the same type of "
        "BGP update. Check existing BGP advertisements with common pools and aggregation lengths",
    ),
    # Cross-object.
    (
        "kind: BFDProfile\nmetadata: {name: echo}\nspec: {echoMode: true}\n---\n"
        "kind: BGPPeer\nmetadata: {name: p2}\nspec: {myASN: 64500, peerASN: 1, peerAddress: 10.0.0.2,"
        " bfdProfile: echo}\n---\nkind: BGPAdvertisement\nmetadata: {name: a}\nspec: {}",
        "pool pool1 has bgpadvertisement a which references peer p2 which has bfd echo enabled, which "
        "is not possible",
    ),
]

SECRETS = {
    "wrongtype": {"type": "Opaque", "data": {"password": "eA=="}},
    "nopass": {"type": "kubernetes.io/basic-auth", "data": {"username": "eA=="}},
    "good": {
        "type": "kubernetes.io/basic-auth",
        "data": {"password": base64.b64encode(b"s3cret").decode()},
    },
}


@pytest.mark.parametrize(("text", "message"), INVALID, ids=[m[:60] for _, m in INVALID])
def test_invalid_configuration_is_rejected_with_metallb_text(text: str, message: str) -> None:
    err = error_of(text, secrets=SECRETS)
    assert err.message == message
    assert err.field  # names the object (and field) at fault


def test_transient_errors() -> None:
    err = error_of(
        "kind: BGPPeer\nmetadata: {name: p2}\nspec: {myASN: 64500, peerASN: 1,"
        " peerAddress: 10.0.0.2, bfdProfile: nope}"
    )
    assert isinstance(err, TransientConfigError)
    assert err.message == "parsing peer p2 peer p2 referencing non existing bfd profile nope"
    err = error_of(
        "kind: BGPPeer\nmetadata: {name: p2}\nspec: {myASN: 64500, peerASN: 1,"
        " peerAddress: 10.0.0.2, passwordSecret: {name: missing}}"
    )
    assert isinstance(err, TransientConfigError)
    assert err.message == (
        'parsing peer p2 secret ref not found for peer config "metallb-system"/"missing"\n'
        "failed to parse peer p2 password secret"
    )
    err = error_of("kind: BGPAdvertisement\nmetadata: {name: a}\nspec: {communities: [gold]}")
    assert isinstance(err, TransientConfigError)


def test_valid_configuration_resolves_everything() -> None:
    nodes = [Node("n1", {"zone": "a"}), Node("n2", {"zone": "b"})]
    config = parse(
        resources(
            """
kind: Community
metadata: {name: c}
spec: {communities: [{name: gold, value: 'large:1:2:3'}]}
---
kind: BFDProfile
metadata: {name: fast}
spec: {receiveInterval: 50, transmitInterval: 50}
---
kind: BGPPeer
metadata: {name: peer2}
spec: {myASN: 64500, peerASN: 64500, peerAddress: 10.0.0.2, holdTime: 9s, bfdProfile: fast,
       passwordSecret: {name: good}, nodeSelectors: [{matchLabels: {zone: b}}]}
---
kind: BGPAdvertisement
metadata: {name: a}
spec: {communities: [gold, '65000:1'], localPref: 50, aggregationLength: 28,
       ipAddressPoolSelectors: [{matchLabels: {tier: gold}}]}
---
kind: L2Advertisement
metadata: {name: l2}
spec:
  interfaces: [eth0]
  nodeSelectors: [{matchExpressions: [{key: zone, operator: In, values: [a, b]}]}]
  preferredNodeSelectors:
  - {weight: 30, preference: {matchLabels: {zone: a}}}
  - {weight: 20, preference: {matchLabels: {zone: a}}}
""",
            nodes=nodes,
            secrets=SECRETS,
        )
    )
    peer2 = next(p for p in config.peers if p.name == "peer2")
    assert (peer2.hold_time, peer2.keepalive_time, peer2.password) == (9, 3, "s3cret")
    assert peer2.nodes == {"n2"}
    (ad,) = config.bgp_ads_for_pool("pool1")
    # MetalLB's order: a legacy a:b sorts as the large triple (a << 16 | b, 0, 0).
    assert [str(c) for c in ad.communities] == ["large:1:2:3", "65000:1"]
    assert (ad.local_pref, ad.aggregation_length) == (50, 28)
    assert ad.nodes == {"n1", "n2"}
    (l2,) = config.l2_ads_for_pool("pool1")
    assert l2.interfaces == ("eth0",) and l2.preferred_nodes == {"n1": 50}
    assert config.bfd_profiles["fast"].receive_interval == 50


def test_frr_peer_rules_apply_only_to_peers_sharing_a_node() -> None:
    nodes = [Node("n1", {"zone": "a"}), Node("n2", {"zone": "b"})]
    base = """
kind: IPAddressPool
metadata: {name: pool1}
spec: {addresses: [1.1.1.0/28]}
---
kind: BGPPeer
metadata: {name: peer1}
spec: {myASN: 64500, peerASN: 64501, peerAddress: 10.0.0.1,
       nodeSelectors: [{matchLabels: {zone: a}}]}
"""
    other = (
        "kind: BGPPeer\nmetadata: {name: p2}\nspec: {myASN: 64999, peerASN: 1,"
        " peerAddress: 10.0.0.1, routerID: 9.9.9.9,"
        " nodeSelectors: [{matchLabels: {zone: b}}]}"
    )
    parse(resources(other, base=base, nodes=nodes))  # disjoint nodes: all three rules pass
    with pytest.raises(ConfigError):
        parse(resources(other, base=base))  # no nodes known: sharing is assumed


def test_interface_peer_is_parsed_and_its_name_checked() -> None:
    """Unnumbered peering (`interface:`, MetalLB 0.15): accepted, with dynamicASN; a name Linux
    would refuse names the peer and the field."""
    config = parse(
        resources(
            "kind: BGPPeer\nmetadata: {name: unnumbered}\nspec: {myASN: 64500,"
            " dynamicASN: external, interface: eth1}"
        )
    )
    peer = next(p for p in config.peers if p.name == "unnumbered")
    assert (peer.interface, peer.address, peer.dynamic_asn) == ("eth1", "", "external")
    err = error_of(
        "kind: BGPPeer\nmetadata: {name: unnumbered}\nspec: {myASN: 64500, peerASN: 64501,"
        " interface: eth1/x}"
    )
    assert not isinstance(err, TransientConfigError)
    assert err.message.startswith('parsing peer unnumbered invalid interface name "eth1/x"')
    assert err.field == "bgppeers/unnumbered: spec.interface"
