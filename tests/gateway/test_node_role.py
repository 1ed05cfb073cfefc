"""The node role against a real BGP service (port 0): peers and routes follow the folder, and a
restarted BGP service gets everything back without any change in the folder."""

import asyncio
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from gateway.folder import FolderSource
from gateway.node.role import NodeRole
from metallb.bgp.v1 import bgp_pb2, bgp_pb2_grpc
from metallb_runtime.channel import service_channel
from metallb_runtime.server import Server
from services.bgp.service import bgp_binding

FOLDER = """
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: pool, namespace: metallb-system}
spec: {addresses: [192.0.2.0/28]}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: router, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64512, peerAddress: 127.0.0.1, peerPort: 1179, holdTime: 9s}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: adv, namespace: metallb-system}
spec: {localPref: 150, communities: ["65000:7"]}
---
apiVersion: v1
kind: Node
metadata: {name: node-1}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec: {type: LoadBalancer, clusterIP: 10.96.0.1, ports: [{port: 80}]}
status: {loadBalancer: {ingress: [{ip: 192.0.2.5}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: demo, labels: {kubernetes.io/service-name: web}}
endpoints: [{addresses: [10.244.0.1], conditions: {ready: true}, nodeName: node-1}]
"""


async def after_passes(role: NodeRole, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """`check()` (awaited if it returns an awaitable) now and after each pass the role
    completes, until it holds; its value. A pass runs at least every second, so what the role's
    writes or a folder's poll bring is seen at the latest a pass later (no sleeping)."""
    async with asyncio.timeout(timeout):
        while True:
            result = check()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
            await role.next_pass()


async def start_bgp(socket: Path) -> Server:
    registry = CollectorRegistry()
    server = Server([bgp_binding(registry)], f"unix:{socket}", registry=registry, grace=0.1)
    await server.start()
    return server


def test_node_role_drives_bgp_and_survives_its_restart(
    arun: Callable[..., Any], tmp_path: Path
) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "all.yaml").write_text(FOLDER)
    socket = tmp_path / "bgp.sock"

    async def scenario() -> None:
        server = await start_bgp(socket)
        source = FolderSource(folder, interval=0.05)
        await source.start()
        stop = asyncio.Event()
        async with service_channel(f"unix:{socket}") as channel:
            stub = bgp_pb2_grpc.BGPServiceStub(channel)
            role = NodeRole(source, "node-1", l2=None, bgp=stub)
            task = asyncio.create_task(role.run(stop))

            def texts(r: bgp_pb2.Route) -> list[str]:
                return [f"{c.asn}:{c.value}" for c in r.communities]

            async def routes() -> list[tuple[str, int, list[str], list[str]]]:
                try:
                    listed = await stub.ListAdvertisements(bgp_pb2.ListAdvertisementsRequest())
                except Exception:
                    return []
                return sorted(
                    (
                        r.prefix,
                        r.local_pref,
                        [f"{c.asn}:{c.value}" for c in r.communities],
                        [p.peer],
                    )
                    for p in listed.peers
                    for r in p.routes
                )

            async def peers() -> list[str]:
                try:
                    listed = await stub.ListPeers(bgp_pb2.ListPeersRequest())
                except Exception:
                    return []
                return [p.conf.name for p in listed.peers]

            try:
                want = [("192.0.2.5/32", 150, ["65000:7"], ["router"])]
                await after_passes(role, lambda: _eq(routes(), want))
                assert await peers() == ["router"]
                # The BGP service restarts: the node role re-sends peers and routes.
                await server.stop()
                server = await start_bgp(socket)
                await after_passes(role, lambda: _eq(routes(), want))
                assert await peers() == ["router"]
                # The service loses its address: the route is withdrawn.
                (folder / "all.yaml").write_text(
                    FOLDER.replace("status: {loadBalancer: {ingress: [{ip: 192.0.2.5}]}}", "")
                )
                await after_passes(role, lambda: _eq(routes(), []))
            finally:
                stop.set()
                await task
                await source.stop()
                await server.stop()

    arun(scenario())


async def _eq(coro: Any, want: Any) -> bool:
    got = await coro
    return bool(got == want)
