"""ServiceL2Status, ServiceBGPStatus and nodeAssigned events, written by the node role through the
real `kubernetes` client to the fake API server, with the real L2 and BGP services behind it.

The L2 advertisement names an interface that does not exist, so the L2 service accepts the
announcement but answers nowhere (only namespaces or loopback may see our packets)."""

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from gateway.kube.lease import LeaseLock
from gateway.kube.service_status import ServiceStatusWriter
from gateway.kube.source import KubeSource
from gateway.node.role import NodeRole
from metallb.bgp.v1 import bgp_pb2_grpc
from metallb.l2.v1 import l2_pb2_grpc
from metallb_runtime.channel import service_channel
from metallb_runtime.server import Server
from services.bgp.service import bgp_binding
from services.l2.service import l2_binding
from tests.conftest import require_root
from tests.fakekube import FakeKube
from tests.gateway.test_node_role import after_passes

NS = "metallb-system"
CONFIG: list[dict[str, Any]] = [
    {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "IPAddressPool",
        "metadata": {"name": "pool", "namespace": NS},
        "spec": {"addresses": ["192.0.2.0/28"]},
    },
    {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "L2Advertisement",
        "metadata": {"name": "l2", "namespace": NS},
        "spec": {"ipAddressPools": ["pool"], "interfaces": ["mlbnone0"]},
    },
    {
        "apiVersion": "metallb.io/v1beta2",
        "kind": "BGPPeer",
        "metadata": {"name": "router", "namespace": NS},
        "spec": {"myASN": 64512, "peerASN": 64513, "peerAddress": "127.0.0.1", "peerPort": 1},
    },
    {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "BGPAdvertisement",
        "metadata": {"name": "bgp", "namespace": NS},
        "spec": {"ipAddressPools": ["pool"]},
    },
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}},
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.1", "ports": [{"port": 80}]},
    },
    {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "web-1",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": "web"},
        },
        "endpoints": [
            {"addresses": ["10.244.0.1"], "conditions": {"ready": True}, "nodeName": "node-1"}
        ],
    },
]


