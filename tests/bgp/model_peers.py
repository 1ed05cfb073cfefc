"""Validated-configuration peers (`metallb_rules.config.model.Peer`) built directly, as a node
role holds them, for the tests of the node's BGP calls."""

from metallb_rules.config.model import Peer


def peer(
    name: str, address: str = "", interface: str = "", my_asn: int = 64512, peer_asn: int = 65002
) -> Peer:
    return Peer(
        name=name,
        my_asn=my_asn,
        peer_asn=peer_asn,
        dynamic_asn="",
        local_asn=0,
        address=address,
        interface=interface,
        port=179,
        source_address="",
        router_id="",
        hold_time=None,
        keepalive_time=None,
        connect_time=None,
        password="",
        password_secret="",
        bfd_profile="",
        ebgp_multihop=False,
        vrf="",
        enable_graceful_restart=False,
        disable_mp=False,
        dual_stack_address_family=False,
        node_selectors=(),
        nodes=frozenset({"n1"}),
    )
