"""`metallb-grpc gateway controller`: the controller role as a process.

Source: `--manifests DIR` (the embedded default) or Kubernetes (`--kubeconfig`, else the
in-cluster service account). In Kubernetes the role runs only while this process holds the
`metallb-grpc-controller` Lease (leader election); a standby takes over when the Lease expires.
The process serves grpc.health.v1 on `--listen` for probes and its metrics on `--metrics-listen`.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from gateway.controller.ipam_client import GrpcIpam
from gateway.controller.metrics import ClientMetrics
from gateway.controller.role import ControllerRole
from gateway.folder import FolderSource, FolderWriter
from gateway.kube.client import kube_client
from gateway.kube.lease import LeaseLock
from gateway.kube.source import KubeSource
from gateway.kube.writer import KubeWriter
from gateway.webhook.server import WebhookServer
from metallb.ipam.v1 import ipam_pb2_grpc
from metallb_grpc.channel import service_channel
from metallb_grpc.server import Server, start_metrics, stop_on_signals

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
    lease_duration: int = 15


async def run_controller(opts: ControllerOptions, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    registry = CollectorRegistry()
    metrics = ClientMetrics(registry)
    health = Server([], opts.listen, registry=registry, grace=1.0)
    await health.start()
    start_metrics(opts.metrics_listen, registry)
    api: Any = None
    folder: FolderSource | None = None
    kube: KubeSource | None = None
    if opts.manifests is not None:
        folder = FolderSource(opts.manifests, opts.namespace)
        await folder.start()
    else:
        api = kube_client(opts.kubeconfig)
        kube = KubeSource(api, opts.namespace)
        await kube.start()
    source = folder or kube
    assert source is not None
    webhook = _start_webhook(opts, source)
    try:
        async with service_channel(opts.ipam) as channel:
            ipam = GrpcIpam(ipam_pb2_grpc.IPAMServiceStub(channel))
            if folder is not None and opts.manifests is not None:
                writer = FolderWriter(opts.manifests)
                await ControllerRole(folder, writer, ipam, opts.lb_class, metrics).run(stop)
            elif kube is not None:
                await _run_in_kubernetes(opts, api, kube, ipam, stop, metrics=metrics)
    finally:
        if webhook is not None:
            webhook.stop()
        await source.stop()
        await health.stop()


def _start_webhook(opts: ControllerOptions, source: FolderSource | KubeSource) -> Any:
    if not opts.webhook_listen:
        return None

    def existing() -> dict[str, list[Any]]:
        snap = source.snapshot()
        return {kind: list(objs.values()) for kind, objs in snap.objects.items()}

    cert_dir = Path(opts.webhook_cert_dir)
    if not (cert_dir / "tls.crt").is_file() or not (cert_dir / "tls.key").is_file():
        # The controller does not create the certificate (MetalLB's cert-controller does there);
        # without one the webhooks stay off rather than crash-looping the controller.
        log.error(
            "webhooks disabled: no tls.crt/tls.key in %s (create the metallb-webhook-cert Secret)",
            cert_dir,
        )
        return None
    server = WebhookServer(opts.webhook_listen, cert_dir, existing, opts.namespace)
    server.start()
    return server


async def _run_in_kubernetes(
    opts: ControllerOptions,
    api: Any,
    source: KubeSource,
    ipam: GrpcIpam,
    stop: asyncio.Event,
    *,
    metrics: ClientMetrics,
) -> None:
    lock = LeaseLock(api, opts.namespace, LEASE_NAME, opts.identity, opts.lease_duration)
    renew = max(1.0, opts.lease_duration / 3)
    if not opts.leader_elect:
        await _lead(api, None, opts, source, ipam, stop=stop, renew=renew, metrics=metrics)
        return
    while not stop.is_set():
        if not await asyncio.to_thread(lock.try_hold):
            log.info("standby: the controller Lease is held by %s", lock.holder())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), renew)
            continue
        log.info("leading as %s", opts.identity)
        if not await _lead(api, lock, opts, source, ipam, stop=stop, renew=renew, metrics=metrics):
            return


async def _lead(
    api: Any,
    lock: LeaseLock | None,
    opts: ControllerOptions,
    source: KubeSource,
    ipam: GrpcIpam,
    *,
    stop: asyncio.Event,
    renew: float,
    metrics: ClientMetrics,
) -> bool:
    """One term as leader; True if the Lease was lost (try to lead again), False on stop."""
    while not source.changes.empty():  # a new term starts with a full pass anyway
        source.changes.get_nowait()
    role_stop = asyncio.Event()
    lost = False

    async def keep_lease() -> None:
        nonlocal lost
        while not role_stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(role_stop.wait(), renew)
            if role_stop.is_set() or lock is None:
                return
            if not await asyncio.to_thread(lock.try_hold):
                log.warning("lost the controller Lease: stopping")
                lost = True
                role_stop.set()

    async def relay_stop() -> None:
        await stop.wait()
        role_stop.set()

    role = ControllerRole(source, KubeWriter(api, opts.namespace), ipam, opts.lb_class, metrics)
    tasks = [asyncio.create_task(keep_lease()), asyncio.create_task(relay_stop())]
    try:
        await role.run(role_stop)
    finally:
        role_stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return lost
