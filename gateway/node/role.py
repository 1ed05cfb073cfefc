"""The node role: keep this node's L2 and BGP services holding exactly what it must announce.

After every change (or a restart of either service) it recomputes the node's desired state and
sends the difference: the full announcement set to L2 (`SetAnnouncements`, declarative), peers
to BGP (`AddPeer`/`UpdatePeer`/`DeletePeer`) and the full route set (`SetAdvertisements`).
A restart is noticed by a broken watch stream (`WatchEvents`, `WatchPeers`): what the service
held is then sent again, so within a moment of being back it holds what it held before. An
unreachable service is retried with backoff; the other one is still served. An invalid
configuration keeps the last valid one in force.
"""

import asyncio
import contextlib
import datetime
import logging
from collections.abc import Callable, Collection, Mapping
from typing import Any, Protocol

import grpc

from gateway.controller.writes import WriteQueue
from gateway.node.desired import DesiredMemo, NodeDesired
from gateway.node.rpc import AdvertisementBuilder, announcement_specs, peer_conf
from gateway.node.status import BGP, L2, StatusReporter, StatusWriter, wanted_statuses
from gateway.snapshot import Snapshot
from metallb.bgp.v1 import bgp_pb2, bgp_pb2_grpc
from metallb.l2.v1 import l2_pb2, l2_pb2_grpc
from metallb_rules.config.model import Config, ConfigError
from metallb_rules.config.parse import parse

log = logging.getLogger(__name__)

NODE_LEASE_PREFIX = "metallb-grpc-node-"
SETTLE_QUIET = 0.02  # seconds without a change that end a burst
SETTLE_MAX = 0.5  # a steady stream of changes still gets a pass this often
# Status objects (ServiceL2Status, ServiceBGPStatus: two API writes each) wait until changes
# have stopped for REPORT_QUIET seconds, so that a burst's announcements are not slowed by them,
# but under changes that never stop they are still written at least every REPORT_AT_LEAST_EVERY.
REPORT_QUIET = 0.5
REPORT_AT_LEAST_EVERY = 30.0


class Source(Protocol):
    changes: asyncio.Queue[tuple[str, str]]

    def snapshot(self) -> Snapshot: ...


def live_nodes_from_leases(snap: Snapshot, now: datetime.datetime | None = None) -> set[str]:
    """Nodes whose `metallb-grpc-node-<node>` Lease was renewed within its duration."""
    now = now or datetime.datetime.now(datetime.UTC)
    live = set()
    for lease in snap.of("Lease"):
        name = str((lease.get("metadata") or {}).get("name") or "")
        if not name.startswith(NODE_LEASE_PREFIX):
            continue
        spec = lease.get("spec") or {}
        renewed = spec.get("renewTime")
        if not renewed:
            continue
        at = datetime.datetime.fromisoformat(str(renewed).replace("Z", "+00:00"))
        if at + datetime.timedelta(seconds=int(spec.get("leaseDurationSeconds") or 15)) >= now:
            live.add(name.removeprefix(NODE_LEASE_PREFIX))
    return live


