"""In the folder mode the node role publishes its BGP sessions beside the manifests
(`.status/bgpsessionstates/<node>/<node>.<peer>.yaml`), from a real BGP service's watch."""

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from gateway.folder import FolderFactsWriter, FolderSource, FolderStatusWriter
from gateway.node.role import NodeRole
from metallb.bgp.v1 import bgp_pb2_grpc
from metallb_runtime.channel import service_channel
from tests.gateway.test_node_role import FOLDER, after_passes, start_bgp


def test_bgp_sessions_are_published_in_the_folder(arun: Callable[..., Any], tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "all.yaml").write_text(FOLDER)
    socket = tmp_path / "bgp.sock"
    session = folder / ".status" / "bgpsessionstates" / "node-1" / "node-1.router.yaml"
    stale = session.with_name("node-1.gone.yaml")
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")  # left by an earlier run for a peer that no longer exists

    def read() -> Any:
        return yaml.safe_load(session.read_text()) if session.exists() else None

    async def scenario() -> None:
        server = await start_bgp(socket)
        source = FolderSource(folder, interval=0.05)
        await source.start()
        stop = asyncio.Event()
        try:
            async with service_channel(f"unix:{socket}") as channel:
                role = NodeRole(
                    source,
                    "node-1",
                    l2=None,
                    bgp=bgp_pb2_grpc.BGPServiceStub(channel),
                    statuses=FolderStatusWriter(folder, "node-1"),
                    facts=FolderFactsWriter(folder, "node-1"),
                )
                task = asyncio.create_task(role.run(stop))
                try:
                    obj = await after_passes(role, read)
                    assert obj["kind"] == "BGPSessionState"
                    assert obj["metadata"]["labels"] == {
                        "metallb.io/node": "node-1",
                        "metallb.io/peer": "router",
                    }
                    status = obj["status"]
                    assert (status["node"], status["peer"], status["bgpPeer"]) == (
                        "node-1",
                        "127.0.0.1",
                        "router",
                    )
                    # (What the session reached depends on who listens on the port.)
                    assert status["bgpStatus"] in {
                        "Idle",
                        "Connect",
                        "Active",
                        "OpenSent",
                        "OpenConfirm",
                        "Established",
                    }
                    assert status["bfdStatus"] == "N/A"
                    await after_passes(role, lambda: not stale.exists())
                finally:
                    stop.set()
                    await task
        finally:
            await source.stop()
            await server.stop()

    arun(scenario())
