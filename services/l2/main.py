"""`metallb-grpc l2`: serve `metallb.l2.v1.L2Service` (needs CAP_NET_RAW)."""

import argparse
from collections.abc import Sequence

from prometheus_client import CollectorRegistry

from metallb_runtime.commands import ServiceCommand
from metallb_runtime.server import ServiceBinding
from services.l2.core.interfaces import DEFAULT_EXCLUDES
from services.l2.engine import DEFAULT_PRIORITY, HOT_PATHS
from services.l2.service import l2_binding


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--exclude-interface",
        action="append",
        metavar="REGEX",
        dest="exclude_interfaces",
        help="never answer on interfaces whose name matches REGEX (repeatable; replaces "
        "MetalLB's default list: " + " ".join(DEFAULT_EXCLUDES) + "); '' excludes nothing",
    )
    parser.add_argument(
        "--hot-path",
        choices=HOT_PATHS,
        default=HOT_PATHS[0],
        help="where received ARP/NDP frames are answered: a thread per link or the asyncio "
        "loop (default %(default)s; docs/l2.md has the measurements)",
    )
    parser.add_argument(
        "--hot-path-priority",
        type=_priority,
        default=DEFAULT_PRIORITY,
        metavar="N",
        help="SCHED_FIFO priority (1-99) of the link threads while a link's ARP/NDP load is "
        "light, so replies do not wait for a free CPU; needs CAP_SYS_NICE, else they stay "
        "normal threads; 0 disables (default %(default)s)",
    )


def _priority(value: str) -> int:
    priority = int(value)
    if not 0 <= priority <= 99:
        raise argparse.ArgumentTypeError(f"{value}: expected 0 (off) or 1-99")
    return priority


def _bindings(args: argparse.Namespace, registry: CollectorRegistry) -> Sequence[ServiceBinding]:
    given = args.exclude_interfaces
    excludes = DEFAULT_EXCLUDES if given is None else tuple(p for p in given if p)
    return [l2_binding(registry, excludes, args.hot_path, args.hot_path_priority)]


COMMAND = ServiceCommand(
    name="l2",
    help="the L2 service (metallb.l2.v1.L2Service): ARP/NDP answers and gratuitous "
    "announcements for load-balancer addresses; needs CAP_NET_RAW",
    default_listen="127.0.0.1:50054",
    default_metrics="127.0.0.1:9124",
    bindings=_bindings,
    add_arguments=_add_arguments,
)
