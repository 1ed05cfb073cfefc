"""`metallb-grpc bfd`: serve `metallb.bfd.v1.BFDService`."""

import argparse
from collections.abc import Sequence

from prometheus_client import CollectorRegistry

from metallb_runtime.commands import ServiceCommand
from metallb_runtime.server import ServiceBinding
from services.bfd.service import MAX_SESSIONS, bfd_binding


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) == 0:
        raise argparse.ArgumentTypeError(f"{value!r}: expected a positive integer")
    return int(value)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-sessions",
        type=_positive,
        default=MAX_SESSIONS,
        help="sessions this service runs at most; AddSession beyond answers "
        "RESOURCE_EXHAUSTED (default %(default)s)",
    )


def _bindings(args: argparse.Namespace, registry: CollectorRegistry) -> Sequence[ServiceBinding]:
    return [bfd_binding(registry, max_sessions=args.max_sessions)]


COMMAND = ServiceCommand(
    name="bfd",
    help="the BFD service (metallb.bfd.v1.BFDService): RFC 5880/5881/5883 sessions",
    default_listen="127.0.0.1:50053",
    default_metrics="127.0.0.1:9123",
    bindings=_bindings,
    add_arguments=_add_arguments,
)
