"""`metallb-grpc ipam`: serve `metallb.ipam.v1.IPAMService`."""

import argparse
from collections.abc import Sequence

from prometheus_client import CollectorRegistry

from metallb_runtime.commands import ServiceCommand
from metallb_runtime.server import ServiceBinding
from services.ipam import limits
from services.ipam.service import ipam_binding


def _bindings(args: argparse.Namespace, registry: CollectorRegistry) -> Sequence[ServiceBinding]:
    return [ipam_binding(registry, limits.from_arguments(args))]


COMMAND = ServiceCommand(
    name="ipam",
    help="the IPAM service (metallb.ipam.v1.IPAMService): MetalLB's address allocator",
    default_listen="127.0.0.1:50051",
    default_metrics="127.0.0.1:9121",
    bindings=_bindings,
    add_arguments=limits.add_arguments,
)
