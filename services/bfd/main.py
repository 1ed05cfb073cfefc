"""`metallb-grpc bfd`: serve `metallb.bfd.v1.BFDService`."""

import argparse
from collections.abc import Sequence

from prometheus_client import CollectorRegistry

from metallb_runtime.commands import ServiceCommand
from metallb_runtime.server import ServiceBinding
from services.bfd.service import bfd_binding


def _bindings(args: argparse.Namespace, registry: CollectorRegistry) -> Sequence[ServiceBinding]:
    return [bfd_binding(registry)]


COMMAND = ServiceCommand(
    name="bfd",
    help="the BFD service (metallb.bfd.v1.BFDService): RFC 5880/5881/5883 sessions",
    default_listen="127.0.0.1:50053",
    default_metrics="127.0.0.1:9123",
    bindings=_bindings,
)
