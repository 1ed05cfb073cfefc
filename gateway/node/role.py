"""The node role as a process part: its reconciler (gateway/node/reconciler.py) run by the
shared driver (gateway/driver.py), with the node's L2 and BGP services and a status writer.

This module is the I/O: the source's change queue and the services' watch streams (restarts,
gateway/instance_watch.py) feed the driver; `NodeRole._execute` turns the reconciler's commands
into RPCs on the stubs, a listing of this node's status objects (a thread: the Kubernetes client
blocks) and writes on a `WriteQueue`.
"""

import asyncio
import functools
from collections.abc import AsyncIterable
from typing import Any, Protocol

from gateway.controller.writes import WriteQueue
from gateway.driver import Driver, queue_changes
from gateway.instance_watch import resume_token_instance, watch_instances
from gateway.node.bfd_watch import watch_bfd
from gateway.node.facts import FactsWatch
from gateway.node.facts_writer import FactsWriter, queue_fact_op
from gateway.node.liveness import Liveness
from gateway.node.reconciler import (
    DEFAULT_TIMING,
    Leave,
    ListStatusObjects,
    NodeChange,
    NodeCommand,
    NodeReconciler,
    NodeTiming,
    ReleaseLease,
    RenewLease,
    Rpc,
    WriteFacts,
    WriteStatus,
)
from gateway.node.status import (
    ConfigurationStateWrite,
    NodeAssigned,
    StatusOp,
    StatusWrite,
    StatusWriter,
)
from gateway.snapshot import Snapshot
from metallb.bfd.v1 import bfd_pb2_grpc
from metallb.bgp.v1 import bgp_pb2, bgp_pb2_grpc
from metallb.l2.v1 import l2_pb2, l2_pb2_grpc


class LeaseHolder(Protocol):
    def try_hold(self) -> bool:
        """Acquire or renew (blocking); True while we hold the Lease."""
        ...

    def release(self) -> None:
        """Give the Lease up (blocking), if we hold it."""
        ...


class Source(Protocol):
    changes: asyncio.Queue[tuple[str, str]]

    def snapshot(self) -> Snapshot: ...


def queue_status_op(op: StatusOp, writer: StatusWriter, queue: WriteQueue) -> None:
    """Put one status write on the queue (keyed: the latest write per object wins)."""
    match op:
        case StatusWrite(plural, key, status):
            queue.put(op.key, functools.partial(writer.write, plural, key, status))
        case NodeAssigned(service, protocol):
            queue.event(functools.partial(writer.node_assigned, service, protocol))
        case ConfigurationStateWrite(valid, message):
            write = functools.partial(writer.configuration_state, valid, message)
            queue.put("ConfigurationState", write)


