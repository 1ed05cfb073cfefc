"""The controller role against the fake API server, through the real `kubernetes` client.

Pools and Services are created as a user would; the role must write the address and the
`metallb.io/ip-allocated-from-pool` annotation through the status subresource, emit events, keep
every address across a restart of IPAM, and clear status when the pool goes away.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from gateway.controller.ipam_client import GrpcIpam
from gateway.controller.role import ControllerRole
from gateway.kube.source import KubeSource
from gateway.kube.writer import KubeWriter
from metallb.ipam.v1 import ipam_pb2_grpc
from metallb_runtime.channel import service_channel
from metallb_runtime.server import Server
from services.ipam.service import ipam_binding
from tests.fakekube import FakeKube
from tests.gateway.polling import until

POOL = {
    "apiVersion": "metallb.io/v1beta1",
    "kind": "IPAddressPool",
    "metadata": {"name": "default", "namespace": "metallb-system"},
    "spec": {"addresses": ["192.0.2.0/30"]},
}


def service(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "type": "LoadBalancer",
            "clusterIP": "10.96.0.1",
            "ports": [{"port": 80, "protocol": "TCP"}],
        },
    }


def ingress(kube: FakeKube, name: str) -> list[str]:
    obj = kube.get("services", name, "default")
    return [i["ip"] for i in (obj.get("status", {}).get("loadBalancer", {}).get("ingress") or [])]


async def start_ipam(socket: Path) -> Server:
    registry = CollectorRegistry()
    server = Server([ipam_binding(registry)], f"unix:{socket}", registry=registry, grace=0.1)
    await server.start()
    return server


def test_controller_role_end_to_end(arun: Callable[..., Any], tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_controller(tmp_path, [service("first")]) as harness:
            kube, role = harness.kube, harness.role
            await until(lambda: ingress(kube, "first") == ["192.0.2.0"])
            annotations = kube.get("services", "first", "default")["metadata"]["annotations"]
            assert annotations["metallb.io/ip-allocated-from-pool"] == "default"
            # Events are written after the status: wait for them too.
            await until(
                lambda: "IPAllocated" in [e["reason"] for e in kube.list("events", "default")]
            )
            state = kube.get("configurationstates.metallb.io", "controller", "metallb-system")
            assert state["status"]["result"] == "Valid"
            await until(
                lambda: (
                    kube.get("ipaddresspools.metallb.io", "default", "metallb-system").get("status")
                    == {
                        "assignedIPv4": 1,
                        "assignedIPv6": 0,
                        "availableIPv4": 3,
                        "availableIPv6": 0,
                    }
                )
            )
            # A typo: Invalid, the last valid configuration stays (stale).
            bad = kube.get("ipaddresspools.metallb.io", "default", "metallb-system")
            bad["spec"]["addresses"] = ["192.0.2.0/33"]
            kube.update(bad)
            await until(
                lambda: (
                    kube.get("configurationstates.metallb.io", "controller", "metallb-system")[
                        "status"
                    ]["result"]
                    == "Invalid"
                )
            )
            assert role.metrics.config_stale._value.get() == 1
            assert ingress(kube, "first") == ["192.0.2.0"]
            good = kube.get("ipaddresspools.metallb.io", "default", "metallb-system")
            good["spec"]["addresses"] = ["192.0.2.0/30"]
            kube.update(good)
            await until(lambda: not role.stale)
            # IPAM restarts: nothing is lost, and the next service gets the next address.
            await harness.restart_ipam()
            kube.create(service("second"))
            await until(lambda: ingress(kube, "second") == ["192.0.2.1"])
            assert ingress(kube, "first") == ["192.0.2.0"]
            # Two of three new services fit; deleting one frees its address for the
            # pending one (which one waits depends on processing order, as in MetalLB).
            new = ("third", "fourth", "fifth")
            for name in new:
                kube.create(service(name))

            def holders() -> dict[str, list[str]]:
                return {n: ingress(kube, n) for n in new}

            await until(
                lambda: (
                    sorted(map(tuple, holders().values())) == [(), ("192.0.2.2",), ("192.0.2.3",)]
                )
            )
            (pending,) = [n for n, ips in holders().items() if not ips]
            kube.delete("services", "second", "default")
            await until(lambda: ingress(kube, pending) == ["192.0.2.1"])
            # The pool goes away: every status is cleared.
            kube.delete("ipaddresspools.metallb.io", "default", "metallb-system")
            await until(lambda: ingress(kube, "first") == [])
            annotations = (
                kube.get("services", "first", "default")["metadata"].get("annotations") or {}
            )
            assert "metallb.io/ip-allocated-from-pool" not in annotations

    arun(scenario())


@dataclass
class Harness:
    kube: FakeKube
    role: ControllerRole
    socket: Path
    ipam: Server

    async def restart_ipam(self) -> None:
        await self.ipam.stop()
        self.ipam = await start_ipam(self.socket)


@contextlib.asynccontextmanager
async def running_controller(
    tmp_path: Path,
    before: Sequence[dict[str, Any]] = (),
    health: Callable[[bool], None] = lambda serving: None,
) -> AsyncIterator[Harness]:
    """The fake API server with the pool (and `before`), IPAM, and a controller role running
    against them, past its first pass; `health` is told the role's readiness."""
    socket = tmp_path / "ipam.sock"
    with FakeKube() as kube:
        api = kube.api_client()
        for obj in [POOL, *before]:
            kube.create(obj)
        ipam = await start_ipam(socket)
        source = KubeSource(api, "metallb-system", watch_timeout=5)
        await source.start()
        try:
            async with service_channel(f"unix:{socket}") as channel:
                ipam_client = GrpcIpam(ipam_pb2_grpc.IPAMServiceStub(channel))
                role = ControllerRole(source, KubeWriter(api), ipam_client, health=health)
                harness = Harness(kube, role, socket, ipam)
                stop = asyncio.Event()
                task = asyncio.create_task(role.run(stop))
                try:
                    await until(lambda: role.passes >= 1)
                    yield harness
                finally:
                    stop.set()
                    await task
                    ipam = harness.ipam  # the one running now
        finally:
            await source.stop()
            await ipam.stop()
            api.close()


