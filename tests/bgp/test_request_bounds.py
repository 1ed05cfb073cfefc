"""Issue 15: the BGP service holds a bounded number of peers and one SetAdvertisements carries a
bounded number of peers and routes. An empty Route is two bytes on the wire: without the bounds
4 MiB carried two million of them, each converted and answered."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import grpc
import pytest
from prometheus_client import CollectorRegistry

from metallb.bgp.v1 import bgp_pb2, bgp_pb2_grpc
from metallb_cli.main import build_parser
from metallb_runtime.server import Server
from metallb_runtime.transport import DEFAULT_MAX_MESSAGE_BYTES
from services.bgp.limits import DEFAULT_LIMITS, BGPLimits, from_arguments
from services.bgp.service import bgp_binding


@asynccontextmanager
async def bgp_stub(limits: BGPLimits = DEFAULT_LIMITS) -> AsyncIterator[Any]:
    registry = CollectorRegistry()
    server = Server(
        [bgp_binding(registry, None, limits)], "127.0.0.1:0", registry=registry, grace=0.5
    )
    address = await server.start()
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            yield bgp_pb2_grpc.BGPServiceStub(channel)
    finally:
        await server.stop()


def conf(name: str) -> bgp_pb2.PeerConf:
    # Port 1 on loopback: nothing listens, the peer stays in Connect/Active.
    return bgp_pb2.PeerConf(
        name=name, my_asn=64512, peer_asn=65002, peer_address="127.0.0.1", peer_port=1
    )


async def _outcome(call: Any) -> tuple[str, str]:
    try:
        await call
    except grpc.aio.AioRpcError as err:
        return err.code().name, err.details() or ""
    return "OK", ""


def test_the_default_bounds_refuse_one_more_peer_or_route_per_request(
    arun: Callable[..., Any],
) -> None:
    one_route_each = [
        bgp_pb2.PeerAdvertisements(peer=f"p{i}", routes=[bgp_pb2.Route()]) for i in range(4_097)
    ]
    too_many_routes = [
        bgp_pb2.PeerAdvertisements(peer="a", routes=[bgp_pb2.Route()] * 131_073),
        bgp_pb2.PeerAdvertisements(peer="b", routes=[bgp_pb2.Route()] * 131_072),
    ]

    async def scenario() -> list[tuple[str, str]]:
        async with bgp_stub() as stub:
            return [
                await _outcome(
                    stub.SetAdvertisements(bgp_pb2.SetAdvertisementsRequest(advertisements=ads))
                )
                for ads in (one_route_each, too_many_routes)
            ]

    assert arun(scenario()) == [
        (
            "INVALID_ARGUMENT",
            "advertisements: 4097 peers, at most 4096 per request (--max-peers)",
        ),
        (
            "INVALID_ARGUMENT",
            "advertisements: 262145 routes over all peers, at most 262144 per request "
            "(--max-routes)",
        ),
    ]


def test_the_flags_bound_the_peers_held_and_the_routes_sent(arun: Callable[..., Any]) -> None:
    limits = from_arguments(
        build_parser().parse_args(["bgp", "--max-peers", "2", "--max-routes", "3"])
    )
    three_routes = [
        bgp_pb2.Route(prefix="198.51.100.1/32"),
        bgp_pb2.Route(prefix="198.51.100.2/32"),
        bgp_pb2.Route(prefix="198.51.100.3/32"),
    ]

    async def scenario() -> list[tuple[str, str]]:
        async with bgp_stub(limits) as stub:
            out = []
            for name in ("a", "b", "c"):
                out.append(await _outcome(stub.AddPeer(bgp_pb2.AddPeerRequest(peer=conf(name)))))
            for ads in (
                [bgp_pb2.PeerAdvertisements(peer="a", routes=three_routes)],
                [
                    bgp_pb2.PeerAdvertisements(peer="a", routes=three_routes[:2]),
                    bgp_pb2.PeerAdvertisements(peer="b", routes=three_routes[2:]),
                ],
                [bgp_pb2.PeerAdvertisements(peer="a", routes=three_routes + three_routes[:1])],
            ):
                request = bgp_pb2.SetAdvertisementsRequest(advertisements=ads)
                out.append(await _outcome(stub.SetAdvertisements(request)))
            # One peer gone, one more may come.
            await stub.DeletePeer(bgp_pb2.DeletePeerRequest(name="a"))
            out.append(await _outcome(stub.AddPeer(bgp_pb2.AddPeerRequest(peer=conf("c")))))
            return out

    assert arun(scenario()) == [
        ("OK", ""),
        ("OK", ""),
        ("RESOURCE_EXHAUSTED", "peer: 2 peers exist, at most 2 (--max-peers)"),
        ("OK", ""),
        ("OK", ""),
        (
            "INVALID_ARGUMENT",
            "advertisements: 4 routes over all peers, at most 3 per request (--max-routes)",
        ),
        ("OK", ""),
    ]


@pytest.mark.parametrize("flag", ["--max-peers", "--max-routes"])
def test_a_bound_must_be_a_positive_integer(flag: str) -> None:
    dest = flag.removeprefix("--").replace("-", "_")
    assert getattr(build_parser().parse_args(["bgp", flag, "5"]), dest) == 5
    for value in ("0", "-3", "many"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["bgp", flag, value])


def test_the_default_route_bound_admits_what_the_default_message_carries() -> None:
    """docs/security.md: ~200,000 routes per SetAdvertisements at 4 MiB; bench/bgp.py sends
    100,000 /32 and 100,000 /128 in one call (a little over 4 MiB: it raises the message size,
    not the count). The default count must admit both."""
    v4 = [bgp_pb2.Route(prefix=f"198.18.{i >> 8 & 255}.{i & 255}/32") for i in range(100_000)]
    v6 = [bgp_pb2.Route(prefix=f"2001:db8::{i:x}/128") for i in range(100_000)]
    request = bgp_pb2.SetAdvertisementsRequest(
        advertisements=[
            bgp_pb2.PeerAdvertisements(peer="b4", routes=v4),
            bgp_pb2.PeerAdvertisements(peer="b6", routes=v6),
        ]
    )
    routes = sum(len(ads.routes) for ads in request.advertisements)
    per_route = request.ByteSize() / routes
    assert DEFAULT_MAX_MESSAGE_BYTES / per_route > 190_000
    assert DEFAULT_LIMITS.routes >= max(routes, DEFAULT_MAX_MESSAGE_BYTES / per_route)


def test_routes_in_groups_count_against_the_route_bound(arun: Callable[..., Any]) -> None:
    """Route groups (text and packed NLRI) carry routes too: without counting them the bound was
    bypassed, and 4 MiB of packed /0 lengths is four million prefixes."""
    limits = from_arguments(build_parser().parse_args(["bgp", "--max-routes", "3"]))
    packed_two = bytes([32, 198, 51, 100, 1, 32, 198, 51, 100, 2])  # two /32
    mixed_two = bytes([24, 198, 51, 100, 32, 198, 51, 100, 2])  # a /24 and a /32

    async def scenario() -> list[tuple[str, str]]:
        async with bgp_stub(limits) as stub:
            await stub.AddPeer(bgp_pb2.AddPeerRequest(peer=conf("a")))
            out = []
            for groups in (
                [bgp_pb2.RouteGroup(ipv4_nlri=packed_two, prefixes=["2001:db8::1/128"])],
                [bgp_pb2.RouteGroup(ipv4_nlri=packed_two), bgp_pb2.RouteGroup(ipv4_nlri=mixed_two)],
                [bgp_pb2.RouteGroup(prefixes=["198.51.100.9/32"], ipv4_nlri=mixed_two)],
                [bgp_pb2.RouteGroup(ipv4_nlri=bytes(4_000))],  # 4,000 /0
            ):
                ads = bgp_pb2.PeerAdvertisements(peer="a", groups=groups)
                request = bgp_pb2.SetAdvertisementsRequest(advertisements=[ads])
                out.append(await _outcome(stub.SetAdvertisements(request)))
            return out

    too_many = "advertisements: {} routes over all peers, at most 3 per request (--max-routes)"
    assert arun(scenario()) == [
        ("OK", ""),
        ("INVALID_ARGUMENT", too_many.format(4)),
        ("OK", ""),
        ("INVALID_ARGUMENT", too_many.format(4_000)),
    ]
