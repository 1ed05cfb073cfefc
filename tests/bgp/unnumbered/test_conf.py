"""An unnumbered peer's configuration (BGPPeer `interface`) from the CR to the core: the node
role sends `interface`, the service's conversion runs MetalLB's rules on it, and the core offers
both families with RFC 8950 extended next hop over the IPv6 link-local session."""

import pytest

from gateway.node.rpc import peer_conf
from metallb.bgp.v1 import bgp_pb2
from services.bgp.codec import IPV4_UNICAST, IPV6_UNICAST
from services.bgp.codec.capabilities import ExtendedNextHop, Multiprotocol
from services.bgp.convert import peer_conf_from_proto, peer_conf_to_proto
from services.bgp.fsm import InvalidPeerError, Peer
from tests.bgp.model_peers import peer


def test_the_node_role_sends_the_interface_and_no_address() -> None:
    conf = peer_conf(peer("u", interface="eth1"))
    assert (conf.interface, conf.peer_address) == ("eth1", "")


def test_the_service_takes_an_interface_peer_and_shows_it_back() -> None:
    conf = bgp_pb2.PeerConf(
        name="u", my_asn=64512, dynamic_asn=bgp_pb2.DYNAMIC_ASN_EXTERNAL, interface="eth1"
    )
    cfg = peer_conf_from_proto(conf)
    assert (cfg.interface, cfg.peer_address, cfg.unnumbered) == ("eth1", None, True)
    back = peer_conf_to_proto(cfg)
    assert (back.interface, back.peer_address) == ("eth1", "")
    assert peer_conf_from_proto(back) == cfg  # what GetPeer shows can be sent back


@pytest.mark.parametrize(
    ("kw", "field", "text"),
    [
        ({"peer_address": "10.0.0.2"}, "peer.interface", "both Address and Interface"),
        ({"interface": "a/b"}, "peer.interface", 'invalid interface name "a/b"'),
        ({"source_address": "10.0.0.1"}, "peer.source_address", "is not IPv6"),
    ],
)
def test_bad_interface_peers_name_the_request_field(
    kw: dict[str, str], field: str, text: str
) -> None:
    conf = bgp_pb2.PeerConf(name="u", my_asn=64512, peer_asn=65000, interface="eth1")
    for key, value in kw.items():
        setattr(conf, key, value)
    with pytest.raises(InvalidPeerError) as info:
        peer_conf_from_proto(conf)
    assert info.value.field == field and text in str(info.value)


def test_the_open_offers_both_families_and_ipv4_over_an_ipv6_next_hop() -> None:
    cfg = peer_conf_from_proto(
        bgp_pb2.PeerConf(name="u", my_asn=64512, peer_asn=65000, interface="eth1")
    )
    core = Peer(cfg, 0.0)
    assert core.families() == frozenset({IPV4_UNICAST, IPV6_UNICAST})
    caps = core.build_open(None).capabilities
    assert {c.family for c in caps if isinstance(c, Multiprotocol)} == {IPV4_UNICAST, IPV6_UNICAST}
    (enh,) = [c for c in caps if isinstance(c, ExtendedNextHop)]
    assert [(e.nlri_family, e.nexthop_afi) for e in enh.entries] == [(IPV4_UNICAST, 2)]  # RFC 8950


def test_metrics_name_an_unnumbered_peer_by_its_interface() -> None:
    """frr-metrics labels a neighbour by FRR's name for it: the interface, for `interface`."""
    from prometheus_client import CollectorRegistry

    from services.bgp.metrics import BGPCollector

    cfg = peer_conf_from_proto(
        bgp_pb2.PeerConf(name="u", my_asn=64512, peer_asn=65000, interface="eth1")
    )
    registry = CollectorRegistry()
    registry.register(BGPCollector(lambda: [Peer(cfg, 0.0)]))
    assert registry.get_sample_value("metallb_bgp_session_up", {"peer": "eth1", "vrf": ""}) == 0
