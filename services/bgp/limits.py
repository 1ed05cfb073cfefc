"""How many peers the BGP service holds and routes one request may carry (issue 15).

MetalLB peers a speaker with a handful of routers; 4,096 peers is what the BFD service runs
sessions for (`metallb-grpc bfd --max-sessions`), one per peer. A `SetAdvertisements` carries
every peer's whole set: ~20 bytes per route, so the default 4 MiB message holds ~200,000 routes
(docs/security.md; bench/bgp.py sends 100,000 /32 and 100,000 /128 in one call). The default
route bound admits that; raising `--max-message-bytes` beyond ~5 MiB for a larger set means
raising `--max-routes` too.
"""

import argparse
from dataclasses import dataclass

from metallb.bgp.v1 import bgp_pb2
from metallb_rules.errors import ResourceExhaustedError
from metallb_runtime.limits import positive_int, require_at_most
from services.bgp.codec.prefixes import count_nlri

MAX_PEERS = 4_096
MAX_ROUTES = 262_144


@dataclass(frozen=True)
class BGPLimits:
    peers: int = MAX_PEERS  # held at once; also peers per SetAdvertisements
    routes: int = MAX_ROUTES  # per SetAdvertisements, over all its peers

    def check_new_peer(self, held: int) -> None:
        """AddPeer with `held` peers already there: refused at the bound (RESOURCE_EXHAUSTED)."""
        if held >= self.peers:
            raise ResourceExhaustedError(
                f"{held} peers exist, at most {self.peers} (--max-peers)", "peer"
            )

    def check_advertisements(self, peers: int, routes: int) -> None:
        require_at_most(peers, self.peers, "advertisements", "peers", "--max-peers")
        require_at_most(
            routes, self.routes, "advertisements", "routes over all peers", "--max-routes"
        )


DEFAULT_LIMITS = BGPLimits()


def routes_in(request: bgp_pb2.SetAdvertisementsRequest, at_most: int) -> int:
    """The routes a SetAdvertisements carries: its `routes` and every group's prefixes, text and
    packed (counted no further than needed to know the bound `at_most` is passed)."""
    total = 0
    for ads in request.advertisements:
        total += len(ads.routes)
        for group in ads.groups:
            total += len(group.prefixes)
            total += count_nlri(group.ipv4_nlri, at_most - total)
            total += count_nlri(group.ipv6_nlri, at_most - total)
            if total > at_most:
                return total
    return total


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-peers",
        type=positive_int,
        default=MAX_PEERS,
        metavar="N",
        help="peers this service holds at most (AddPeer beyond answers RESOURCE_EXHAUSTED) and "
        "peers one SetAdvertisements may name (default %(default)s)",
    )
    parser.add_argument(
        "--max-routes",
        type=positive_int,
        default=MAX_ROUTES,
        metavar="N",
        help="routes one SetAdvertisements may carry over all its peers; more answer "
        "INVALID_ARGUMENT (default %(default)s)",
    )


def from_arguments(args: argparse.Namespace) -> BGPLimits:
    return BGPLimits(peers=args.max_peers, routes=args.max_routes)
