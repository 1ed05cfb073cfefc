"""The one server skeleton every service starts through.

A `grpc.aio` server with: `grpc.health.v1` (overall and per service name), server reflection
(names taken from the generated descriptors), the observing interceptor (error mapping, logs,
call counts), Prometheus metrics on their own HTTP port, `--listen` as `host:port` or
`unix:/path`, and on SIGTERM or SIGINT: health NOT_SERVING, then a graceful stop.
"""

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from prometheus_client import CollectorRegistry, start_http_server

from metallb_runtime.admission import Admission, AdmissionInterceptor
from metallb_runtime.interceptors import ObservingInterceptor
from metallb_runtime.limits import DEFAULT_MAX_CONCURRENT_RPCS, StreamLimitInterceptor, StreamLimits
from metallb_runtime.read_only import ReadOnlyInterceptor
from metallb_runtime.signals import register_stop
from metallb_runtime.transport import (
    ServerTransport,
    bind,
    message_size_options,
    server_credentials,
    server_options,
)

log = logging.getLogger(__name__)

# Clients between our own processes carry whole declarative sets (SetAdvertisements with
# 200,000 routes is ~10 MB): they accept what a server was allowed to raise its limit to. A
# server's own limit is its `ServerTransport.max_message_bytes` (4 MiB unless raised).
MAX_MESSAGE_BYTES = 256 << 20
MESSAGE_SIZE_OPTIONS = message_size_options(MAX_MESSAGE_BYTES)


@dataclass
class ServiceBinding:
    """One gRPC service to host: its full name and how to add its servicer to a server."""

    full_name: str
    register: Callable[[grpc.aio.Server], None]
    # Started before the server accepts calls, stopped after it has stopped.
    start: Callable[[], Awaitable[None]] | None = None
    stop: Callable[[], Awaitable[None]] | None = None
    # Called when stopping begins: ends the service's long-lived streams (Watch*), which would
    # otherwise hold the graceful stop for its whole grace period.
    drain: Callable[[], None] | None = None
    # Methods admitted one call at a time (full names, `/package.Service/Method`): the calls
    # that replace the service's whole state (metallb_runtime/admission.py).
    serial: frozenset[str] = frozenset()


class _Streams(Protocol):
    def close_all(self) -> None: ...


class ServiceState(Protocol):
    """What each service's state gives the server: a start, a stop and its watch streams."""

    @property
    def watchers(self) -> _Streams: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def state_binding(
    full_name: str,
    register: Callable[[grpc.aio.Server], None],
    state: ServiceState,
    serial: Iterable[str] = (),
) -> ServiceBinding:
    """The binding of a service whose state starts, stops and drains its watch streams;
    `serial` names methods (without the service) admitted one call at a time."""
    return ServiceBinding(
        full_name,
        register,
        start=state.start,
        stop=state.stop,
        drain=state.watchers.close_all,
        serial=frozenset(f"/{full_name}/{method}" for method in serial),
    )


def parse_listen(listen: str) -> str:
    """Validate `host:port`, `[v6]:port` or `unix:/path`; return the address grpc expects."""
    if listen.startswith("unix:"):
        path = listen.removeprefix("unix:").removeprefix("//")
        if not path:
            raise ValueError(f"--listen {listen!r}: empty unix socket path")
        return f"unix:{path}"
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"--listen {listen!r}: expected HOST:PORT or unix:/path")
    return listen


def parse_host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{value!r}: expected HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


