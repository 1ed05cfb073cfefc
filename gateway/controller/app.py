"""`metallb-grpc gateway controller`: the controller role as a process.

Source: `--manifests DIR` (the embedded default) or Kubernetes (`--kubeconfig`, else the
in-cluster service account). In Kubernetes the role runs only while this process holds the
`metallb-grpc-controller` Lease (leader election, gateway/controller/leadership.py: renewed every
2 s, each renewal bounded, and no write starts 10 s after the last successful renewal was sent;
a standby takes over when it has seen the Lease unchanged for 15 s).
The process serves grpc.health.v1 on `--listen` for probes and its metrics on `--metrics-listen`;
its health is NOT_SERVING while status writes are failing (gateway/controller/reconciler.py).

With `--webhook-listen` every replica (not only the leader) serves the webhooks. In Kubernetes
their certificate comes from the rotator (gateway/kube/webhook_certs.py: it creates and renews
the Secret `--webhook-secret` and injects its CA), unless `--disable-cert-rotation`; then, and
with `--manifests`, it is read from `--webhook-cert-dir` and reloaded when it changes.
"""

import asyncio
import contextlib
import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grpc_health.v1 import health_pb2
from prometheus_client import CollectorRegistry

from gateway.controller.ipam_client import GrpcIpam
from gateway.controller.leadership import LeaderWriter, attempt, keep_term
from gateway.controller.metrics import ClientMetrics
from gateway.controller.role import ControllerRole, PasswordsAndStatusWriter
from gateway.folder import FolderSource, FolderWriter
from gateway.kube.client import kube_client
from gateway.kube.lease import LeaseLock
from gateway.kube.source import KubeSource
from gateway.kube.webhook_certs import (
    CERT_SERVICE_NAME,
    RESYNC,
    WEBHOOK_SECRET,
    WebhookCertRotator,
)
from gateway.kube.writer import KubeWriter
from gateway.leases import LeaderTerm
from gateway.webhook.server import WebhookServer, watch_cert_dir
from metallb.ipam.v1 import ipam_pb2_grpc
from metallb_runtime.channel import service_channel
from metallb_runtime.server import Server, start_metrics, stop_on_signals
from metallb_runtime.transport import ClientTLS

log = logging.getLogger(__name__)

LEASE_NAME = "metallb-grpc-controller"


@dataclass
class ControllerOptions:
    ipam: str
    listen: str
    metrics_listen: str = ""
    manifests: Path | None = None
    kubeconfig: str | None = None
    namespace: str = "metallb-system"
    lb_class: str = ""
    identity: str = "controller"
    leader_elect: bool = True
    webhook_listen: str = ""
    webhook_cert_dir: str = "/tmp/k8s-webhook-server/serving-certs"
    cert_rotation: bool = True
    cert_service_name: str = CERT_SERVICE_NAME
    webhook_secret: str = WEBHOOK_SECRET
    webhook_secret_namespace: str = ""  # empty: the namespace
    cert_resync: float = RESYNC
    lease_duration: int = 15
    tls: ClientTLS | None = None  # how to reach IPAM: TLS or mutual TLS (None: plaintext)


