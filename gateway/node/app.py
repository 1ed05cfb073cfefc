"""`metallb-grpc gateway node --node NAME`: the node role as a process.

Source: `--manifests DIR` (every Node in the folder counts as live) or Kubernetes, where this
process renews the Lease `metallb-grpc-node-<node>` in the MetalLB namespace and only nodes with a
Lease renewed within its duration, as this process observed it (gateway/leases.py), are L2
candidates (MetalLB's memberlist membership), and writes this node's
ServiceL2Status/ServiceBGPStatus objects (owned by the Pod named by $METALLB_POD_NAME and
$METALLB_POD_UID) and `nodeAssigned` events. It drives the node's L2 and BGP services (`--l2`,
`--bgp`; either may be omitted) and serves grpc.health.v1 on `--listen`.
"""

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from gateway.folder import FolderFactsWriter, FolderSource, FolderStatusWriter
from gateway.node.liveness import Liveness
from gateway.node.reconciler import NODE_LEASE_PREFIX
from gateway.node.role import NodeRole
from metallb.bfd.v1 import bfd_pb2_grpc
from metallb.bgp.v1 import bgp_pb2_grpc
from metallb.l2.v1 import l2_pb2_grpc
from metallb_runtime.channel import service_channel
from metallb_runtime.server import Server, start_metrics, stop_on_signals
from metallb_runtime.transport import ClientTLS

log = logging.getLogger(__name__)

#: Seconds each request renewing our Lease may take: with BFD to every peer lost, one renewal
#: that fails within this decides that we are cut off (fencing, gateway/node/membership.py).
RENEW_TIMEOUT = 1.0


@dataclass
class NodeOptions:
    node: str
    listen: str
    l2: str = ""
    bgp: str = ""
    bfd: str = ""  # the BFD service: sessions to the other speakers (empty: Leases alone)
    bfd_profile: str = ""
    handoff: float = 1.0
    metrics_listen: str = ""
    manifests: Path | None = None
    kubeconfig: str | None = None
    namespace: str = "metallb-system"
    lb_class: str = ""
    lease_duration: int = 15
    tls: ClientTLS | None = None  # how to reach L2 and BGP: TLS, mutual TLS (None: plaintext)


async def run_node(opts: NodeOptions, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    registry = CollectorRegistry()
    health = Server([], opts.listen, registry=registry, grace=1.0)
    await health.start()
    start_metrics(opts.metrics_listen, registry)
    async with contextlib.AsyncExitStack() as stack:
        l2 = bgp = None
        if opts.l2:
            channel = await stack.enter_async_context(service_channel(opts.l2, opts.tls))
            l2 = l2_pb2_grpc.L2ServiceStub(channel)
        if opts.bgp:
            channel = await stack.enter_async_context(service_channel(opts.bgp, opts.tls))
            bgp = bgp_pb2_grpc.BGPServiceStub(channel)
        try:
            if opts.manifests is not None:
                source = FolderSource(opts.manifests, opts.namespace)
                await source.start()
                try:
                    statuses = FolderStatusWriter(opts.manifests, opts.node, opts.namespace)
                    role = NodeRole(
                        source,
                        opts.node,
                        l2=l2,
                        bgp=bgp,
                        lb_class=opts.lb_class,
                        statuses=statuses,
                        facts=FolderFactsWriter(opts.manifests, opts.node, opts.namespace),
                    )
                    await role.run(stop)
                finally:
                    await source.stop()
            else:
                bfd = None
                if opts.bfd:
                    channel = await stack.enter_async_context(service_channel(opts.bfd, opts.tls))
                    bfd = bfd_pb2_grpc.BFDServiceStub(channel)
                await _run_in_kubernetes(opts, l2, bgp, bfd, stop)
        finally:
            await health.stop()


async def _run_in_kubernetes(
    opts: NodeOptions,
    l2: l2_pb2_grpc.L2ServiceStub | None,
    bgp: bgp_pb2_grpc.BGPServiceStub | None,
    bfd: bfd_pb2_grpc.BFDServiceStub | None,
    stop: asyncio.Event,
) -> None:
    from gateway.kube.client import kube_client  # noqa: PLC0415
    from gateway.kube.lease import LeaseLock  # noqa: PLC0415
    from gateway.kube.node_facts import KubeFactsWriter  # noqa: PLC0415
    from gateway.kube.service_status import ServiceStatusWriter  # noqa: PLC0415
    from gateway.kube.source import KubeSource  # noqa: PLC0415
    from gateway.peer_passwords import COPY_SECRET  # noqa: PLC0415

    api: Any = kube_client(opts.kubeconfig)
    # Renewals on a client of their own that does not retry: with BFD to every peer lost, a
    # renewal failing within RENEW_TIMEOUT is what fences this node (gateway/node/membership.py).
    lease_api: Any = kube_client(
        opts.kubeconfig, request_timeout=(RENEW_TIMEOUT, RENEW_TIMEOUT), retries=0
    )
    lease = LeaseLock(
        lease_api,
        opts.namespace,
        NODE_LEASE_PREFIX + opts.node,
        opts.node,
        opts.lease_duration,
        request_timeout=RENEW_TIMEOUT,
    )
    # The BGP passwords from the controller's copy: the speaker may read no other Secret.
    source = KubeSource(api, opts.namespace, leases=True, peer_passwords=COPY_SECRET)
    await source.start()
    pod_name, pod_uid = os.environ.get("METALLB_POD_NAME"), os.environ.get("METALLB_POD_UID")
    pod = (pod_name, pod_uid) if pod_name and pod_uid else None
    statuses = ServiceStatusWriter(api, opts.namespace, opts.node, pod)
    try:
        role = NodeRole(
            source,
            opts.node,
            l2=l2,
            bgp=bgp,
            leases=True,
            lease=lease,
            renew_every=max(1.0, opts.lease_duration / 3),
            lb_class=opts.lb_class,
            statuses=statuses,
            facts=KubeFactsWriter(api, opts.namespace, opts.node, pod),
            bfd=bfd,
            liveness=Liveness(
                opts.node, bfd=bfd is not None, profile=opts.bfd_profile, handoff=opts.handoff
            ),
            leave_within=opts.handoff + 3.0,
        )
        await role.run(stop)
    finally:
        await source.stop()