class NodeRole:
    def __init__(
        self,
        source: Source,
        node: str,
        *,
        l2: l2_pb2_grpc.L2ServiceStub | None,
        bgp: bgp_pb2_grpc.BGPServiceStub | None,
        leases: bool = False,
        lease: LeaseHolder | None = None,
        renew_every: float = 5.0,
        lb_class: str = "",
        statuses: StatusWriter | None = None,
        facts: FactsWriter | None = None,
        timing: NodeTiming = DEFAULT_TIMING,
        bfd: bfd_pb2_grpc.BFDServiceStub | None = None,
        liveness: Liveness | None = None,
        leave_within: float = 5.0,
    ) -> None:
        """With `liveness`, L2 members come from BFD (through `bfd`) and Leases, with fencing;
        on stop the role hands its addresses over (at most `leave_within` seconds)."""
        self._source = source
        self._facts = facts
        self.node = node
        self._stubs: dict[str, Any] = {}
        if l2 is not None:
            self._stubs["l2"] = l2
        if bgp is not None:
            self._stubs["bgp"] = bgp
        if bfd is not None:
            self._stubs["bfd"] = bfd
        self._leave_within = leave_within
        self._statuses = statuses
        self._lease = lease
        self._writes = WriteQueue(concurrency=2)  # status objects and events; runs with `run`
        self.reconciler = NodeReconciler(
            node,
            source.snapshot,
            l2=l2 is not None,
            bgp=bgp is not None,
            leases=leases,
            renew_every=renew_every if lease is not None else None,
            lb_class=lb_class,
            statuses=statuses is not None,
            timing=timing,
            liveness=liveness,
        )

        self._pass_waiters: list[asyncio.Future[None]] = []
        self._step_waiters: list[asyncio.Future[None]] = []
        self._passes_seen = 0

    @property
    def syncs(self) -> int:
        return self.reconciler.syncs

    async def next_pass(self) -> None:
        """Return when the reconciler completes another pass (what tests wait on)."""
        waiter = asyncio.get_running_loop().create_future()
        self._pass_waiters.append(waiter)
        await waiter

    def _stepped(self) -> None:
        steps, self._step_waiters = self._step_waiters, []
        for waiter in steps:
            if not waiter.done():
                waiter.set_result(None)
        if self.reconciler.syncs == self._passes_seen:
            return
        self._passes_seen = self.reconciler.syncs
        waiters, self._pass_waiters = self._pass_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _sources(self) -> list[AsyncIterable[NodeChange]]:
        changes: AsyncIterable[tuple[str, str]] = queue_changes(self._source.changes)
        sources: list[AsyncIterable[NodeChange]] = [changes]
        if "l2" in self._stubs:
            l2 = self._stubs["l2"]
            sources.append(
                watch_instances(
                    "l2",
                    lambda: l2.WatchEvents(l2_pb2.WatchEventsRequest(), wait_for_ready=True),
                    resume_token_instance,
                    # (facts, and hand-offs: the announcements of other nodes it reports)
                    functools.partial(FactsWatch, "l2")
                    if self._facts is not None or self.reconciler.liveness is not None
                    else None,
                )
            )
        if "bgp" in self._stubs:
            bgp = self._stubs["bgp"]
            sources.append(
                watch_instances(
                    "bgp",
                    lambda: bgp.WatchPeers(bgp_pb2.WatchPeersRequest(), wait_for_ready=True),
                    resume_token_instance,
                    functools.partial(FactsWatch, "bgp") if self._facts is not None else None,
                )
            )
        if "bfd" in self._stubs:
            sources.append(watch_bfd(self._stubs["bfd"]))
        return sources

    async def _execute(self, command: NodeCommand) -> object:
        match command:
            case Rpc(service=service, method=method, request=request):
                return await getattr(self._stubs[service], method)(request)
            case ListStatusObjects():
                assert self._statuses is not None
                return await asyncio.to_thread(self._statuses.existing)
            case RenewLease():
                assert self._lease is not None
                return await asyncio.to_thread(self._lease.try_hold)
            case ReleaseLease():
                assert self._lease is not None
                await asyncio.to_thread(self._lease.release)
            case WriteStatus(ops=ops):
                assert self._statuses is not None
                for op in ops:
                    queue_status_op(op, self._statuses, self._writes)
            case WriteFacts(ops=ops):
                if self._facts is not None:
                    for fact in ops:
                        queue_fact_op(fact, self._facts, self._writes)
        return None

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop`; then leave (hand our addresses over) before returning."""
        driver = Driver(self.reconciler, self._execute, self._sources(), on_step=self._stepped)
        done = asyncio.Event()
        async with self._writes:
            running = asyncio.create_task(driver.run(done))
            stopped = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait({running, stopped}, return_when=asyncio.FIRST_COMPLETED)
                if not running.done():
                    driver.put(Leave())
                    left = asyncio.create_task(self._left())
                    await asyncio.wait({running, left}, timeout=self._leave_within)
                    left.cancel()
            finally:
                done.set()
                stopped.cancel()
                await running

    async def _left(self) -> None:
        while not self.reconciler.left:
            await self.next_pass_or_step()

    async def next_pass_or_step(self) -> None:
        """Return after the driver's next step."""
        waiter = asyncio.get_running_loop().create_future()
        self._step_waiters.append(waiter)
        await waiter
