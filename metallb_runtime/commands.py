"""How a service plugs into the `metallb-grpc` command: one `ServiceCommand` per server."""

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from metallb_runtime.server import ServiceBinding


@dataclass(frozen=True)
class ServiceCommand:
    """A `metallb-grpc NAME` subcommand that serves one or more gRPC services."""

    name: str
    help: str
    default_listen: str
    default_metrics: str
    # Builds the services to host from the parsed arguments and the process's metrics registry.
    bindings: Callable[[argparse.Namespace, CollectorRegistry], Sequence[ServiceBinding]]
    # Adds the subcommand's own options (beyond --listen, --metrics-listen, --grace, --log-level).
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
