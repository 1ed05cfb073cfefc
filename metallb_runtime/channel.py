"""Client channels between our own processes: reconnect fast after a peer service restarts.

gRPC's default reconnect backoff starts at 1 s and grows to 120 s; between services on one node a
restart takes well under a second, so we retry from 100 ms up to 500 ms.
"""

import grpc

from metallb_runtime.server import MESSAGE_SIZE_OPTIONS

RECONNECT_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
    *MESSAGE_SIZE_OPTIONS,
)


def service_channel(address: str) -> grpc.aio.Channel:
    """An insecure channel to a metallb-grpc service (`host:port` or `unix:/path`)."""
    return grpc.aio.insecure_channel(address, options=RECONNECT_OPTIONS)
