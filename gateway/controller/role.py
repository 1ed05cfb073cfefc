"""The controller role: keep every LoadBalancer Service's address in step with the configuration.

Level-triggered, one key at a time, as MetalLB's controller: a change to configuration objects
(metallb.io kinds, Namespaces, Nodes, Secrets) re-runs every service ("reprocess all"); a Service
change re-runs that service; deleting a service that held addresses re-runs all (pending services
may take the freed address). Before every pass IPAM's instance id is checked: a restarted IPAM is
first given the pools and every assignment from Service status, then allowed to allocate again.
An invalid configuration keeps the last valid one in force (`stale`).
"""

import asyncio
import contextlib
import functools
import logging
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import grpc

from gateway.controller.ipam_client import GrpcIpam, pool_to_proto
from gateway.controller.metrics import ClientMetrics
from gateway.controller.writes import WriteQueue
from gateway.snapshot import Snapshot
from metallb.ipam.v1 import ipam_pb2
from metallb_rules.balancer import Decision, Event, Outcome, relevant, restore_order
from metallb_rules.config.model import Config, ConfigError
from metallb_rules.config.parse import parse
from metallb_rules.service import ALLOCATED_FROM, ServiceSpec, service_from_k8s

log = logging.getLogger(__name__)


def _describe(err: BaseException) -> str:
    if isinstance(err, grpc.aio.AioRpcError):
        return f"{err.code().name}: {err.details()}"
    return str(err)


BATCH_SIZE = 4096  # services per ConvergeServices call outside a full pass
BATCH_WAIT = 0.005  # seconds

CONFIGURATION_STATE = "controller"  # the name of the controller's ConfigurationState
CONFIG_KINDS = {
    "IPAddressPool",
    "BGPPeer",
    "BFDProfile",
    "BGPAdvertisement",
    "L2Advertisement",
    "Community",
    "Namespace",
    "Node",
    "Secret",
}


class Source(Protocol):
    changes: asyncio.Queue[tuple[str, str]]
    namespace: str  # MetalLB's

    def snapshot(self) -> Snapshot: ...

    def view(self, kind: str, keys: Iterable[str]) -> Snapshot: ...


class Writer(Protocol):
    def write_service_status(
        self,
        namespace: str,
        name: str,
        ingress: list[str],
        pool: str | None,
        current: Mapping[str, Any] | None = None,
    ) -> bool: ...

    def emit_event(self, involved: dict[str, Any], event: Event) -> None: ...

    def write_configuration_state(self, valid: bool, message: str) -> None: ...

    def write_pool_status(self, pool: str, status: dict[str, int]) -> None: ...


