"""The speaker's BGP passwords come from the controller's copy (gateway/peer_passwords.py), against
the fake API server enforcing the deployed RBAC (deploy/, rendered by kubectl): the controller's
client has the controller's rules, the speaker's the speaker's, whose only Secret is the copy.

The controller role (with IPAM) and the node role (with the BGP service, each AddPeer /
UpdatePeer recorded on its way) run as in a cluster: a BGPPeer's passwordSecret reaches the
speaker's AddPeer through the copy, a changed password follows, a deleted peer's key goes, and
MetalLB's errors about the Secret are the same on both roles.
"""

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from prometheus_client import CollectorRegistry

from gateway.controller.ipam_client import GrpcIpam
from gateway.controller.role import ControllerRole
from gateway.kube.source import KubeSource
from gateway.kube.writer import KubeWriter
from gateway.node.role import NodeRole
from gateway.peer_passwords import COPY_SECRET
from metallb.bgp.v1 import bgp_pb2_grpc
from metallb.ipam.v1 import ipam_pb2_grpc
from metallb_runtime.channel import service_channel
from metallb_runtime.server import Server
from services.bgp.service import bgp_binding
from services.ipam.service import ipam_binding
from tests.deploy.conftest import rendered
from tests.deploy.test_rbac_can_i import CONTROLLER, SPEAKER, can_i
from tests.fakekube import FakeKube
from tests.fakekube.fake import Access
from tests.gateway.polling import until

NS = "metallb-system"
POOL = {
    "apiVersion": "metallb.io/v1beta1",
    "kind": "IPAddressPool",
    "metadata": {"name": "pool", "namespace": NS},
    "spec": {"addresses": ["192.0.2.0/28"]},
}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}


def peer(name: str, secret: str, address: str = "127.0.0.1") -> dict[str, Any]:
    return {
        "apiVersion": "metallb.io/v1beta2",
        "kind": "BGPPeer",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "myASN": 64512,
            "peerASN": 64512,
            "peerAddress": address,
            "peerPort": 1179,
            "passwordSecret": {"name": secret, "namespace": NS},
        },
    }


def secret(name: str, password: str | None, kind: str = "kubernetes.io/basic-auth") -> Any:
    data = {} if password is None else {"password": base64.b64encode(password.encode()).decode()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NS},
        "type": kind,
        "data": data,
    }


def authorizer(account: tuple[str, str]) -> Callable[[Access], bool]:
    docs = rendered("bgp")

    def allowed(access: Access) -> bool:
        return can_i(
            docs,
            account,
            access.verb,
            access.resource,
            access.namespace,
            name=access.name,
            group=access.group,
        )

    return allowed


@dataclass
class RecordingBGP:
    """The real BGP service's stub, remembering the password of each peer it was last sent."""

    stub: Any
    passwords: dict[str, str] = field(default_factory=dict)

    def __getattr__(self, method: str) -> Any:
        call = getattr(self.stub, method)
        if method not in ("AddPeer", "UpdatePeer", "DeletePeer"):
            return call

        async def recorded(request: Any, **kw: Any) -> Any:
            reply = await call(request, **kw)
            if method in ("AddPeer", "UpdatePeer"):
                self.passwords[request.peer.name] = request.peer.password
            elif method == "DeletePeer":
                self.passwords.pop(request.name, None)
            return reply

        return recorded


@dataclass
class Cluster:
    kube: FakeKube
    controller: ControllerRole
    node: NodeRole
    bgp: RecordingBGP


async def _server(binding: Callable[[CollectorRegistry], Any], socket: Path) -> Server:
    registry = CollectorRegistry()
    server = Server([binding(registry)], f"unix:{socket}", registry=registry, grace=0.1)
    await server.start()
    return server


