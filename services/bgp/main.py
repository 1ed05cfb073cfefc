"""`metallb-grpc bgp`: serve `metallb.bgp.v1.BGPService`, a BGP-4 speaker."""

import argparse
from collections.abc import Sequence

from prometheus_client import CollectorRegistry

from metallb_runtime.commands import ServiceCommand
from metallb_runtime.server import ServiceBinding
from metallb_runtime.transport import add_client_tls_arguments, client_tls_from_arguments
from services.bgp import limits
from services.bgp.bfd_client import GrpcBfdClient
from services.bgp.service import bgp_binding


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bfd",
        default="",
        metavar="ADDRESS",
        help="the BFD service (HOST:PORT or unix:/path) for peers with a bfdProfile; without it "
        "such peers report that BFD is not wired",
    )
    add_client_tls_arguments(parser, "bfd-", "the BFD service (--bfd)")
    limits.add_arguments(parser)


def _bindings(args: argparse.Namespace, registry: CollectorRegistry) -> Sequence[ServiceBinding]:
    tls = client_tls_from_arguments(args, "bfd-")
    if not args.bfd and (tls.ca or tls.cert):
        raise SystemExit("metallb-grpc bgp: --bfd-tls-* without --bfd")
    bfd = GrpcBfdClient(args.bfd, tls) if args.bfd else None
    return [bgp_binding(registry, bfd, limits.from_arguments(args))]


COMMAND = ServiceCommand(
    name="bgp",
    help="the BGP service (metallb.bgp.v1.BGPService): a BGP-4 speaker advertising service IPs",
    default_listen="127.0.0.1:50052",
    default_metrics="127.0.0.1:9122",
    bindings=_bindings,
    add_arguments=_add_arguments,
)