class NodeRole:
    def __init__(
        self,
        source: Source,
        node: str,
        *,
        l2: l2_pb2_grpc.L2ServiceStub | None,
        bgp: bgp_pb2_grpc.BGPServiceStub | None,
        live: Callable[[Snapshot], Collection[str] | None] = lambda snap: None,
        lb_class: str = "",
        statuses: StatusWriter | None = None,
    ) -> None:
        self._source = source
        self.node = node
        self._l2 = l2
        self._bgp = bgp
        self._live = live
        self._lb_class = lb_class
        self.config: Config | None = None
        self.config_error: ConfigError | None = None
        self.desired = NodeDesired()
        self._memo = DesiredMemo(node, lb_class)
        # What each service holds as far as we know; None: unknown, send everything.
        self._l2_sent: list[l2_pb2.AnnouncementSpec] | None = None
        self._peers_sent: dict[str, bgp_pb2.PeerConf] | None = None
        self._ads_sent: list[bgp_pb2.PeerAdvertisements] | None = None
        self._ads = AdvertisementBuilder()
        self._wake = asyncio.Event()
        self.syncs = 0
        self._pass_seconds = 0.0  # how long the last compute-and-sync pass took
        self._reporter = StatusReporter(node, statuses) if statuses is not None else None
        self._writes = WriteQueue(concurrency=2)  # status objects and events; runs with `run`
        self._services: Mapping[str, Mapping[str, Any]] = {}
        self._changed_at = 0.0  # loop time of the last change seen
        self._state_changed = False  # a change to our ConfigurationState was noted
        # (kind, key) changed since the last computation; None: unknown, look at everything.
        self._changed: set[tuple[str, str]] | None = None
        self._reported_at = -REPORT_AT_LEAST_EVERY  # loop time of the last status report

    def _compute(self) -> None:
        snap = self._source.snapshot()
        try:
            self.config = parse(snap.cluster_resources())
            self.config_error = None
        except ConfigError as err:
            self.config_error = err
            log.error("configuration error: %s (keeping the last valid one)", err.describe())
        if self.config is None:
            return
        changed, self._changed = self._changed, set()
        self.desired = self._memo.compute(snap, self.config, self._live(snap), changed)
        self._services = snap.objects.get("Service", {})
        # Our ConfigurationState changed and is gone (deleted by hand): write it again.
        if self._state_changed and self._reporter is not None:
            state = f"{snap.namespace}/speaker-{self.node}"
            if state not in snap.objects.get("ConfigurationState", {}):
                self._reporter.forget_configuration()
        self._state_changed = False

    async def _sync_l2(self) -> None:
        if self._l2 is None:
            return
        specs = announcement_specs(self.desired.layer2)
        if specs != self._l2_sent:
            await self._l2.SetAnnouncements(l2_pb2.SetAnnouncementsRequest(announcements=specs))
            self._l2_sent = specs

    async def _sync_bgp(self) -> None:
        if self._bgp is None:
            return
        profiles = self.config.bfd_profiles if self.config is not None else {}
        wanted = {p.name: peer_conf(p, profiles) for p in self.desired.peers}
        if self._peers_sent is None:
            held = await self._bgp.ListPeers(bgp_pb2.ListPeersRequest())
            self._peers_sent = {p.conf.name: p.conf for p in held.peers}
        for name in sorted(set(self._peers_sent) - set(wanted)):
            await self._bgp.DeletePeer(bgp_pb2.DeletePeerRequest(name=name))
            del self._peers_sent[name]
        for name, conf in sorted(wanted.items()):
            if name not in self._peers_sent:
                await self._bgp.AddPeer(bgp_pb2.AddPeerRequest(peer=conf))
            elif self._peers_sent[name] != conf:
                await self._bgp.UpdatePeer(bgp_pb2.UpdatePeerRequest(peer=conf))
            self._peers_sent[name] = conf
        ads = self._ads.build(self.desired.routes)
        if ads is not self._ads_sent and ads != self._ads_sent:
            await self._bgp.SetAdvertisements(bgp_pb2.SetAdvertisementsRequest(advertisements=ads))
            self._ads_sent = ads

    async def _watch(
        self,
        name: str,
        open_stream: Callable[[], Any],
        forget: Callable[[], None],
        stop: asyncio.Event,
    ) -> None:
        """Keep a watch stream open; when it breaks the service restarted: resend everything."""
        backoff = 0.1
        while not stop.is_set():
            call = open_stream()
            try:
                first = True
                async for _ in call:
                    if first:
                        # The service is (back) up: sync now rather than at the next retry.
                        first = False
                        self._wake.set()
                    backoff = 0.1
            except grpc.aio.AioRpcError as err:
                if stop.is_set():
                    return
                log.info("%s watch ended (%s): will resend on reconnect", name, err.code().name)
            finally:
                call.cancel()
            forget()
            self._wake.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, 0.5)

    def _forget_l2(self) -> None:
        self._l2_sent = None

    def _forget_bgp(self) -> None:
        self._peers_sent = None
        self._ads_sent = None

    async def run(self, stop: asyncio.Event) -> None:
        watchers = []
        if self._l2 is not None:
            l2 = self._l2
            watchers.append(
                asyncio.create_task(
                    self._watch(
                        "l2",
                        lambda: l2.WatchEvents(l2_pb2.WatchEventsRequest(), wait_for_ready=True),
                        self._forget_l2,
                        stop,
                    )
                )
            )
        if self._bgp is not None:
            bgp = self._bgp
            watchers.append(
                asyncio.create_task(
                    self._watch(
                        "bgp",
                        lambda: bgp.WatchPeers(bgp_pb2.WatchPeersRequest(), wait_for_ready=True),
                        self._forget_bgp,
                        stop,
                    )
                )
            )
        try:
            async with self._writes:
                await self._loop(stop)
        finally:
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)

    async def _loop(self, stop: asyncio.Event) -> None:
        """Compute, sync both services, report; then wait for changes (or retry)."""
        backoff = 0.2
        dirty = True
        while not stop.is_set():
            started = asyncio.get_running_loop().time()
            if dirty:
                self._compute()
            failed = False
            synced: list[str] = []
            for sync, plural in ((self._sync_l2, L2), (self._sync_bgp, BGP)):
                try:
                    await sync()
                    synced.append(plural)
                except grpc.aio.AioRpcError as err:
                    failed = True
                    log.warning("%s failed (%s: %s)", sync.__name__, err.code().name, err.details())
                    if sync == self._sync_l2:
                        self._forget_l2()
                    else:
                        self._forget_bgp()
            await self._adopt()
            self._report(synced)
            self.syncs += 1
            self._pass_seconds = asyncio.get_running_loop().time() - started
            dirty = await self._wait_for_work(stop, backoff if failed else None)
            backoff = min(backoff * 2, 1.0) if failed else 0.2

    async def _adopt(self) -> None:
        """Before the first report: learn which status objects this node already has."""
        if self._reporter is None or self._reporter.adopted:
            return
        try:
            await asyncio.to_thread(self._reporter.adopt)
        except Exception as err:  # the API is unreachable: try again on the next pass
            log.warning("status objects of %s not listed: %s", self.node, err)

    def _report(self, synced: list[str]) -> None:
        """Status objects and events for what the services now hold (after a successful sync,
        as MetalLB writes them after SetBalancer), and the configuration's state."""
        if self._reporter is None:
            return
        err = self.config_error
        message = "" if err is None else f"configuration error: {err.describe()}"
        self._reporter.report_configuration(err is None, message, self._writes)
        if self.config is None or not self._reporter.adopted:
            return
        now = asyncio.get_running_loop().time()
        busy = not self._source.changes.empty() or now - self._changed_at < REPORT_QUIET
        if busy and now - self._reported_at < REPORT_AT_LEAST_EVERY:
            # Announcements first: while changes come (or wait to be handled) the status
            # objects wait; a pass runs at least every second, so they are written within about
            # 1.5 s of the last change.
            return
        self._reported_at = now
        protocols = tuple(
            plural
            for plural, service in ((L2, self._l2), (BGP, self._bgp))
            if service is not None and plural in synced
        )
        wanted = wanted_statuses(self.node, self.desired)
        self._reporter.report(wanted, self._services, self._writes, protocols=protocols)

    async def _settle(self, queue: asyncio.Queue[tuple[str, str]]) -> None:
        """Let a burst of changes finish before recomputing: each pass looks at every service
        and sends whole sets, so passes are spaced out in proportion to their cost. Wait until
        20 ms pass without a change, but no longer than 0.5 s or 5 times the last pass (then a
        burst is still going on)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(SETTLE_MAX, 5 * self._pass_seconds)
        while loop.time() < deadline:
            seen = queue.qsize()
            await asyncio.sleep(SETTLE_QUIET)
            if queue.qsize() == seen:
                return

    def _note(self, change: tuple[str, str]) -> None:
        self._changed_at = asyncio.get_running_loop().time()
        if change[0] == "ConfigurationState" and change[1].endswith(f"/speaker-{self.node}"):
            self._state_changed = True
        if self._changed is not None:
            self._changed.add(change)

    async def _wait_for_work(self, stop: asyncio.Event, retry_after: float | None) -> bool:
        """Wait for source changes (True) or a wake-up / retry (False: recompute not needed)."""
        queue = self._source.changes
        get = asyncio.create_task(queue.get())
        wake = asyncio.create_task(self._wake.wait())
        stopped = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait(
                {get, wake, stopped},
                timeout=retry_after or 1.0,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for task in (get, wake, stopped):
                if not task.done():
                    task.cancel()
            await asyncio.gather(get, wake, stopped, return_exceptions=True)
        self._wake.clear()
        changed = get in done and not get.cancelled()
        if changed:
            self._note(get.result())
            await self._settle(queue)
        while not queue.empty():
            self._note(queue.get_nowait())
            changed = True
        # Lease renewals change liveness with time alone: recompute at least every second.
        return changed or not done
