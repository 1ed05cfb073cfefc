"""An unnumbered peer through the BGP service's API, with no root and no link: it is taken,
shown back with its interface, and its state says the link is missing (no address to dial)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest

from metallb.bgp.v1 import bgp_pb2
from tests.bgp.test_service import bgp_server

MISSING = "mlbnolink0"  # an interface that does not exist in this namespace


def test_an_interface_peer_on_a_missing_link_waits_and_says_why(
    arun: Callable[..., Any],
) -> None:
    async def scenario() -> None:
        async with bgp_server() as (_, stub):
            conf = bgp_pb2.PeerConf(
                name="u",
                my_asn=64512,
                dynamic_asn=bgp_pb2.DYNAMIC_ASN_EXTERNAL,
                interface=MISSING,
            )
            added = (await stub.AddPeer(bgp_pb2.AddPeerRequest(peer=conf))).peer
            assert (added.conf.interface, added.conf.peer_address) == (MISSING, "")
            got = (await stub.GetPeer(bgp_pb2.GetPeerRequest(name="u"))).peer
            link = got.state.unnumbered
            assert link.interface == MISSING and not link.link_up
            assert not link.neighbor_address
            assert link.neighbor_source == bgp_pb2.NEIGHBOR_SOURCE_UNSPECIFIED
            assert got.state.session_state != bgp_pb2.SESSION_STATE_ESTABLISHED
            assert got.state.reason_message == f"{MISSING}: link down"
            # what GetPeer shows is accepted back unchanged (nothing to restart)
            update = bgp_pb2.UpdatePeerRequest(peer=got.conf)
            assert not (await stub.UpdatePeer(update)).restarted
            await stub.DeletePeer(bgp_pb2.DeletePeerRequest(name="u"))

    arun(scenario())


def test_a_bad_interface_name_is_invalid_argument_naming_the_field(
    arun: Callable[..., Any],
) -> None:
    async def scenario() -> None:
        async with bgp_server() as (_, stub):
            conf = bgp_pb2.PeerConf(name="u", my_asn=64512, peer_asn=65000, interface="a b")
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.AddPeer(bgp_pb2.AddPeerRequest(peer=conf))
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert info.value.details() == (
                'peer.interface: parsing peer u invalid interface name "a b": 1 to 15 octets, '
                "not . or .., no /, : or white space"
            )

    arun(scenario())
