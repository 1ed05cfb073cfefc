"""SetAdvertisements requests for tests, communities written in MetalLB's syntax: parsed by
metallb_rules.communities and converted by the node role's own code (gateway/node/rpc.py)."""

from collections.abc import Iterable, Sequence

from gateway.node.rpc import route
from metallb.bgp.v1 import bgp_pb2
from metallb_rules.announce.bgp import PeerRoute
from metallb_rules.communities import parse_community


def routes(
    prefixes: Iterable[str], communities: Sequence[str] = (), local_pref: int | None = None
) -> list[bgp_pb2.Route]:
    parsed = tuple(sorted(parse_community(c) for c in communities))
    return [route(PeerRoute("", p, parsed, local_pref)) for p in prefixes]


def request(
    peers: Iterable[str], prefixes: Iterable[str], **kw: object
) -> bgp_pb2.SetAdvertisementsRequest:
    """Every peer in `peers` to hold the same routes."""
    held = routes(prefixes, **kw)  # type: ignore[arg-type]
    return bgp_pb2.SetAdvertisementsRequest(
        advertisements=[bgp_pb2.PeerAdvertisements(peer=p, routes=held) for p in peers]
    )
