"""Client channels between our own processes: reconnect fast after a peer service restarts.

gRPC's default reconnect backoff starts at 1 s and grows to 120 s; between services on one node a
restart takes well under a second, so we retry from 100 ms up to 500 ms.
"""

import grpc

from metallb_runtime.server import MESSAGE_SIZE_OPTIONS
from metallb_runtime.transport import ClientTLS, channel

RECONNECT_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
    *MESSAGE_SIZE_OPTIONS,
)


def service_channel(address: str, tls: ClientTLS | None = None) -> grpc.aio.Channel:
    """A channel to a metallb-grpc service (`host:port` or `unix:/path`): plaintext, or TLS /
    mutual TLS as `tls` says."""
    tls = tls or ClientTLS()
    return channel(address, RECONNECT_OPTIONS, ca=tls.ca, cert=tls.cert, key=tls.key)
