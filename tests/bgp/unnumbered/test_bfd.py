"""BFD for an unnumbered peer (services/bgp/bfd_client.py): single hop to the learned link-local
address, bound to the peer's interface, which the BFD service needs for a link-local peer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from ipaddress import IPv6Address
from typing import Any

from metallb.bfd.v1 import bfd_pb2
from metallb.bgp.v1 import bgp_pb2
from services.bgp.bfd_client import GrpcBfdClient
from services.bgp.convert import peer_conf_from_proto
from services.bgp.speaker import Speaker
from services.bgp.unnumbered.tracker import LinkEvent, Neighbour, Source, View


def test_the_session_is_single_hop_on_the_interface() -> None:
    client = GrpcBfdClient("unix:/nonexistent")  # nothing is dialled to build a SessionConf
    client.remember(
        bgp_pb2.PeerConf(
            name="u", my_asn=64512, peer_asn=65000, interface="eth1", bfd_profile="fast"
        )
    )
    conf = client.session_conf("u", IPv6Address("fe80::a"), IPv6Address("fe80::1"), "fast")
    assert (conf.peer_address, conf.local_address) == ("fe80::a", "fe80::1")
    assert (conf.interface, conf.hop_mode) == ("eth1", bfd_pb2.HOP_MODE_SINGLE_HOP)
    assert conf.profile.name == "fast"


def test_a_new_neighbour_drops_the_old_bfd_session(arun: Callable[..., Any]) -> None:
    """The BFD session went to the old neighbour's address: a neighbour change unregisters it,
    so the next Established session registers one for the new address."""

    class Recorder:
        def __init__(self) -> None:
            self.calls: list[str] = []

        async def register(self, peer: str, *args: Any, **kw: Any) -> None:
            self.calls.append(f"register {args[0]}")

        async def unregister(self, peer: str) -> None:
            self.calls.append(f"unregister {peer}")

        async def close(self) -> None:
            pass

    async def scenario() -> None:
        bfd = Recorder()
        speaker = Speaker(bfd=bfd)
        cfg = peer_conf_from_proto(
            bgp_pb2.PeerConf(
                name="u", my_asn=64512, peer_asn=65000, interface="mlbnolink0", bfd_profile="f"
            )
        )
        await speaker.add_peer(cfg)
        driver = speaker.drivers["u"]
        driver.bfd_registered = True  # as after an Established session to fe80::a
        a = Neighbour(IPv6Address("fe80::a"), Source.ROUTER_ADVERTISEMENT, 0.0)
        up = View(True, 9, IPv6Address("fe80::1"), (), a)
        driver.follow(up, LinkEvent.NEIGHBOR_CHANGED)
        assert driver.peer.reason.value == "connecting"  # restarted at once, towards fe80::a
        await asyncio.sleep(0)  # let the spawned unregister run
        assert bfd.calls == ["unregister u"]
        assert not driver.bfd_registered and driver.neighbour == a.address
        await speaker.close()

    arun(scenario())
