"""The `metallb-grpc` command: one subcommand per server.

Default gRPC ports: ipam 50051, bgp 50052, bfd 50053, l2 50054; metrics on 9120 + the same
offset. Each service describes its subcommand in `services/<name>/main.py` (a `ServiceCommand`).
"""

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from prometheus_client import CollectorRegistry

from metallb_grpc.commands import ServiceCommand
from metallb_grpc.runtime import tune_gc
from metallb_grpc.server import Server, parse_host_port, parse_listen, run_until_signalled
from services.ipam.main import COMMAND as IPAM

COMMANDS: dict[str, ServiceCommand] = {c.name: c for c in (IPAM,)}

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metallb-grpc",
        description="MetalLB's load balancer for bare-metal Kubernetes, as gRPC services.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS.values():
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        p.add_argument(
            "--listen",
            type=_listen,
            default=command.default_listen,
            help="gRPC address: HOST:PORT or unix:/path (default %(default)s)",
        )
        p.add_argument(
            "--metrics-listen",
            type=_metrics,
            default=command.default_metrics,
            help="Prometheus metrics HOST:PORT; empty disables (default %(default)s)",
        )
        p.add_argument(
            "--grace",
            type=float,
            default=5.0,
            help="seconds to drain calls on SIGTERM (default %(default)s)",
        )
        p.add_argument("--log-level", choices=LOG_LEVELS, default="info")
        if command.add_arguments is not None:
            command.add_arguments(p)
    return parser


async def _serve(command: ServiceCommand, args: argparse.Namespace) -> None:
    registry = CollectorRegistry()
    bindings = command.bindings(args, registry)
    server = Server(bindings, args.listen, registry=registry, grace=args.grace)
    await run_until_signalled(server, args.metrics_listen)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    tune_gc()
    try:
        asyncio.run(_serve(COMMANDS[args.command], args))
    except OSError as err:
        print(f"metallb-grpc {args.command}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
