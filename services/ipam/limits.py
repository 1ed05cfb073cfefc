"""How many items one IPAM request may carry (issue 15: bounded counts per request).

The defaults admit the scale the docs promise (docs/security.md): a `ConvergeServices` complete
set is ~127 bytes per Service, so the default 4 MiB message carries ~33,000 Services and the
message size binds before the count does; Kubernetes itself is tested to 10,000 Services per
cluster. Raising `--max-message-bytes` beyond ~8 MiB for a larger complete set means raising
`--max-services` too. Pools: 10,000 validate in ~0.2 s (tests/ipam/test_many_pools.py).
"""

import argparse
from dataclasses import dataclass

from metallb_runtime.limits import positive_int, require_at_most

MAX_POOLS = 16_384
MAX_SERVICES = 65_536
# AllocateBatch and RestoreAllocations answer each item with an allocation or a status of up to
# ~250 bytes: 16,384 keeps the response within the default 4 MiB (bench/limits.py found 65,536
# failing items answered RESOURCE_EXHAUSTED: the response was over the message size).
MAX_BATCH = 16_384


@dataclass(frozen=True)
class IPAMLimits:
    pools: int = MAX_POOLS  # per SetPools
    services: int = MAX_SERVICES  # per ConvergeServices: services, deleted, namespace_labels
    batch: int = MAX_BATCH  # per AllocateBatch and RestoreAllocations

    def check_pools(self, count: int) -> None:
        require_at_most(count, self.pools, "pools", "pools", "--max-pools")

    def check_services(self, count: int, field: str, what: str = "services") -> None:
        require_at_most(count, self.services, field, what, "--max-services")

    def check_batch(self, count: int, field: str) -> None:
        require_at_most(count, self.batch, field, field, "--max-batch")


DEFAULT_LIMITS = IPAMLimits()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-pools",
        type=positive_int,
        default=MAX_POOLS,
        metavar="N",
        help="pools one SetPools may carry; more answer INVALID_ARGUMENT (default %(default)s)",
    )
    parser.add_argument(
        "--max-services",
        type=positive_int,
        default=MAX_SERVICES,
        metavar="N",
        help="Services (and deleted keys, and namespaces) one ConvergeServices may carry; more "
        "answer INVALID_ARGUMENT (default %(default)s)",
    )
    parser.add_argument(
        "--max-batch",
        type=positive_int,
        default=MAX_BATCH,
        metavar="N",
        help="requests one AllocateBatch, restorations one RestoreAllocations may carry; more "
        "answer INVALID_ARGUMENT (default %(default)s)",
    )


def from_arguments(args: argparse.Namespace) -> IPAMLimits:
    return IPAMLimits(pools=args.max_pools, services=args.max_services, batch=args.max_batch)
