"""In the folder mode the node role writes its status objects beside the manifests, in the form
the API holds them: ServiceBGPStatus, `nodeAssigned` events and ConfigurationState
`speaker-<node>`; a service no longer announced loses its object, also across a restart."""

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from gateway.folder import FolderSource, FolderStatusWriter
from gateway.node.role import NodeRole
from metallb.bgp.v1 import bgp_pb2_grpc
from metallb_runtime.channel import service_channel
from tests.gateway.test_node_role import FOLDER, after_passes, start_bgp


def read(path: Path) -> Any:
    return yaml.safe_load(path.read_text()) if path.exists() else None


def test_node_status_objects_in_the_folder(arun: Callable[..., Any], tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "all.yaml").write_text(FOLDER)
    socket = tmp_path / "bgp.sock"
    status = folder / ".status"
    bgp_object = status / "servicebgpstatuses" / "node-1" / "demo" / "web.yaml"

    roles: list[NodeRole] = []
    started = asyncio.Event()

    async def run_role(stop: asyncio.Event) -> None:
        source = FolderSource(folder, interval=0.05)
        await source.start()
        try:
            async with service_channel(f"unix:{socket}") as channel:
                stub = bgp_pb2_grpc.BGPServiceStub(channel)
                writer = FolderStatusWriter(folder, "node-1")
                roles.append(NodeRole(source, "node-1", l2=None, bgp=stub, statuses=writer))
                started.set()
                await roles[-1].run(stop)
        finally:
            await source.stop()

    async def until(check: Callable[[], Any]) -> Any:
        await started.wait()
        return await after_passes(roles[-1], check)

    async def scenario() -> None:
        server = await start_bgp(socket)
        stop = asyncio.Event()
        task = asyncio.create_task(run_role(stop))
        try:
            obj = await until(lambda: read(bgp_object))
            assert obj == {
                "apiVersion": "metallb.io/v1beta1",
                "kind": "ServiceBGPStatus",
                "metadata": {
                    "name": "bgp-node-1.demo.web",
                    "namespace": "metallb-system",
                    "labels": {
                        "metallb.io/node": "node-1",
                        "metallb.io/service-name": "web",
                        "metallb.io/service-namespace": "demo",
                    },
                },
                "spec": {},
                "status": {
                    "node": "node-1",
                    "serviceName": "web",
                    "serviceNamespace": "demo",
                    "peers": ["router"],
                },
            }
            events = await until(lambda: read_events(status / "events.yaml"))
            assert [(e["reason"], e["message"], e["source"]) for e in events] == [
                (
                    "nodeAssigned",
                    'announcing from node "node-1" with protocol "bgp"',
                    {"component": "metallb-speaker", "host": "node-1"},
                )
            ]
            assert events[0]["involvedObject"]["name"] == "web"
            state = await until(
                lambda: read(status / "configurationstates" / "speaker-node-1.yaml")
            )
            assert state["metadata"]["labels"] == {
                "metallb.io/component-type": "speaker",
                "metallb.io/node-name": "node-1",
            }
            assert state["status"]["result"] == "Valid"
            assert state["status"]["conditions"][0]["type"] == "configReconcilerValid"
            # The service loses its address: no longer announced, its object goes.
            (folder / "all.yaml").write_text(
                FOLDER.replace("status: {loadBalancer: {ingress: [{ip: 192.0.2.5}]}}", "")
            )
            await until(lambda: not bgp_object.exists())
        finally:
            stop.set()
            await task
        # A restarted node role adopts what is in the folder: an object left for a service it
        # does not announce is removed.
        bgp_object.parent.mkdir(parents=True, exist_ok=True)
        bgp_object.write_text(yaml.safe_dump({"kind": "ServiceBGPStatus"}))
        started.clear()
        stop = asyncio.Event()
        task = asyncio.create_task(run_role(stop))
        try:
            await until(lambda: not bgp_object.exists())
        finally:
            stop.set()
            await task
            await server.stop()

    arun(scenario())


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [e for e in yaml.safe_load_all(path.read_text()) if e]
