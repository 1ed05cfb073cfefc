"""The speaker's route set (services/bgp/speaker.py): each peer holds its routes in the families
its session carries (its own, or both with dualStackAddressFamily), decided from the families
present in the set once per `set_routes`, not per route when a peer is added; routes keyed by
anything but the core's `Prefix` are refused."""

from __future__ import annotations

import socket
from collections.abc import Callable
from ipaddress import ip_network
from typing import Any

import pytest

from services.bgp.codec.prefixes import Prefix, parse_prefix
from services.bgp.fsm import RouteAttrs
from services.bgp.speaker import Speaker

from .fsm_harness import config

V4, V6 = parse_prefix("198.51.100.7/32"), parse_prefix("2001:db8::7/128")
ATTRS = RouteAttrs((1,))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_each_peer_holds_the_families_its_session_carries(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        speaker = Speaker()
        port = free_port()  # TEST-NET peers: their connections never complete
        routes: dict[Prefix, RouteAttrs] = {V4: ATTRS, V6: ATTRS}
        try:
            speaker.set_routes({"v4": routes, "dual": routes, "v6only": {V6: ATTRS}})
            await speaker.add_peer(config(name="v4", peer_address="192.0.2.1", peer_port=port))
            await speaker.add_peer(
                config(name="dual", peer_address="192.0.2.2", peer_port=port, dual_stack=True)
            )
            await speaker.add_peer(config(name="v6only", peer_address="192.0.2.3", peer_port=port))
            held = {name: speaker.drivers[name].peer.rib.desired for name in speaker.drivers}
            assert held == {"v4": {V4: ATTRS}, "dual": routes, "v6only": {}}
            assert speaker.drivers["v4"].peer.pending() == 1
            # a new set for peers already added follows the same rule
            changes = speaker.set_routes({"v4": {V6: ATTRS}, "dual": {V6: ATTRS}})
            assert changes == [("dual", 0, 1), ("v4", 0, 1), ("v6only", 0, 0)]
            assert speaker.drivers["v4"].peer.rib.desired == {}
            assert speaker.drivers["dual"].peer.rib.desired == {V6: ATTRS}
        finally:
            await speaker.close()

    arun(scenario())


def test_routes_keyed_by_something_else_are_refused() -> None:
    speaker = Speaker()
    with pytest.raises(TypeError, match="routes of p1 are keyed by IPv4Network, not Prefix"):
        speaker.set_routes({"p1": {ip_network("192.0.2.0/24"): ATTRS}})  # type: ignore[dict-item]
    assert speaker.routes == {} and not speaker.routes_set