def test_status_objects_and_events_follow_what_the_node_announces(
    arun: Callable[..., Any], tmp_path: Path
) -> None:
    require_root("the L2 service opens AF_PACKET sockets")

    async def scenario() -> None:
        registry = CollectorRegistry()
        server = Server(
            [l2_binding(registry, ["mlbnone*"]), bgp_binding(registry)],
            f"unix:{tmp_path}/svc.sock",
            registry=registry,
            grace=0.1,
        )
        await server.start()
        with FakeKube() as kube:
            for obj in CONFIG:
                kube.create(obj)
            web = kube.get("services", "web", "default")
            web["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.5"}]}}
            kube.update_status(web)
            api = kube.api_client()
            # As in a cluster: node-1 is an L2 candidate only while its own Lease, renewed by
            # the role, is seen renewed.
            source = KubeSource(api, NS, watch_timeout=5, leases=True)
            await source.start()

            def statuses(plural: str) -> list[dict[str, Any]]:
                return kube.list(f"{plural}.metallb.io", NS)

            roles: list[NodeRole] = []
            started = asyncio.Event()

            async def run_role(stop: asyncio.Event) -> None:
                async with service_channel(f"unix:{tmp_path}/svc.sock") as channel:
                    writer = ServiceStatusWriter(api, NS, "node-1", ("speaker-x", "uid-1"))
                    role = NodeRole(
                        source,
                        "node-1",
                        l2=l2_pb2_grpc.L2ServiceStub(channel),
                        bgp=bgp_pb2_grpc.BGPServiceStub(channel),
                        statuses=writer,
                        leases=True,
                        lease=LeaseLock(api, NS, "metallb-grpc-node-node-1", "node-1"),
                    )
                    roles.append(role)
                    started.set()
                    await role.run(stop)

            async def until(check: Callable[[], Any]) -> Any:
                """`check()` after each pass of the running role until it holds."""
                await started.wait()
                return await after_passes(roles[-1], check)

            stop = asyncio.Event()
            task = asyncio.create_task(run_role(stop))
            try:
                [l2] = await until(lambda: statuses("servicel2statuses"))
                [bgp] = await until(lambda: statuses("servicebgpstatuses"))
                await until(lambda: l2.get("status") or statuses("servicel2statuses")[0]["status"])
                l2 = statuses("servicel2statuses")[0]
                bgp = await until(
                    lambda: next(
                        (o for o in statuses("servicebgpstatuses") if o.get("status")), None
                    )
                )
                lease = kube.get("leases.coordination.k8s.io", "metallb-grpc-node-node-1", NS)
                assert lease["spec"]["holderIdentity"] == "node-1"
                assert l2["metadata"]["name"].startswith("l2-")
                assert bgp["metadata"]["name"].startswith("bgp-")
                for obj in (l2, bgp):
                    assert obj["metadata"]["labels"] == {
                        "metallb.io/node": "node-1",
                        "metallb.io/service-name": "web",
                        "metallb.io/service-namespace": "default",
                    }
                    owner = obj["metadata"]["ownerReferences"][0]
                    assert (owner["kind"], owner["name"], owner["uid"]) == (
                        "Pod",
                        "speaker-x",
                        "uid-1",
                    )
                assert l2["status"] == {
                    "node": "node-1",
                    "serviceName": "web",
                    "serviceNamespace": "default",
                    "interfaces": [{"name": "mlbnone0"}],
                }
                assert bgp["status"] == {
                    "node": "node-1",
                    "serviceName": "web",
                    "serviceNamespace": "default",
                    "peers": ["router"],
                }
                events = await until(
                    lambda: (
                        sorted(
                            e["message"]
                            for e in kube.list("events", "default")
                            if e["reason"] == "nodeAssigned"
                        )
                        if len(kube.list("events", "default")) >= 2
                        else None
                    )
                )
                assert events == [
                    'announcing from node "node-1" with protocol "bgp"',
                    'announcing from node "node-1" with protocol "layer2"',
                ]
                state = await until(
                    lambda: kube.find("configurationstates.metallb.io", "speaker-node-1", NS)
                )
                assert state["metadata"]["labels"] == {
                    "metallb.io/component-type": "speaker",
                    "metallb.io/node-name": "node-1",
                }
                state = await until(
                    lambda: kube.get("configurationstates.metallb.io", "speaker-node-1", NS).get(
                        "status"
                    )
                )
                assert state["result"] == "Valid"
                assert state["conditions"][0]["type"] == "configReconcilerValid"
                # Deleted by hand: written again.
                uid = kube.get("configurationstates.metallb.io", "speaker-node-1", NS)["metadata"][
                    "uid"
                ]
                kube.delete("configurationstates.metallb.io", "speaker-node-1", NS)
                again = await until(
                    lambda: (
                        (o := kube.find("configurationstates.metallb.io", "speaker-node-1", NS))
                        and o["metadata"]["uid"] != uid
                        and (o.get("status") or {}).get("result") == "Valid"
                        and o
                    )
                )
                assert again["metadata"]["labels"]["metallb.io/node-name"] == "node-1"
            finally:
                stop.set()
                await task

            # A restarted node role adopts its objects instead of creating duplicates; a
            # duplicate it finds is deleted.
            dup = dict(statuses("servicebgpstatuses")[0])
            dup["metadata"] = {**dup["metadata"], "name": "bgp-dup"}
            for field in ("uid", "resourceVersion", "creationTimestamp"):
                dup["metadata"].pop(field, None)
            kube.create(dup)
            before = {o["metadata"]["name"] for o in statuses("servicel2statuses")}
            kube.delete("services", "web", "default")  # the node stops announcing it
            assert len(statuses("servicebgpstatuses")) == 2
            started.clear()
            stop = asyncio.Event()
            task = asyncio.create_task(run_role(stop))
            try:
                await until(lambda: not statuses("servicel2statuses"))
                await until(lambda: not statuses("servicebgpstatuses"))
            finally:
                stop.set()
                await task
            assert before  # it was there until the service went away
            await source.stop()
        await server.stop()

    arun(scenario())
