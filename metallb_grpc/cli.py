"""The `metallb-grpc` command: one subcommand per server."""

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from prometheus_client import CollectorRegistry

from metallb_grpc.runtime import tune_gc
from metallb_grpc.server import Server, parse_host_port, parse_listen, run_until_signalled
from services.ipam.service import ipam_binding

# Default gRPC ports: ipam 50051, bgp 50052, bfd 50053, l2 50054. Metrics: 9120 + the same offset.
DEFAULT_LISTEN = {"ipam": "127.0.0.1:50051"}
DEFAULT_METRICS = {"ipam": "127.0.0.1:9121"}

LOG_LEVELS = ("debug", "info", "warning", "error")


def _listen(value: str) -> str:
    try:
        parse_listen(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return value


def _metrics(value: str) -> str:
    if value:
        try:
            parse_host_port(value)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return value


def _add_server_options(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument(
        "--listen",
        type=_listen,
        default=DEFAULT_LISTEN[name],
        help="gRPC address: HOST:PORT or unix:/path (default %(default)s)",
    )
    parser.add_argument(
        "--metrics-listen",
        type=_metrics,
        default=DEFAULT_METRICS[name],
        help="Prometheus metrics HOST:PORT; empty disables (default %(default)s)",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=5.0,
        help="seconds to drain calls on SIGTERM (default %(default)s)",
    )
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metallb-grpc",
        description="MetalLB's load balancer for bare-metal Kubernetes, as gRPC services.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ipam = sub.add_parser(
        "ipam",
        help="the IPAM service (metallb.ipam.v1.IPAMService): MetalLB's address allocator",
        description="Serve metallb.ipam.v1.IPAMService.",
    )
    _add_server_options(ipam, "ipam")
    return parser


async def _serve_ipam(args: argparse.Namespace) -> None:
    registry = CollectorRegistry()
    server = Server([ipam_binding(registry)], args.listen, registry=registry, grace=args.grace)
    await run_until_signalled(server, args.metrics_listen)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    tune_gc()
    try:
        if args.command == "ipam":
            asyncio.run(_serve_ipam(args))
    except OSError as err:
        print(f"metallb-grpc {args.command}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