def test_the_echo_of_a_status_write_is_not_converged_again(
    arun: Callable[..., Any], tmp_path: Path
) -> None:
    """Every status write comes back through the watch: that echo must cost no convergence
    (and no write), while any change to what convergence reads must."""

    async def scenario() -> None:
        async with running_controller(tmp_path) as harness:
            kube, role = harness.kube, harness.role

            def updates() -> float:
                return float(role.metrics.updates._value.get())

            async def handled_so_far(probe: str, address: str) -> None:
                """Synchronise on events, not time: Service events arrive in order on one
                watch, so once a Service created now has its address, every Service event
                before it (the echoes among them) has been handled."""
                kube.create(service(probe))
                await until(lambda: ingress(kube, probe) == [address])

            base = updates()
            kube.create(service("web"))
            await until(lambda: ingress(kube, "web") == ["192.0.2.0"])
            await handled_so_far("probe-1", "192.0.2.1")
            assert updates() - base == 2  # web and probe-1; not web's echo
            assert len(kube.requests_to("PUT", r"/services/web/status$")) == 1
            # A label (serviceSelectors read them) is a change: converged again, nothing to
            # write.
            web = kube.get("services", "web", "default")
            web["metadata"]["labels"] = {"tier": "front"}
            kube.update(web)
            await handled_so_far("probe-2", "192.0.2.2")
            assert updates() - base == 4
            assert len(kube.requests_to("PUT", r"/services/web/status$")) == 1
            # The status changed by someone else: converged again (MetalLB keeps an address
            # from status when the pool can give it).
            web = kube.get("services", "web", "default")
            web["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.3"}]}}
            kube.update_status(web)
            await handled_so_far("probe-3", "192.0.2.0")  # the address web left
            assert updates() - base == 6
            assert ingress(kube, "web") == ["192.0.2.3"]

    arun(scenario())


def test_a_deleted_configuration_state_is_written_again(
    arun: Callable[..., Any], tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running_controller(tmp_path) as harness:
            kube = harness.kube

            def state() -> dict[str, Any]:
                found = kube.find("configurationstates.metallb.io", "controller", "metallb-system")
                return found or {}

            await until(lambda: bool(state().get("status")))
            uid = state()["metadata"]["uid"]
            kube.delete("configurationstates.metallb.io", "controller", "metallb-system")
            await until(
                lambda: (
                    state().get("metadata", {}).get("uid") not in (None, uid)
                    and state().get("status", {}).get("result") == "Valid"
                ),
                timeout=10.0,
            )

    arun(scenario())


def test_a_refused_status_write_is_reported_and_the_controller_unready_until_it_goes_through(
    arun: Callable[..., Any], tmp_path: Path
) -> None:
    """Issue 14: the API answers 422 to web's status write (with a long message). The write is
    dropped after 3 tries and reported: a Warning event on web (bounded text), the
    `metallb_k8s_client_*` counters, ConfigurationState's `statusWriterValid` False, readiness
    NOT_SERVING; other Services are served meanwhile. Once the API accepts it, web's next change
    writes it and everything is back to normal."""
    readiness: list[bool] = []

    async def scenario() -> None:
        async with running_controller(tmp_path, health=readiness.append) as harness:
            kube, role = harness.kube, harness.role
            kube.inject_failure(
                422, times=1000, method="PUT", path=r"/services/web/status$", message="y" * 5000
            )
            kube.create(service("web"))

            def warnings() -> list[dict[str, Any]]:
                return [e for e in kube.list("events", "default") if e["type"] == "Warning"]

            await until(lambda: bool(warnings()))
            (event,) = warnings()
            assert event["involvedObject"]["name"] == "web"
            assert event["reason"] == "StatusUpdateFailed"
            assert event["message"].startswith(
                "failed to update the status after 3 tries, trying again in 30s: "
                "422 Unprocessable Entity: yyy"
            )
            assert len(event["message"]) < 500
            assert readiness == [False]
            registry = role.metrics.registry
            kind = {"kind": "Service"}
            assert registry.get_sample_value("metallb_k8s_client_dropped_writes_total", kind) == 1
            assert registry.get_sample_value("metallb_k8s_client_write_errors_total", kind) == 3

            def condition() -> dict[str, Any]:
                state = kube.get("configurationstates.metallb.io", "controller", "metallb-system")
                found = [
                    c
                    for c in state.get("status", {}).get("conditions", [])
                    if c["type"] == "statusWriterValid"
                ]
                return found[0] if found else {}

            await until(lambda: condition().get("status") == "False")
            assert condition()["reason"] == "UnknownError"
            assert condition()["message"].startswith(
                "status writes failing for 1 object(s): Service/default/web: "
                "422 Unprocessable Entity: yyy"
            )
            # Nothing waits on it: the next Service gets its address.
            kube.create(service("next"))
            await until(lambda: ingress(kube, "next") == ["192.0.2.1"])
            # The API accepts web's status again; its next change writes it.
            kube.clear_faults()
            web = kube.get("services", "web", "default")
            web["metadata"]["labels"] = {"retry": "now"}
            kube.update(web)
            await until(lambda: ingress(kube, "web") == ["192.0.2.0"])
            await until(lambda: condition().get("status") == "True")
            await until(lambda: readiness == [False, True])
            assert role.reconciler.failing_writes == {}

    arun(scenario())
