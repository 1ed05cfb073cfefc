"""The controller's sans-I/O reconciler on virtual time: scenario tables, no asyncio, no sleeps.

IPAM is the rules package over an in-memory allocator (what the IPAM service runs), answering
the reconciler's commands when a `Check(serve)` row says so; writes are recorded, not made.
"""

import copy
import functools
import operator
from collections.abc import Iterable
from typing import Any

from gateway.controller.reconciler import (
    BATCH_WAIT,
    IDLE_CHECK,
    Command,
    ControllerReconciler,
    Converge,
    EmitEvent,
    GetStatus,
    IpamStatus,
    ListPools,
    PoolCounts,
    SetPools,
    WriteConfigurationState,
    WritePoolStatus,
    WriteServiceStatus,
)
from gateway.driver import Failure
from gateway.snapshot import Snapshot, view_of
from metallb_rules.allocator.allocator import Allocator
from metallb_rules.balancer import decide_batch
from tests.gateway.virtual_time import Advance, Change, Check, Expect, VirtualTime, play

POOL: dict[str, Any] = {
    "apiVersion": "metallb.io/v1beta1",
    "kind": "IPAddressPool",
    "metadata": {"name": "p", "namespace": "metallb-system"},
    "spec": {"addresses": ["192.0.2.0/30"]},
}


def service(name: str, **status: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.1", "ports": [{"port": 80}]},
    }
    if status:
        obj["status"] = status
    return obj


class FakeSource:
    namespace = "metallb-system"

    def __init__(self, *objects: dict[str, Any]) -> None:
        self._snap = Snapshot(namespace=self.namespace)
        for obj in objects:
            self._snap.add(copy.deepcopy(obj))

    def put(self, obj: dict[str, Any]) -> None:
        self._snap.add(copy.deepcopy(obj))

    def delete(self, kind: str, key: str) -> None:
        del self._snap.objects[kind][key]

    def snapshot(self) -> Snapshot:
        return Snapshot(copy.deepcopy(self._snap.objects), self.namespace)

    def view(self, kind: str, keys: Iterable[str]) -> Snapshot:
        return view_of(self.snapshot(), kind, keys)

    def write_status(self, command: WriteServiceStatus) -> None:
        """What the API server would hold after the write (its echo comes back as a change)."""
        obj = dict(
            copy.deepcopy(self._snap.objects["Service"][f"{command.namespace}/{command.name}"])
        )
        obj["status"] = {"loadBalancer": {"ingress": [{"ip": ip} for ip in command.ingress]}}
        annotations = obj["metadata"].setdefault("annotations", {})
        annotations.pop("metallb.io/ip-allocated-from-pool", None)
        if command.pool:
            annotations["metallb.io/ip-allocated-from-pool"] = command.pool
        self.put(obj)


class FakeIpam:
    """The IPAM service's decisions, in memory; `instance` changes when it 'restarts'."""

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self.alloc = Allocator()
        self.instance = f"instance-{id(self.alloc)}"

    def answer(self, command: Command) -> object:
        alloc = self.alloc
        match command:
            case SetPools(pools=pools):
                alloc.set_pools(pools)
            case GetStatus():
                return IpamStatus(self.instance, alloc.restore_complete)
            case Converge():
                if not command.complete_set and not alloc.restore_complete:
                    return Failure(RuntimeError("UNAVAILABLE: not restored"))
                batch = [
                    (s, command.namespace_labels.get(s.namespace, {})) for s in command.services
                ]
                return decide_batch(
                    alloc, batch, complete_set=command.complete_set, deleted=command.deleted
                )
            case ListPools():
                return [
                    PoolCounts(
                        p.name,
                        alloc.usage(p.name).ipv4_in_use,
                        alloc.usage(p.name).ipv6_in_use,
                        alloc.usage(p.name).ipv4_available,
                        alloc.usage(p.name).ipv6_available,
                    )
                    for p in alloc.pools()
                ]
        return None


def describe(command: Command) -> object:
    match command:
        case Converge():
            keys = tuple(s.key for s in command.services)
            kind = "complete" if command.complete_set else "batch"
            return (
                "Converge",
                kind,
                keys,
                *(("deleted", *command.deleted) if command.deleted else ()),
            )
        case WriteServiceStatus():
            return ("Write", f"{command.namespace}/{command.name}", command.ingress)
        case EmitEvent(event=event):
            return ("Event", event.reason)
        case WriteConfigurationState(valid=valid):
            return ("ConfigurationState", valid)
        case WritePoolStatus(pool=pool, status=status):
            return ("PoolStatus", pool, status["assignedIPv4"])
    return (type(command).__name__,)


