"""Bounds on what clients may hold open or send: streams per server and client, counts per request.

A `Watch*` stream (and health's Watch, reflection's stream) lives as long as its client wants,
and each costs the server a task and a cursor on its change log. Without a bound a client could
open streams until the process runs out of memory. `StreamLimitInterceptor` counts the streams a
server has open, in total and per client, and refuses one more with RESOURCE_EXHAUSTED before its
handler runs. A client is identified by its TLS certificate's subject when it presented one,
else by its IP address; clients over a unix socket are not told apart (the socket's mode already
says who may connect), so only the server's total bounds them. Unary calls are admitted a few
at a time, their request unread until then (`metallb_runtime/admission.py`).

A request's size is bounded by `--max-message-bytes`, but not what it costs once parsed: an empty
list item takes two bytes on the wire, and 4 MiB of them are two million Python objects, each
answered with a status. `require_at_most` bounds the items of one request field; services name
the flag that raises each bound, so an operator at that scale knows what to change.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from metallb_rules.errors import InvalidArgumentError
from metallb_runtime.handlers import (
    STREAMING,
    WrappingInterceptor,
    kind_of,
    stream_items,
    with_behavior,
)

DEFAULT_MAX_STREAMS = 256  # per server: a node's gateway needs one Watch per service
DEFAULT_MAX_STREAMS_PER_CLIENT = 32
DEFAULT_MAX_CONCURRENT_RPCS = 1024  # unary and streaming calls in progress, per listener


def require_at_most(count: int, bound: int, field: str, what: str, flag: str) -> None:
    """Refuse a request whose `field` holds more than `bound` items (INVALID_ARGUMENT)."""
    if count > bound:
        raise InvalidArgumentError(f"{count} {what}, at most {bound} per request ({flag})", field)


#: The longest Kubernetes object name (a DNS-1123 subdomain); namespaces and Service names are
#: shorter still (63). Checked before a name is used, so that a 4 MiB "name" is refused before it
#: is copied into lookups and error texts (bench/limits.py: 16 such GetPool at once took IPAM
#: from 90 MB to 355 MB).
MAX_NAME_LENGTH = 253


def require_name_length(text: str, field: str) -> None:
    """Refuse a name longer than any Kubernetes name (INVALID_ARGUMENT, the value not quoted)."""
    if len(text) > MAX_NAME_LENGTH:
        raise InvalidArgumentError(
            f"{len(text)} characters, at most {MAX_NAME_LENGTH} (a Kubernetes name)", field
        )


def positive_int(value: str) -> int:
    """An argparse type: a positive decimal integer (a bound of 0 would refuse everything)."""
    if not value.isdigit() or int(value) == 0:
        raise argparse.ArgumentTypeError(f"{value!r}: expected a positive integer")
    return int(value)


def client_identity(context: grpc.aio.ServicerContext) -> str | None:
    """Who is calling, as far as the transport says: a TLS subject, an IP address, or None."""
    auth = context.auth_context()
    for key in ("x509_subject", "x509_common_name"):
        values = auth.get(key)
        if values:
            return f"tls:{values[0].decode(errors='replace')}"
    peer = context.peer() or ""
    kind, _, address = peer.partition(":")
    if kind == "ipv4":
        return f"ip:{address.rpartition(':')[0]}"
    if kind == "ipv6":
        host = address.rpartition(":")[0]
        return f"ip:{host.strip('[]')}"
    return None


@dataclass
class StreamLimits:
    """Open streams of one server (shared by its listeners), in total and per client."""

    max_streams: int = DEFAULT_MAX_STREAMS
    max_per_client: int = DEFAULT_MAX_STREAMS_PER_CLIENT
    total: int = 0
    by_client: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_streams <= 0 or self.max_per_client <= 0:
            raise ValueError("--max-streams and --max-streams-per-client must be positive")

    def acquire(self, client: str | None) -> str | None:
        """Count one more stream; return why not when a bound is reached."""
        if self.total >= self.max_streams:
            return f"this server has {self.total} streams open, its limit (--max-streams)"
        if client is not None and self.by_client.get(client, 0) >= self.max_per_client:
            return (
                f"this client has {self.by_client[client]} streams open, its limit "
                "(--max-streams-per-client)"
            )
        self.total += 1
        if client is not None:
            self.by_client[client] = self.by_client.get(client, 0) + 1
        return None

    def release(self, client: str | None) -> None:
        self.total -= 1
        if client is not None:
            left = self.by_client[client] - 1
            if left:
                self.by_client[client] = left
            else:
                del self.by_client[client]


def _limited_stream(
    inner: Callable[..., Any], limits: StreamLimits
) -> Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]:
    async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        client = client_identity(context)
        refused = limits.acquire(client)
        if refused is not None:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, refused)
        try:
            async for item in stream_items(inner(request, context)):
                yield item
        finally:
            limits.release(client)

    return stream


class StreamLimitInterceptor(WrappingInterceptor):
    """Refuses a stream over the server's or the client's bound (RESOURCE_EXHAUSTED)."""

    def __init__(self, limits: StreamLimits) -> None:
        super().__init__()
        self.limits = limits

    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        kind = kind_of(handler)
        if kind not in STREAMING:
            return handler
        return with_behavior(handler, _limited_stream(getattr(handler, kind), self.limits))
