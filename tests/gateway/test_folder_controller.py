"""The controller role on the embedded default: a manifests folder watched, status beside it."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from gateway.controller.ipam_client import GrpcIpam
from gateway.controller.role import ControllerRole
from gateway.folder import FolderSource, FolderWriter, read_folder
from metallb.ipam.v1 import ipam_pb2_grpc
from metallb_runtime.channel import service_channel
from metallb_runtime.server import Server
from services.ipam.service import ipam_binding

POOL = """
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: default, namespace: metallb-system}
spec: {addresses: [%s]}
"""


def svc(name: str) -> str:
    return f"""
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: demo
  annotations: {{metallb.universe.tf/address-pool: default}}
spec: {{type: LoadBalancer, clusterIP: 10.96.0.9, ports: [{{port: 80}}]}}
"""


def ingress(folder: Path, name: str) -> list[str]:
    obj = read_folder(folder).objects["Service"].get(f"demo/{name}") or {}
    return [i["ip"] for i in (obj.get("status", {}).get("loadBalancer", {}).get("ingress") or [])]


async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        # Polls files the role writes from its write threads: a wait on I/O, not a clock.
        await asyncio.sleep(0.05)


@asynccontextmanager
async def controller(folder: Path, socket: Path) -> AsyncIterator[ControllerRole]:
    registry = CollectorRegistry()
    server = Server([ipam_binding(registry)], f"unix:{socket}", registry=registry, grace=0.1)
    await server.start()
    source = FolderSource(folder, interval=0.05)
    await source.start()
    stop = asyncio.Event()
    try:
        async with service_channel(f"unix:{socket}") as channel:
            role = ControllerRole(
                source, FolderWriter(folder), GrpcIpam(ipam_pb2_grpc.IPAMServiceStub(channel))
            )
            task = asyncio.create_task(role.run(stop))
            try:
                yield role
            finally:
                stop.set()
                await task
    finally:
        await source.stop()
        await server.stop()


def test_folder_controller(arun: Callable[..., Any], tmp_path: Path) -> None:
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "pool.yaml").write_text(POOL % "192.0.2.8/30")
    (folder / "a.yaml").write_text(svc("a"))

    async def scenario() -> None:
        async with controller(folder, tmp_path / "ipam.sock") as role:
            await until(lambda: ingress(folder, "a") == ["192.0.2.8"])
            (folder / "b.yaml").write_text(svc("b"))
            await until(lambda: ingress(folder, "b") == ["192.0.2.9"])
            events = (folder / ".status" / "events.yaml").read_text()
            assert "deprecatedAnnotation" in events and "IPAllocated" in events
            # A typo keeps the last valid configuration: nothing is released.
            (folder / "pool.yaml").write_text(POOL % "192.0.2.8/33")
            await until(lambda: role.stale)
            assert ingress(folder, "a") == ["192.0.2.8"]
            state = yaml.safe_load(
                (folder / ".status" / "configurationstates" / "controller.yaml").read_text()
            )
            assert state["status"]["result"] == "Invalid"
            assert "invalid CIDR" in state["status"]["errorSummary"]
            (folder / "pool.yaml").write_text(POOL % "192.0.2.8/30")
            await until(lambda: not role.stale)
        # Restarted (gateway and IPAM): the status written beside the folder is the truth.
        (folder / "c.yaml").write_text(svc("c"))
        async with controller(folder, tmp_path / "ipam2.sock"):
            await until(lambda: ingress(folder, "c") == ["192.0.2.10"])
            assert ingress(folder, "a") == ["192.0.2.8"] and ingress(folder, "b") == ["192.0.2.9"]
            (folder / "b.yaml").unlink()
            (folder / "d.yaml").write_text(svc("d"))
            await until(lambda: ingress(folder, "d") == ["192.0.2.9"])
        written = yaml.safe_load((folder / ".status" / "services" / "demo" / "a.yaml").read_text())
        assert written["metadata"]["annotations"] == {
            "metallb.io/ip-allocated-from-pool": "default"
        }

    arun(scenario())
