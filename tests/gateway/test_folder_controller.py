"""The controller role on the embedded default: a manifests folder watched, status beside it."""

import asyncio
import signal
import subprocess
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
from tests.gateway.polling import until

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


def test_a_status_file_that_cannot_be_written_is_reported_and_readiness_follows(
    tmp_path: Path,
) -> None:
    """Issue 14, folder mode, the real processes: web's status file cannot be written (a
    directory sits where its temporary file goes: a write fails with an OS error even for
    root, which a read-only file would not stop). The controller stays NOT_SERVING while it
    fails, reports it (ConfigurationState condition, a Warning event), serves the other
    Service meanwhile, and is SERVING again once the write goes through."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from tests.conftest import require_binary

    exe = require_binary("metallb-grpc")
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "pool.yaml").write_text(POOL % "192.0.2.8/30")
    (folder / "web.yaml").write_text(svc("web"))
    (folder / "other.yaml").write_text(svc("other"))
    blocker = folder / ".status" / "services" / "demo" / "web.tmp"
    blocker.mkdir(parents=True)
    ipam_sock, health_sock = tmp_path / "ipam.sock", tmp_path / "health.sock"
    common = ["--metrics-listen", ""]
    ipam = subprocess.Popen(
        [exe, "ipam", "--listen", f"unix:{ipam_sock}", *common], stderr=subprocess.DEVNULL
    )
    role = [exe, "gateway", "controller", "--ipam", f"unix:{ipam_sock}"]
    flags = ["--manifests", str(folder), "--listen", f"unix:{health_sock}", *common]
    controller = subprocess.Popen([*role, *flags], stderr=subprocess.DEVNULL)
    state_file = folder / ".status" / "configurationstates" / "controller.yaml"

    def writes_condition() -> dict[str, Any]:
        try:
            state = yaml.safe_load(state_file.read_text()) or {}
        except FileNotFoundError:
            return {}
        found = [
            c
            for c in state.get("status", {}).get("conditions", [])
            if c["type"] == "statusWriterValid"
        ]
        return found[0] if found else {}

    def health() -> int:
        try:
            with grpc.insecure_channel(f"unix:{health_sock}") as channel:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=2
                )
                return int(reply.status)
        except grpc.RpcError:
            return -1  # not listening yet

    def wait(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"{what}: not in {timeout:g} s"
            time.sleep(0.1)  # another process writes the files: nothing to wait on but them

    serving, not_serving = (
        health_pb2.HealthCheckResponse.SERVING,
        health_pb2.HealthCheckResponse.NOT_SERVING,
    )
    try:
        wait(lambda: ingress(folder, "other") != [], "the other Service served")
        wait(lambda: health() == not_serving, "NOT_SERVING")
        wait(lambda: writes_condition().get("status") == "False", "the condition")
        assert writes_condition()["reason"] == "UnknownError"
        assert "Service/demo/web" in writes_condition()["message"]
        assert "Is a directory" in writes_condition()["message"]
        wait(
            lambda: "StatusUpdateFailed" in (folder / ".status" / "events.yaml").read_text(),
            "the Warning event",
        )
        assert ingress(folder, "web") == []
        # The way is clear again; web's next change writes its status.
        blocker.rmdir()
        (folder / "web.yaml").write_text(
            svc("web").replace("namespace: demo", "namespace: demo\n  labels: {retry: now}")
        )
        wait(lambda: ingress(folder, "web") != [], "web's status")
        wait(lambda: health() == serving, "SERVING")
        wait(lambda: writes_condition().get("status") == "True", "the condition cleared")
        controller.send_signal(signal.SIGTERM)
        assert controller.wait(timeout=15) == 0
    finally:
        for proc in (controller, ipam):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
