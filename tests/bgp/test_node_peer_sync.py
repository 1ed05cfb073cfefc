"""The node role's BGP lane (gateway/node/reconciler.py) against the real BGP service in-process:
a peer the service refuses costs that peer only; the others are added and the advertisements
sent (issue 12: one such peer used to stop every BGP announcement of the node)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import grpc

from gateway.driver import Failure
from gateway.node.desired import NodeDesired
from gateway.node.reconciler import NodeReconciler, Rpc
from gateway.snapshot import Snapshot
from metallb.bgp.v1 import bgp_pb2
from metallb_rules.announce.bgp import PeerRoute
from metallb_rules.config.model import Peer

from .model_peers import peer
from .test_service import bgp_server


class GivenDesired(NodeReconciler):
    """The node reconciler with its desired peers and routes given instead of computed from a
    snapshot: the refused peer is one validation would stop, so only a test can put it there."""

    def __init__(self, peers: Sequence[Peer], routes: Iterable[PeerRoute]) -> None:
        super().__init__("node-1", lambda: Snapshot(namespace="metallb-system"), l2=False, bgp=True)
        self.given = NodeDesired(peers=list(peers), routes=list(routes))

    def _compute(self, now: float) -> None:
        self.desired = self.given


async def run_pass(reconciler: NodeReconciler, stub: Any, now: float) -> list[str]:
    """One pass, its commands executed against `stub` as NodeRole executes them; the methods
    called, in order."""
    called = []
    reconciler.handle_timer(now)
    while commands := list(reconciler.commands()):
        for command in commands:
            assert isinstance(command, Rpc)
            called.append(command.method)
            try:
                result = await getattr(stub, command.method)(command.request, timeout=10)
            except grpc.aio.AioRpcError as err:
                result = Failure(err)
            reconciler.handle_result(command.request_id, result, now)
    return called


def test_a_refused_peer_does_not_stop_the_other_peers_announcements(
    arun: Callable[..., Any],
) -> None:
    # `bad` names an interface Linux refuses (validation would stop it before a node sees
    # it). The BGP service refuses it; `good` must still get its route.
    bad, good = peer("bad", interface="eth1/x"), peer("good", address="127.0.0.1")
    routes = [PeerRoute("bad", "192.0.2.1/32"), PeerRoute("good", "192.0.2.1/32")]

    async def scenario() -> None:
        async with bgp_server() as (_, stub):
            node = GivenDesired([bad, good], routes)
            assert await run_pass(node, stub, 0.0) == [
                "ListPeers", "AddPeer", "AddPeer", "SetAdvertisements"
            ]  # fmt: skip
            held = await stub.ListPeers(bgp_pb2.ListPeersRequest())
            assert [p.conf.name for p in held.peers] == ["good"]
            listed = await stub.ListAdvertisements(bgp_pb2.ListAdvertisementsRequest())
            assert {p.peer: [r.prefix for r in p.routes] for p in listed.peers} == {
                "good": ["192.0.2.1/32"]
            }
            assert set(node.peer_errors) == {"bad"}
            assert "INVALID_ARGUMENT" in node.peer_errors["bad"]
            # The next pass tries the refused peer again and sends nothing else anew.
            assert await run_pass(node, stub, 10.0) == ["AddPeer"]
            assert set(node.peer_errors) == {"bad"}
            # Once it is gone from the desired state its error is forgotten.
            node.given = NodeDesired(peers=[good], routes=routes[1:])
            assert await run_pass(node, stub, 20.0) == ["SetAdvertisements"]  # bad's route gone
            assert node.peer_errors == {}

    arun(scenario())


def test_a_service_that_is_down_fails_the_whole_lane(arun: Callable[..., Any]) -> None:
    """UNAVAILABLE is the service's failure, not the peer's: nothing more is sent in that pass
    and what the service holds is learned again on the next."""

    class Down:
        def __getattr__(self, name: str) -> Any:
            async def call(request: Any, timeout: float) -> Any:
                raise grpc.aio.AioRpcError(
                    grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "down"
                )

            return call

    async def scenario() -> None:
        node = GivenDesired([peer("good", address="127.0.0.1")], [])
        assert await run_pass(node, Down(), 0.0) == ["ListPeers"]
        assert node.peer_errors == {}

    arun(scenario())