class Harness:
    def __init__(self, *objects: dict[str, Any]) -> None:
        self.source = FakeSource(*objects)
        self.ipam = FakeIpam()
        self.reconciler = ControllerReconciler(self.source)
        self.vt: VirtualTime[Any, Command] = VirtualTime(self.reconciler, describe)
        self.failing = False

    def serve(self) -> None:
        """Answer every outstanding command (and those its answers lead to), as the driver
        would; status writes land in the source (their echoes are for the test to send)."""
        while self.vt.outstanding:
            self.step()

    def step(self) -> None:
        """Answer the commands outstanding now (not those their answers lead to)."""
        for command in list(self.vt.outstanding):
            result = self.ipam.answer(command)
            if self.failing and isinstance(command, SetPools | GetStatus | Converge | ListPools):
                result = Failure(ConnectionError("IPAM unreachable"))
            if isinstance(command, WriteServiceStatus):
                self.source.write_status(command)
            self.vt.reply(functools.partial(operator.is_, command), result)

    def echo(self, name: str) -> Change:
        return Change(("Service", f"ns/{name}"))


def started(*objects: dict[str, Any]) -> Harness:
    """A reconciler past its first full pass at t=0."""
    h = Harness(POOL, *objects)
    h.vt.advance(0)
    h.serve()
    h.vt.take()
    assert h.reconciler.passes == 1
    return h


def test_first_pass_restores_then_decides_every_service_in_one_call() -> None:
    h = Harness(
        POOL, service("new"), service("old", loadBalancer={"ingress": [{"ip": "192.0.2.0"}]})
    )
    play(
        h.vt,
        [
            Advance(0),
            Expect(("FlushWrites",)),
            Check(h.step),
            Expect(("ConfigurationState", True), ("SetPools",)),
            Check(h.step),
            Expect(("GetStatus",)),
            Check(h.serve),
            # One complete set, restore order (more addresses first): old keeps its address.
            Expect(
                ("Converge", "complete", ("ns/old", "ns/new")),
                ("Write", "ns/old", ("192.0.2.0",)),  # the pool annotation it lacked
                ("Write", "ns/new", ("192.0.2.1",)),
                ("Event", "IPAllocated"),
                ("ListPools",),
                ("PoolStatus", "p", 2),
            ),
            Check(lambda: h.reconciler.passes == 1),
        ],
    )


def test_a_burst_of_changes_is_one_batch_and_echoes_cost_nothing() -> None:
    h = started()
    play(
        h.vt,
        [
            Check(lambda: h.source.put(service("a"))),
            Change(("Service", "ns/a")),
            Advance(BATCH_WAIT / 2),
            Check(lambda: h.source.put(service("b"))),
            Change(("Service", "ns/b")),
            Expect(),  # still gathering the burst
            Advance(BATCH_WAIT / 2),
            Expect(("Converge", "batch", ("ns/a", "ns/b"))),
            Check(h.serve),
            Expect(
                ("Write", "ns/a", ("192.0.2.0",)),
                ("Event", "IPAllocated"),
                ("Write", "ns/b", ("192.0.2.1",)),
                ("Event", "IPAllocated"),
                ("ListPools",),
                ("PoolStatus", "p", 2),
            ),
            # The echoes of both status writes: nothing the decision reads changed.
            h.echo("a"),
            h.echo("b"),
            Advance(BATCH_WAIT),
            Check(h.serve),
            Expect(),
            # A label is something serviceSelectors read: decided again, nothing to write.
            Check(
                lambda: h.source.put(
                    {**service("a"), "metadata": {**service("a")["metadata"], "labels": {"x": "y"}}}
                )
            ),
            Change(("Service", "ns/a")),
            Advance(BATCH_WAIT),
            Expect(("Converge", "batch", ("ns/a",))),
        ],
    )


def test_an_unreachable_ipam_is_retried_with_backoff_then_everything_is_rerun() -> None:
    h = started()
    h.failing = True
    play(
        h.vt,
        [
            Check(lambda: h.source.put(service("a"))),
            Change(("Service", "ns/a")),
            Advance(BATCH_WAIT),
            Check(h.serve),  # the Converge fails
            Expect(("Converge", "batch", ("ns/a",))),
            Advance(0.199),
            Expect(),
            Advance(0.001),
            Check(h.serve),  # a full pass, whose SetPools fails again
            Expect(("FlushWrites",), ("SetPools",)),
            Advance(0.399),
            Expect(),
            Check(lambda: setattr(h, "failing", False)),
            Advance(0.001),
            Check(h.serve),
            Expect(
                ("FlushWrites",),
                ("SetPools",),
                ("GetStatus",),
                ("Converge", "complete", ("ns/a",)),
                ("Write", "ns/a", ("192.0.2.0",)),
                ("Event", "IPAllocated"),
                ("ListPools",),
                ("PoolStatus", "p", 1),
            ),
            Check(lambda: h.reconciler.passes == 2),  # the failed pass does not count
        ],
    )