class ControllerRole:
    def __init__(
        self,
        source: Source,
        writer: Writer,
        ipam: GrpcIpam,
        lb_class: str = "",
        metrics: ClientMetrics | None = None,
    ) -> None:
        self.metrics = metrics or ClientMetrics()
        self._state_written: tuple[bool, str] | None = None
        self._pool_status: dict[str, dict[str, int]] = {}
        self._source = source
        self._writer = writer
        self._ipam = ipam
        self._lb_class = lb_class
        self.config: Config | None = None
        self.config_error: ConfigError | None = None
        self._ipam_instance = ""
        self._pools: list[ipam_pb2.Pool] = []
        self.passes = 0
        self._writes = WriteQueue()  # runs while `run` does
        self._ipam_checked = 0.0  # loop time of the last instance check
        # key -> `_signature` of its last successful convergence (with what it wrote)
        self._settled: dict[str, _Signature] = {}
        self._pools_dirty = False
        self._pools_reported = 0.0

    @property
    def stale(self) -> bool:
        return self.config_error is not None and self.config is not None

    async def run(self, stop: asyncio.Event) -> None:
        """Process changes until `stop`; an unreachable IPAM (or API) is retried with backoff,
        then everything is re-run, so nothing is lost while a service restarts. Writes go
        through a `WriteQueue`, finished before this returns."""
        async with self._writes:
            await self._run(stop)

    async def _run(self, stop: asyncio.Event) -> None:
        backoff = 0.2
        need_full = True
        while not stop.is_set():
            try:
                if need_full:
                    await self.full_pass()
                    need_full = False
                need_full = await self._next_batch()
                backoff = 0.2
            except (grpc.aio.AioRpcError, OSError) as err:
                log.warning("pass failed (%s); retrying in %.1f s", _describe(err), backoff)
                need_full = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, 5.0)

    async def _next_batch(self) -> bool:
        """Handle the next batch of changes; True when every service must be re-run.

        IPAM's instance id is checked when idle and at most once a second while busy: a
        restarted IPAM refuses to allocate (UNAVAILABLE) until it is restored, and that error
        re-runs everything too. Pool status is reported when idle, at most once a second while
        busy."""
        queue = self._source.changes
        try:
            first = await asyncio.wait_for(queue.get(), timeout=1.0)
        except TimeoutError:
            if self._pools_dirty:
                await self._report_pools()
            return await self._ipam_restarted()
        if queue.empty():
            # The watch threads hand events over one by one: a moment's wait turns a burst into
            # batches (one AllocateBatch per batch instead of one call per service).
            await asyncio.sleep(BATCH_WAIT)
        batch = [first]
        while not queue.empty():
            batch.append(queue.get_nowait())
        if ("ConfigurationState", f"{self._source.namespace}/{CONFIGURATION_STATE}") in batch:
            await self._heal_configuration_state()
        if any(k in CONFIG_KINDS for k, _ in batch):
            return True
        now = asyncio.get_running_loop().time()
        if now - self._ipam_checked >= 1.0 and await self._ipam_restarted():
            return True
        keys = list(dict.fromkeys(key for kind, key in batch if kind == "Service"))
        snap = self._source.view("Service", keys)
        reprocess = False
        for start in range(0, len(keys), BATCH_SIZE):
            reprocess |= await self._converge_keys(snap, keys[start : start + BATCH_SIZE])
        if reprocess:
            return True
        if keys:
            self._pools_dirty = True
        if self._pools_dirty and (queue.empty() or now - self._pools_reported >= 1.0):
            await self._report_pools()
        return False

    async def _ipam_restarted(self) -> bool:
        status = await self._ipam.status()
        self._ipam_checked = asyncio.get_running_loop().time()
        return status.instance_id != self._ipam_instance or not status.restore_complete

    async def full_pass(self) -> None:
        """Reprocess all: configuration, pools, restore if needed, then every service."""
        self.passes += 1
        await self._writes.flush()  # status is what restoring reads
        snap = self._source.snapshot()
        try:
            self.config = parse(snap.cluster_resources())
            self.config_error = None
            self._pools = [pool_to_proto(p.spec) for p in self.config.pools.values()]
        except ConfigError as err:
            self.config_error = err
            log.error(
                "configuration error: %s (keeping the last valid configuration)", err.describe()
            )
        self.metrics.config_loaded.set(1 if self.config is not None else 0)
        self.metrics.config_stale.set(1 if self.config_error is not None else 0)
        await self._report_configuration()
        if self.config is None:
            return
        await self._ipam.set_pools(self._pools)
        services = restore_order(self._services(snap).values())
        status = await self._ipam.status()
        # Every service at once: IPAM restores what their status holds (more addresses first),
        # forgets services that are gone, then decides each (MetalLB's reprocess-all).
        decisions, _ = await self._ipam.converge(
            services, self._labels(snap, services), complete_set=True
        )
        if status.instance_id != self._ipam_instance:
            log.info("IPAM instance %s: sent every service", status.instance_id)
        self._ipam_instance = status.instance_id
        self._settled.clear()
        for svc, decision in zip(services, decisions, strict=True):
            self._apply(snap, svc, decision)
        await self._report_pools()

    async def _heal_configuration_state(self) -> None:
        """Our ConfigurationState changed: if it is gone (deleted by hand), write it again."""
        key = f"{self._source.namespace}/{CONFIGURATION_STATE}"
        if not self._source.view("ConfigurationState", [key]).objects.get("ConfigurationState"):
            self._state_written = None
            await self._report_configuration()

    async def _report_configuration(self) -> None:
        """ConfigurationState `controller`: Valid, or Invalid with the error (when it changes)."""
        err = self.config_error
        state = (err is None, "" if err is None else f"configuration error: {err.describe()}")
        if state != self._state_written:
            write = functools.partial(self._writer.write_configuration_state, *state)
            self._writes.put("ConfigurationState", write)
            self._state_written = state

    async def _report_pools(self) -> None:
        """IPAddressPool status from IPAM's counts (written when they change)."""
        self._pools_dirty = False
        self._pools_reported = asyncio.get_running_loop().time()
        for pool in (await self._ipam.list_pools()).pools:
            st = pool.state
            status = {
                "assignedIPv4": st.ipv4_addresses_in_use,
                "assignedIPv6": st.ipv6_addresses_in_use,
                "availableIPv4": st.ipv4_addresses_available,
                "availableIPv6": st.ipv6_addresses_available,
            }
            if self._pool_status.get(pool.conf.name) != status:
                write = functools.partial(self._writer.write_pool_status, pool.conf.name, status)
                self._writes.put(f"IPAddressPool/{pool.conf.name}", write)
                self._pool_status[pool.conf.name] = status

    def _services(self, snap: Snapshot) -> dict[str, ServiceSpec]:
        specs = (service_from_k8s(obj) for obj in snap.of("Service"))
        return {spec.key: spec for spec in specs if relevant(spec, self._lb_class)}

    @staticmethod
    def _labels(snap: Snapshot, services: Iterable[ServiceSpec]) -> dict[str, dict[str, str]]:
        namespaces = {svc.namespace for svc in services}
        return {ns: snap.namespace_labels(ns) for ns in namespaces}

    async def _converge_keys(self, snap: Snapshot, keys: list[str]) -> bool:
        """Converge the changed services `keys` in one IPAM call; True when every service
        must be re-run (an address was freed, or sharing keys changed)."""
        deleted: list[str] = []
        services: list[ServiceSpec] = []
        for key in keys:
            obj = snap.objects.get("Service", {}).get(key)
            if obj is None:
                self._settled.pop(key, None)
                deleted.append(key)
                continue
            if self.config is None:
                continue
            settled = self._settled.get(key)
            if settled is not None and settled == _observed(obj):
                # The echo of our own status write: nothing the decision depends on changed.
                continue
            spec = service_from_k8s(obj)
            if relevant(spec, self._lb_class):
                services.append(spec)
        if not services and not deleted:
            return False
        decisions, gone = await self._ipam.converge(
            services, self._labels(snap, services), deleted=deleted
        )
        for svc, decision in zip(services, decisions, strict=True):
            self._apply(snap, svc, decision)
        outcomes = [*gone, *(d.outcome for d in decisions)]
        return Outcome.REPROCESS_ALL in outcomes

    def _apply(self, snap: Snapshot, svc: ServiceSpec, decision: Decision) -> None:
        """Write what IPAM decided for `svc`: its status when it changed, and its events."""
        obj = snap.objects.get("Service", {}).get(svc.key) or {}
        self.metrics.updates.inc()
        if decision.converged:
            self._settled[svc.key] = _signature(obj, decision.ingress, decision.pool)
        else:
            self._settled.pop(svc.key, None)
        if decision.changed:
            write = functools.partial(
                self._writer.write_service_status,
                svc.namespace,
                svc.name,
                decision.ingress,
                decision.pool,
                obj or None,
            )
            self._writes.put(f"Service/{svc.key}", write)
        for event in decision.events:
            self._writes.event(functools.partial(self._writer.emit_event, dict(obj), event))


# What convergence reads from a Service (spec, labels, annotations but the pool one) and what
# it writes (ingress, pool), as raw JSON: comparing it costs less than parsing the Service, and
# a Service that has not changed since is the echo of our own write.
_Signature = tuple[Any, Any, dict[str, Any], tuple[str, ...], str | None]


def _signature(obj: Mapping[str, Any], ingress: Iterable[str], pool: str | None) -> _Signature:
    meta = obj.get("metadata") or {}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != ALLOCATED_FROM}
    return (obj.get("spec"), meta.get("labels"), annotations, tuple(ingress), pool)


def _observed(obj: Mapping[str, Any]) -> _Signature:
    """`_signature` of a Service as it is, with the ingress and pool it carries."""
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    ips = (str(i["ip"]) for i in ingress if isinstance(i, Mapping) and i.get("ip"))
    pool = ((obj.get("metadata") or {}).get("annotations") or {}).get(ALLOCATED_FROM)
    return _signature(obj, ips, pool)