async def run_controller(opts: ControllerOptions, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    registry = CollectorRegistry()
    metrics = ClientMetrics(registry)
    health = Server([], opts.listen, registry=registry, grace=1.0)
    await health.start()
    readiness = _Readiness(health)
    start_metrics(opts.metrics_listen, registry)
    api: Any = None
    folder: FolderSource | None = None
    kube: KubeSource | None = None
    if opts.manifests is not None:
        folder = FolderSource(opts.manifests, opts.namespace)
        await folder.start()
    else:
        api = kube_client(opts.kubeconfig)
        kube = KubeSource(api, opts.namespace, endpoint_slices=False)
        await kube.start()
    source = folder or kube
    assert source is not None
    webhook_stop = asyncio.Event()
    webhook: WebhookServer | None = None
    certificates: asyncio.Task[None] | None = None
    try:
        webhook = _start_webhook(opts, source)
        if webhook is not None:
            certificates = asyncio.create_task(
                _keep_webhook_certificate(opts, api, webhook, webhook_stop)
            )
        async with service_channel(opts.ipam, opts.tls) as channel:
            ipam = GrpcIpam(ipam_pb2_grpc.IPAMServiceStub(channel))
            if folder is not None and opts.manifests is not None:
                writer = FolderWriter(opts.manifests)
                role = ControllerRole(
                    folder, writer, ipam, opts.lb_class, metrics, health=readiness.set
                )
                await role.run(stop)
            elif kube is not None:
                await _run_in_kubernetes(
                    opts, api, kube, ipam, stop, metrics=metrics, readiness=readiness
                )
    finally:
        webhook_stop.set()
        await readiness.settle()
        if certificates is not None:
            certificates.cancel()
            await asyncio.gather(certificates, return_exceptions=True)
        if webhook is not None:
            webhook.stop()
        await source.stop()
        await health.stop()


class _Readiness:
    """The process's health (grpc.health.v1, service ""), set from synchronous code."""

    def __init__(self, server: Server) -> None:
        self._server = server
        self._tasks: set[asyncio.Task[None]] = set()

    def set(self, serving: bool) -> None:
        servicer = self._server.health_servicer
        if servicer is None:
            return
        code = health_pb2.HealthCheckResponse
        status = code.SERVING if serving else code.NOT_SERVING
        name = code.ServingStatus.Name(status)
        log.log(logging.INFO if serving else logging.WARNING, "health: %s", name)
        task = asyncio.create_task(servicer.set("", status))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _start_webhook(
    opts: ControllerOptions, source: FolderSource | KubeSource
) -> WebhookServer | None:
    """The webhook server, bound and serving, without a certificate yet (None: no webhooks)."""
    if not opts.webhook_listen:
        return None

    def existing() -> dict[str, list[Any]]:
        snap = source.snapshot()
        return {kind: list(objs.values()) for kind, objs in snap.objects.items()}

    server = WebhookServer(opts.webhook_listen, existing, opts.namespace)
    server.start()
    return server


async def _keep_webhook_certificate(
    opts: ControllerOptions, api: Any, server: WebhookServer, stop: asyncio.Event
) -> None:
    """Give `server` its certificate and every renewal of it, until `stop`."""
    if api is not None and opts.cert_rotation:
        rotator = WebhookCertRotator(
            api,
            opts.namespace,
            secret_name=opts.webhook_secret,
            secret_namespace=opts.webhook_secret_namespace or None,
            service_name=opts.cert_service_name,
        )
        await rotator.run(server.set_certificate, stop, opts.cert_resync)
    else:
        await watch_cert_dir(Path(opts.webhook_cert_dir), server, stop)


async def _run_in_kubernetes(
    opts: ControllerOptions,
    api: Any,
    source: KubeSource,
    ipam: GrpcIpam,
    stop: asyncio.Event,
    *,
    metrics: ClientMetrics,
    readiness: _Readiness,
) -> None:
    term = leader_term(opts.lease_duration)
    lead = functools.partial(
        _lead, api, term=term, opts=opts, source=source, ipam=ipam, stop=stop, metrics=metrics,
        readiness=readiness,
    )  # fmt: skip
    if not opts.leader_elect:
        await lead(None)
        return
    # Lease requests on a client of their own: bounded, and not retried by urllib3 (a renewal
    # must fail within the term's timeout, gateway/controller/leadership.py).
    lease_api = kube_client(
        opts.kubeconfig, request_timeout=(term.timeout, term.timeout), retries=0
    )
    lock = LeaseLock(
        lease_api, opts.namespace, LEASE_NAME, opts.identity, opts.lease_duration,
        request_timeout=term.timeout,
    )  # fmt: skip
    while not stop.is_set():
        held = await attempt(lock.try_hold, term)
        if not held:
            if held is False:  # None: the attempt failed or timed out, and attempt() said so
                log.info("standby: the controller Lease is held by another controller")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), term.retry_period)
            continue
        log.info("leading as %s", opts.identity)
        if not await lead(lock):
            return


def leader_term(duration: int) -> LeaderTerm:
    """client-go's proportions (15 s, 10 s, 2 s) for any Lease duration."""
    return LeaderTerm(
        duration=duration,
        renew_deadline=duration * 2 / 3,
        retry_period=max(0.5, duration * 2 / 15),
        timeout=max(0.5, duration * 2 / 15),
    )


async def _lead(
    api: Any,
    lock: LeaseLock | None,
    term: LeaderTerm,
    *,
    opts: ControllerOptions,
    source: KubeSource,
    ipam: GrpcIpam,
    stop: asyncio.Event,
    metrics: ClientMetrics,
    readiness: _Readiness,
) -> bool:
    """One term as leader; True if it ended (try to lead again), False on stop."""
    while not source.changes.empty():  # a new term starts with a full pass anyway
        source.changes.get_nowait()
    role_stop = asyncio.Event()
    stepped_down = asyncio.Event()
    writer: PasswordsAndStatusWriter = KubeWriter(api, opts.namespace)
    tasks = []
    if lock is not None:
        writer = LeaderWriter(writer, term)
        tasks.append(asyncio.create_task(keep_term(lock.try_hold, term, role_stop, stepped_down)))

    async def relay(event: asyncio.Event) -> None:
        await event.wait()
        role_stop.set()

    tasks += [asyncio.create_task(relay(stop)), asyncio.create_task(relay(stepped_down))]
    role = ControllerRole(
        source, writer, ipam, opts.lb_class, metrics, health=readiness.set, peer_passwords=writer
    )
    try:
        await role.run(role_stop)
    finally:
        readiness.set(True)  # a new term (or a standby) starts with no failing writes
        role_stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return stepped_down.is_set()