def test_a_restarted_ipam_is_seen_when_idle_and_given_every_service() -> None:
    h = started(service("a"))
    play(
        h.vt,
        [
            h.echo("a"),
            Advance(BATCH_WAIT),
            Check(h.serve),
            Expect(),
            Advance(IDLE_CHECK),
            Expect(("GetStatus",)),
            Check(h.serve),
            Expect(),  # the same instance: nothing to do
            Check(h.ipam.restart),
            Advance(IDLE_CHECK),
            Check(h.serve),
            # The restarted IPAM gets the status back as one complete set: nothing to write.
            Expect(
                ("GetStatus",),
                ("FlushWrites",),
                ("SetPools",),
                ("GetStatus",),
                ("Converge", "complete", ("ns/a",)),
                ("ListPools",),
            ),
            Check(lambda: h.ipam.alloc.get("ns/a") is not None),
        ],
    )


def test_a_freed_address_or_a_configuration_change_reruns_every_service() -> None:
    h = started(*(service(name) for name in "abcde"))
    assert h.ipam.alloc.get("ns/e") is None  # a /30 holds four: e waits
    play(
        h.vt,
        [
            Check(lambda: h.source.delete("Service", "ns/a")),
            Change(("Service", "ns/a")),
            Advance(BATCH_WAIT),
            Check(h.serve),
            # a held an address: every service is re-run, and e gets the one a freed.
            Expect(
                ("Converge", "batch", (), "deleted", "ns/a"),
                ("FlushWrites",),
                ("SetPools",),
                ("GetStatus",),
                ("Converge", "complete", ("ns/b", "ns/c", "ns/d", "ns/e")),
                ("Write", "ns/e", ("192.0.2.0",)),
                ("Event", "IPAllocated"),
                ("ListPools",),
            ),
            Check(lambda: h.reconciler.passes == 2),
            Change(("IPAddressPool", "metallb-system/p")),
            Advance(BATCH_WAIT),
            Expect(("FlushWrites",)),
        ],
    )


def test_an_invalid_configuration_keeps_the_last_valid_one() -> None:
    h = started(service("a"))
    bad = copy.deepcopy(POOL)
    bad["spec"]["addresses"] = ["192.0.2.0/33"]
    play(
        h.vt,
        [
            Check(lambda: h.source.put(bad)),
            Change(("IPAddressPool", "metallb-system/p")),
            Advance(BATCH_WAIT),
            Check(h.serve),
            Check(lambda: h.reconciler.stale),
            # Invalid is reported; the last valid pools are sent again; a keeps its address.
            Expect(
                ("FlushWrites",),
                ("ConfigurationState", False),
                ("SetPools",),
                ("GetStatus",),
                ("Converge", "complete", ("ns/a",)),
                ("ListPools",),
            ),
        ],
    )


def test_after_a_restart_services_that_no_longer_want_an_address_release_theirs() -> None:
    """Issue 14, as MetalLB at startup: Services whose type changed (to ClusterIP) or whose
    loadBalancerClass changed (to another implementation's) while the controller was down
    are left out of the first full pass's complete set, so IPAM releases their addresses
    (whether IPAM kept running or restarted and restored from status) and a Service that
    waited gets one."""
    for ipam_restarts in (False, True):
        h = started(*(service(name) for name in "abcde"))
        assert h.ipam.alloc.get("ns/e") is None  # a /30 holds four: e waits
        held = {name: h.ipam.alloc.get(f"ns/{name}") for name in "ab"}
        assert all(held.values())
        # The controller is down: a becomes a ClusterIP Service, b another class's; both
        # still show their address in status (no one cleared it).
        for name, change in (("a", {"type": "ClusterIP"}), ("b", {"loadBalancerClass": "other"})):
            obj = dict(h.source.snapshot().objects["Service"][f"ns/{name}"])
            obj["spec"] = {**obj["spec"], **change}
            h.source.put(obj)
        if ipam_restarts:
            h.ipam.restart()
        restarted = ControllerReconciler(h.source)
        h.reconciler = restarted
        h.vt = VirtualTime(restarted, describe)
        h.vt.advance(0)
        h.serve()
        assert restarted.passes == 1
        assert h.ipam.alloc.get("ns/a") is None, ipam_restarts
        assert h.ipam.alloc.get("ns/b") is None, ipam_restarts
        assert h.ipam.alloc.get("ns/e") is not None, ipam_restarts
        holders = [h.ipam.alloc.get(f"ns/{name}") for name in "cde"]
        addresses = [str(ip) for alloc in holders if alloc is not None for ip in alloc.ips]
        assert len(addresses) == len(set(addresses)) == 3