@dataclass
class Server:
    """A started gRPC server hosting some services; `address` is where it really listens."""

    bindings: Sequence[ServiceBinding]
    listen: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    grace: float = 5.0
    server: grpc.aio.Server | None = None
    health_servicer: HealthServicer | None = None
    address: str = ""
    transport: ServerTransport = field(default_factory=ServerTransport)
    # A second listener serving only Get/List/Watch, health and reflection (empty: none).
    read_only_listen: str = ""
    read_only_server: grpc.aio.Server | None = None
    read_only_address: str = ""
    # Open streams, counted over both listeners (metallb_runtime/limits.py).
    streams: StreamLimits | None = None
    # Calls reading or running their request, counted over both listeners
    # (metallb_runtime/admission.py).
    admission: Admission | None = None

    async def start(self) -> str:
        self.streams = StreamLimits(
            self.transport.max_streams, self.transport.max_streams_per_client
        )
        self.admission = Admission(
            self.transport.max_calls,
            self.transport.call_wait,
            serial=[method for binding in self.bindings for method in binding.serial],
        )
        for binding in self.bindings:
            if binding.start is not None:
                await binding.start()
        servicer = HealthServicer()
        server, self.address = await self._serve(self.listen, servicer, read_only=False)
        self.server, self.health_servicer = server, servicer
        if self.read_only_listen:
            self.read_only_server, self.read_only_address = await self._serve(
                self.read_only_listen, servicer, read_only=True
            )
        names = [b.full_name for b in self.bindings]
        for name in ["", *names]:
            await servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        return self.address

    async def _serve(
        self, listen: str, servicer: HealthServicer, *, read_only: bool
    ) -> tuple[grpc.aio.Server, str]:
        assert self.streams is not None and self.admission is not None
        interceptors: list[grpc.aio.ServerInterceptor] = [
            AdmissionInterceptor(self.admission),
            ObservingInterceptor(self.registry),
            StreamLimitInterceptor(self.streams),
        ]
        if read_only:
            interceptors.insert(0, ReadOnlyInterceptor())
        server = grpc.aio.server(
            interceptors=interceptors,
            options=server_options(self.transport.max_message_bytes),
            maximum_concurrent_rpcs=DEFAULT_MAX_CONCURRENT_RPCS,
        )
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        names = [b.full_name for b in self.bindings]
        for binding in self.bindings:
            binding.register(server)
        reflection.enable_server_reflection(
            [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
        )
        credentials = server_credentials(self.transport)

        def add_port(address: str) -> int:
            if credentials is None:
                return int(server.add_insecure_port(address))
            return int(server.add_secure_port(address, credentials))

        address, after_start = bind(add_port, parse_listen(listen), self.transport)
        await server.start()
        after_start()
        log.info(
            "serving %s on %s (%s%s)",
            ", ".join([*names, health.SERVICE_NAME]),
            address,
            "mutual TLS" if self.transport.client_ca else "TLS" if credentials else "plaintext",
            ", read-only" if read_only else "",
        )
        return server, address

    async def stop(self) -> None:
        if self.server is None:
            return
        if self.health_servicer is not None:
            await self.health_servicer.enter_graceful_shutdown()
        for binding in self.bindings:
            if binding.drain is not None:
                binding.drain()
        servers = [s for s in (self.server, self.read_only_server) if s is not None]
        await asyncio.gather(*(s.stop(self.grace) for s in servers))
        self.server = self.read_only_server = None
        for binding in reversed(self.bindings):
            if binding.stop is not None:
                await binding.stop()


def start_metrics(listen: str, registry: CollectorRegistry) -> None:
    """Serve Prometheus metrics over HTTP on `host:port` (empty: disabled)."""
    if not listen:
        return
    host, port = parse_host_port(listen)
    start_http_server(port, addr=host, registry=registry)
    log.info("metrics on http://%s:%d/metrics", host, port)


def stop_on_signals(stop: asyncio.Event) -> None:
    """Set `stop` on SIGTERM or SIGINT (when running in the main thread; elsewhere a no-op).

    Before any loop registers (and after it closes) a signal exits the process cleanly
    (metallb_runtime/signals.py).
    """
    if threading.current_thread() is not threading.main_thread():
        return
    register_stop(asyncio.get_running_loop(), stop)


async def run_until_signalled(server: Server, metrics_listen: str = "") -> None:
    """Start `server`, serve until SIGTERM/SIGINT, then drain and stop gracefully."""
    stop = asyncio.Event()
    stop_on_signals(stop)
    await server.start()
    start_metrics(metrics_listen, server.registry)
    await stop.wait()
    log.info("signal received: NOT_SERVING, draining for up to %.0f s", server.grace)
    await server.stop()
