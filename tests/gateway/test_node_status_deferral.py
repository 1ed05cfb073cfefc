"""The node role writes its status objects after announcements: while changes keep coming they
wait (announcements first), once changes stop they are written within a couple of seconds, and
under changes that never stop they are still written every `REPORT_AT_LEAST_EVERY`.

The node role runs against a real BGP service (unix socket, the peer's port closed); the status
writer records what it is asked to write (the Kubernetes writer is tested in
test_service_status.py)."""

import asyncio
import copy
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from gateway.node.reconciler import NodeTiming
from gateway.node.role import NodeRole
from gateway.snapshot import Snapshot, key_of
from metallb.bgp.v1 import bgp_pb2, bgp_pb2_grpc
from metallb_runtime.channel import service_channel
from metallb_runtime.server import Server
from services.bgp.service import bgp_binding
from tests.gateway.test_service_status import CONFIG as SERVICE_STATUS_CONFIG

NS = "metallb-system"
POOL = {
    "apiVersion": "metallb.io/v1beta1",
    "kind": "IPAddressPool",
    "metadata": {"name": "pool", "namespace": NS},
    "spec": {"addresses": ["192.0.2.0/24"]},
}
# The peer (its port closed), the advertisement and the node of test_service_status.
CONFIG = [
    POOL,
    *(o for o in SERVICE_STATUS_CONFIG if o["kind"] in ("BGPPeer", "BGPAdvertisement", "Node")),
]


def service(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"s{i}", "namespace": "default"},
        "spec": {"type": "LoadBalancer", "clusterIP": f"10.96.0.{i}", "ports": [{"port": 80}]},
        "status": {"loadBalancer": {"ingress": [{"ip": f"192.0.2.{i}"}]}},
    }


def endpoints(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"s{i}-1",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": f"s{i}"},
        },
        "endpoints": [
            {"addresses": ["10.244.0.1"], "conditions": {"ready": True}, "nodeName": "node-1"}
        ],
    }


class MemorySource:
    """A source as the node role sees one: a snapshot and a queue of (kind, key) changes."""

    def __init__(self) -> None:
        self.changes: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._snap = Snapshot(namespace=NS)
        for obj in CONFIG:
            self._snap.add(copy.deepcopy(obj))

    def add(self, obj: dict[str, Any]) -> None:
        self._snap.add(obj)
        self.changes.put_nowait((str(obj["kind"]), key_of(obj)))

    def snapshot(self) -> Snapshot:
        return Snapshot({k: dict(v) for k, v in self._snap.objects.items()}, NS)


class RecordingWriter:
    """A StatusWriter that records the ServiceBGPStatus writes it is asked for, with when."""

    def __init__(self) -> None:
        self.written: dict[str, float] = {}  # service key -> time of its first write

    def existing(self) -> set[tuple[str, str]]:
        return set()

    def write(self, plural: str, service_key: str, status: Mapping[str, Any] | None) -> None:
        if status is not None:
            self.written.setdefault(service_key, time.monotonic())

    def node_assigned(self, service: Mapping[str, Any], protocol: str) -> None:
        pass

    def configuration_state(self, valid: bool, message: str) -> None:
        pass


async def until(condition: Callable[[], Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def routes(bgp: bgp_pb2_grpc.BGPServiceStub) -> int:
    reply = await bgp.ListAdvertisements(bgp_pb2.ListAdvertisementsRequest(peer="router"))
    return sum(len(p.routes) for p in reply.peers)


def test_status_objects_wait_for_a_burst_to_end(
    arun: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    timing = NodeTiming(report_at_least_every=3.0)

    async def scenario() -> None:
        registry = CollectorRegistry()
        server = Server(
            [bgp_binding(registry)], f"unix:{tmp_path}/bgp.sock", registry=registry, grace=0.1
        )
        await server.start()
        source, writer = MemorySource(), RecordingWriter()
        stop = asyncio.Event()
        try:
            async with service_channel(f"unix:{tmp_path}/bgp.sock") as channel:
                bgp = bgp_pb2_grpc.BGPServiceStub(channel)
                role = NodeRole(source, "node-1", l2=None, bgp=bgp, statuses=writer, timing=timing)
                task = asyncio.create_task(role.run(stop))
                await until(lambda: role.syncs >= 1, 5.0)  # the first pass, before any service
                # A burst: a new service every 50 ms for 2 s. Each is announced at once...
                started = time.monotonic()
                for i in range(1, 41):
                    source.add(endpoints(i))
                    source.add(service(i))
                    await asyncio.sleep(0.05)
                    if i == 20:
                        assert await routes(bgp) >= 15  # announcements keep up
                burst_end = time.monotonic()
                assert await routes(bgp) >= 35
                # ... but no status object is written while the burst goes on.
                assert not writer.written
                # Once it is over, all of them are, within the quiet time and a pass.
                await until(lambda: len(writer.written) == 40, 3.0)
                assert min(writer.written.values()) >= burst_end
                assert burst_end - started < 3.0  # so the cap below was not what wrote them

                # Changes that never stop: still written, every REPORT_AT_LEAST_EVERY (3 s).
                writer.written.clear()
                changing_since = time.monotonic()
                for i in range(41, 141):
                    source.add(endpoints(i))
                    source.add(service(i))
                    await asyncio.sleep(0.05)
                    if len(writer.written) > 0:
                        break
                assert writer.written, "status objects starved by a steady stream of changes"
                assert min(writer.written.values()) - changing_since < 3.0 + 1.5
                stop.set()
                await task
        finally:
            stop.set()
            await server.stop()

    arun(scenario())