@contextlib.asynccontextmanager
async def cluster(tmp_path: Path, objects: list[dict[str, Any]]) -> AsyncIterator[Cluster]:
    authorizers = {"controller": authorizer(CONTROLLER), "speaker": authorizer(SPEAKER)}
    with FakeKube(authorizers=authorizers) as kube:
        for obj in [POOL, NODE, *objects]:
            kube.create(obj)
        controller_api, speaker_api = kube.api_client("controller"), kube.api_client("speaker")
        ipam = await _server(ipam_binding, tmp_path / "ipam.sock")
        bgp = await _server(bgp_binding, tmp_path / "bgp.sock")
        controller_source = KubeSource(controller_api, NS, watch_timeout=5, endpoint_slices=False)
        node_source = KubeSource(speaker_api, NS, watch_timeout=5, peer_passwords=COPY_SECRET)
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        try:
            await controller_source.start(timeout=10)
            await node_source.start(timeout=10)
            async with (
                service_channel(f"unix:{tmp_path / 'ipam.sock'}") as ipam_channel,
                service_channel(f"unix:{tmp_path / 'bgp.sock'}") as bgp_channel,
            ):
                writer = KubeWriter(controller_api, NS)
                ipam_client = GrpcIpam(ipam_pb2_grpc.IPAMServiceStub(ipam_channel))
                controller = ControllerRole(
                    controller_source, writer, ipam_client, peer_passwords=writer
                )
                recording = RecordingBGP(bgp_pb2_grpc.BGPServiceStub(bgp_channel))
                stub = cast(bgp_pb2_grpc.BGPServiceStub, recording)
                node = NodeRole(node_source, "node-1", l2=None, bgp=stub)
                tasks = [
                    asyncio.create_task(controller.run(stop)),
                    asyncio.create_task(node.run(stop)),
                ]
                yield Cluster(kube, controller, node, recording)
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await controller_source.stop()
            await node_source.stop()
            await ipam.stop()
            await bgp.stop()
            controller_api.close()
            speaker_api.close()


def copy_keys(kube: FakeKube) -> set[str]:
    copy = kube.find("secrets", COPY_SECRET, NS)
    return set((copy or {}).get("data") or {})


def test_a_peer_password_reaches_the_speaker_through_the_copy_and_follows_changes(
    arun: Callable[[Awaitable[None]], None], tmp_path: Path
) -> None:
    objects = [
        peer("router", "bgp-password"),
        peer("backup", "backup-password", "127.0.0.2"),
        secret("bgp-password", "s3cret"),
        secret("backup-password", "other"),
        secret("unrelated", "not for the speaker"),
    ]

    async def scenario() -> None:
        async with cluster(tmp_path, objects) as c:
            want = {"router": "s3cret", "backup": "other"}
            await until(lambda: c.bgp.passwords == want)
            assert copy_keys(c.kube) == {"router", "backup"}
            # The user changes the password: the copy, then the speaker's peer follow.
            changed = c.kube.get("secrets", "bgp-password", NS)
            changed["data"]["password"] = base64.b64encode(b"n3w-s3cret").decode()
            c.kube.update(changed)
            await until(lambda: c.bgp.passwords.get("router") == "n3w-s3cret")
            # The peer is deleted: its key leaves the copy, the speaker deletes the peer.
            c.kube.delete("bgppeers.metallb.io", "backup", NS)
            await until(lambda: copy_keys(c.kube) == {"router"})
            await until(lambda: c.bgp.passwords == {"router": "n3w-s3cret"})
            # A copy edited by someone else is written back.
            edited = c.kube.get("secrets", COPY_SECRET, NS)
            edited["data"] = {}
            c.kube.update(edited)
            await until(lambda: copy_keys(c.kube) == {"router"})

    arun(scenario())


MISMATCH = (
    'parsing peer router secret type mismatch on "metallb-system"/"bgp-password", '
    'type "kubernetes.io/basic-auth" is expected \nfailed to parse peer router password secret'
)
NO_PASSWORD = (
    'parsing peer router password not specified in the secret "metallb-system"/"bgp-password"'
    "\nfailed to parse peer router password secret"
)
NOT_FOUND = (
    'parsing peer router secret ref not found for peer config "metallb-system"/"bgp-password"'
    "\nfailed to parse peer router password secret"
)


def test_the_secret_errors_are_metallbs_on_both_roles(
    arun: Callable[[Awaitable[None]], None], tmp_path: Path
) -> None:
    """Reference §2, passwordSecret checks: the speaker, reading the copy, reports what the
    controller, reading the user's Secret, reports."""

    async def scenario() -> None:
        objects = [peer("router", "bgp-password"), secret("bgp-password", "x", "Opaque")]
        async with cluster(tmp_path, objects) as c:

            def errors() -> tuple[str | None, str | None]:
                roles = (c.controller.config_error, c.node.reconciler.config_error)
                return cast(
                    tuple[str | None, str | None],
                    tuple(None if e is None else e.message for e in roles),
                )

            await until(lambda: errors() == (MISMATCH, MISMATCH))
            fixed = secret("bgp-password", None)
            fixed["metadata"] = c.kube.get("secrets", "bgp-password", NS)["metadata"]
            c.kube.update(fixed)
            await until(lambda: errors() == (NO_PASSWORD, NO_PASSWORD))
            c.kube.delete("secrets", "bgp-password", NS)
            await until(lambda: errors() == (NOT_FOUND, NOT_FOUND))
            assert c.bgp.passwords == {}

    arun(scenario())
