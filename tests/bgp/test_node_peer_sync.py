"""The node role's BGP calls (gateway/node/rpc.py) against the real BGP service in-process: a
peer the service refuses costs that peer only; the others are added and the advertisements sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.node.rpc import BGPSync
from metallb.bgp.v1 import bgp_pb2
from metallb_rules.announce.bgp import PeerRoute

from .model_peers import peer
from .test_service import bgp_server


def test_a_refused_peer_does_not_stop_the_other_peers_announcements(
    arun: Callable[..., Any],
) -> None:
    # `bad` is what an interface BGPPeer looked like on a node before validation refused it:
    # no address. The BGP service refuses it; `good` must still get its route.
    bad, good = peer("bad", interface="eth1"), peer("good", address="127.0.0.1")
    routes = [PeerRoute("bad", "192.0.2.1/32"), PeerRoute("good", "192.0.2.1/32")]

    async def scenario() -> None:
        async with bgp_server() as (_, stub):
            sync = BGPSync()
            await sync.sync(stub, [bad, good], {}, routes)
            held = await stub.ListPeers(bgp_pb2.ListPeersRequest())
            assert [p.conf.name for p in held.peers] == ["good"]
            listed = await stub.ListAdvertisements(bgp_pb2.ListAdvertisementsRequest())
            assert {p.peer: [r.prefix for r in p.routes] for p in listed.peers} == {
                "good": ["192.0.2.1/32"]
            }
            assert set(sync.peer_errors) == {"bad"}
            assert "INVALID_ARGUMENT" in sync.peer_errors["bad"]
            # The next pass tries the refused peer again and sends nothing else anew.
            await sync.sync(stub, [bad, good], {}, routes)
            assert set(sync.peer_errors) == {"bad"}
            # Once it is gone from the desired state its error is forgotten.
            await sync.sync(stub, [good], {}, routes[1:])
            assert sync.peer_errors == {}

    arun(scenario())


def test_nothing_to_do_sends_nothing(arun: Callable[..., Any]) -> None:
    calls: list[str] = []

    class Stub:
        def __getattr__(self, name: str) -> Any:
            async def call(request: Any) -> Any:
                calls.append(name)
                if name == "ListPeers":
                    return bgp_pb2.ListPeersResponse()
                return None

            return call

    async def scenario() -> None:
        sync = BGPSync()
        await sync.sync(Stub(), [], {}, [])
        assert calls == ["ListPeers", "SetAdvertisements"]  # learns, then converges once
        await sync.sync(Stub(), [], {}, [])
        assert calls == ["ListPeers", "SetAdvertisements"]

    arun(scenario())
