"""The controller role's sans-I/O core (STYLE §9): MetalLB's controller loop as plain code.

Theory of operation. Level-triggered, as MetalLB's controller: a change to a configuration object
(metallb.io kinds, Namespaces, Nodes, Secrets) re-runs every service ("reprocess all", a full
pass); a Service change re-runs that service; a decision whose outcome is REPROCESS_ALL (an
address freed, a sharing key changed) re-runs all. Decisions are IPAM's (`ConvergeServices`
runs `metallb_rules.balancer` there); this object only says what to send and what to write:

- a full pass: flush the writes still queued (status is what IPAM restores from), read the
  snapshot, parse the configuration (an invalid one keeps the last valid one in force: `stale`),
  `SetPools`, `GetStatus` (IPAM's instance id), then every relevant service as one complete set,
  then the pools' status;
- a batch: the Service changes that arrived within `BATCH_WAIT` of the first one go out as
  `ConvergeServices` calls of at most `BATCH_SIZE` services (the echo of our own status write is
  skipped: nothing the decision reads changed);
- restart detection: IPAM's instance id is checked when idle (every `IDLE_CHECK` seconds) and at
  most once a `IDLE_CHECK` while busy; a new id, or IPAM not restored, means a full pass (a
  restarted IPAM also refuses partial batches with UNAVAILABLE, which means the same);
- backoff: a failed call (IPAM or API unreachable) retries a full pass after 0.2 s, doubling up
  to 5 s, so nothing is lost while a service restarts;
- failing writes: the write queue tells what happens to each write (`WriteOutcome`, an input
  like a change). An object whose write failed `FAILING_AFTER` times in a row, or was dropped
  (the API refuses it for good), is *failing*: counted (`metallb_k8s_client_*` metrics), named
  in the ConfigurationState condition `statusWriterValid` (False, UnknownError), and `healthy`
  is False (the controller's readiness NOT_SERVING) until its write goes through or it is gone.
  A dropped Service or IPAddressPool write also gets a Warning event (`StatusUpdateFailed`) on
  that object, and is tried again `WRITE_RETRY` seconds later (the Service decided again, the
  pool's status reported again). None of this waits: a full pass's
  flush waits only for writes still queued, a dropped write is no longer queued, and after
  `FLUSH_WAIT` seconds the writes still queued (failing with errors a retry could cure, such as
  500s) are abandoned and reported dropped like the others;
- the speaker's copy of the BGP passwords (with `copy_peer_passwords`, in Kubernetes): each full
  pass compares the copy the BGPPeers and their Secrets call for (gateway/peer_passwords.py) with
  the copy Secret as read, and writes it when they differ (`WritePeerPasswords`); a change to the
  copy itself (its own write's echo, or someone else's edit) is compared again without a full
  pass. The configuration errors about the Secrets stay MetalLB's, reported by both roles.

One IPAM operation is in flight at a time (the next one is issued when the previous one's result
has come back); writes are fire-and-forget commands to the write queue.
"""

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway.configuration_state import UNKNOWN_ERROR, WRITES_CONDITION, Condition
from gateway.controller.metrics import ClientMetrics
from gateway.controller.writes import WriteOutcome
from gateway.driver import Failure, IdSequence
from gateway.peer_passwords import COPY_SECRET, CopyData, copy_data, desired_copy
from gateway.snapshot import Snapshot
from metallb_rules.balancer import Decision, Event, Outcome, relevant, restore_order
from metallb_rules.config.model import Config, ConfigError
from metallb_rules.config.parse import parse
from metallb_rules.config.resources import ClusterResources
from metallb_rules.pools import PoolSpec
from metallb_rules.service import ALLOCATED_FROM, ServiceSpec, service_from_k8s

log = logging.getLogger(__name__)

BATCH_WAIT = 0.005  # seconds: a burst of watch events becomes one batch
BATCH_SIZE = 4096  # services per ConvergeServices call outside a full pass
IDLE_CHECK = 1.0  # seconds between IPAM instance checks (and pool status reports while busy)
BACKOFF_FIRST, BACKOFF_MAX = 0.2, 5.0
FAILING_AFTER = 3  # failed tries in a row after which an object's writes count as failing
FLUSH_WAIT = 30.0  # seconds a full pass waits for queued writes before abandoning them
WRITE_RETRY = 30.0  # seconds before the object of a dropped write is written again
STATUS_UPDATE_FAILED = "StatusUpdateFailed"  # the Warning event's reason

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

Change = tuple[str, str]  # (kind, namespace/name)
Input = Change | WriteOutcome


class SnapshotSource(Protocol):
    """The sources' in-memory caches, read synchronously (no I/O)."""

    namespace: str  # MetalLB's

    def snapshot(self) -> Snapshot: ...

    def view(self, kind: str, keys: Iterable[str]) -> Snapshot: ...


# ------------------------------------------------------------------------------ commands


@dataclass(frozen=True)
class FlushWrites:
    request_id: int


@dataclass(frozen=True)
class SetPools:
    request_id: int
    pools: tuple[PoolSpec, ...]


@dataclass(frozen=True)
class GetStatus:
    request_id: int


@dataclass(frozen=True)
class Converge:
    request_id: int
    services: tuple[ServiceSpec, ...]
    namespace_labels: Mapping[str, Mapping[str, str]]
    deleted: tuple[str, ...] = ()
    complete_set: bool = False


@dataclass(frozen=True)
class ListPools:
    request_id: int


@dataclass(frozen=True)
class WriteServiceStatus:
    request_id: int
    namespace: str
    name: str
    ingress: tuple[str, ...]
    pool: str | None
    current: Mapping[str, Any] | None


@dataclass(frozen=True)
class EmitEvent:
    request_id: int
    involved: Mapping[str, Any]
    event: Event


@dataclass(frozen=True)
class WriteConfigurationState:
    request_id: int
    valid: bool
    message: str
    extra: tuple[Condition, ...] = ()  # statusWriterValid


@dataclass(frozen=True)
class WritePoolStatus:
    request_id: int
    pool: str
    status: Mapping[str, int]


@dataclass(frozen=True)
class WritePeerPasswords:
    """Make the speaker's copy of the BGP passwords hold `data` (gateway/peer_passwords.py)."""

    request_id: int
    data: CopyData = field(repr=False)  # passwords: never in a repr


Command = (
    FlushWrites
    | SetPools
    | GetStatus
    | Converge
    | ListPools
    | WriteServiceStatus
    | EmitEvent
    | WriteConfigurationState
    | WritePoolStatus
    | WritePeerPasswords
)


# ------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class IpamStatus:
    """GetStatus: `instance_id` changes on every start of IPAM."""

    instance_id: str
    restore_complete: bool


@dataclass(frozen=True)
class PoolCounts:
    """ListPools, per pool: what IPAddressPool status shows (§1.9)."""

    pool: str
    assigned_ipv4: int
    assigned_ipv6: int
    available_ipv4: int
    available_ipv6: int


ConvergeResult = tuple[Sequence[Decision], Sequence[Outcome]]


# ------------------------------------------------------------------------------ the reconciler


class ControllerReconciler:
    def __init__(
        self,
        source: SnapshotSource,
        lb_class: str = "",
        metrics: ClientMetrics | None = None,
        *,
        copy_peer_passwords: bool = False,
    ) -> None:
        self.metrics = metrics or ClientMetrics()
        self._source = source
        self._copy_passwords = copy_peer_passwords
        self._lb_class = lb_class
        self._ids = IdSequence()
        self._out: list[Command] = []
        self.config: Config | None = None
        self.config_error: ConfigError | None = None
        self.passes = 0
        # The IPAM operation in flight: its step name and the request id awaited.
        self._step: str | None = None
        self._expect = 0
        self._need_full = True
        self._retry_at: float | None = None
        self._backoff = BACKOFF_FIRST
        self._pending: dict[Change, None] = {}  # changes not yet handled, in arrival order
        self._batch_at = 0.0
        self._idle_at = 0.0
        self._checked = float("-inf")  # when IPAM's instance was last checked
        self._instance = ""
        self._seen_instance = ""
        self._pools: tuple[PoolSpec, ...] = ()
        self._pools_dirty = False
        self._pools_reported = float("-inf")
        self._pool_status: dict[str, dict[str, int]] = {}
        self._state_written: tuple[bool, str, tuple[Condition, ...]] | None = None
        self._failing: dict[str, str] = {}  # write key -> its last error, while failing
        self._write_retry_at: float | None = None
        # key -> `_signature` of its last successful decision (with what it wrote)
        self._settled: dict[str, _Signature] = {}
        self._snap: Snapshot | None = None
        self._sent: tuple[ServiceSpec, ...] = ()
        self._keys: list[str] = []  # services of the batch not yet sent
        self._batch_reprocess = False

    @property
    def stale(self) -> bool:
        return self.config_error is not None and self.config is not None

    @property
    def busy(self) -> bool:
        return self._step is not None

    @property
    def healthy(self) -> bool:
        """False while some object's writes are failing (readiness NOT_SERVING)."""
        return not self._failing

    @property
    def failing_writes(self) -> dict[str, str]:
        """The objects whose writes are failing (`Service/ns/name`, ...), with the error."""
        return dict(self._failing)

    # ----------------------------------------------------------------------------- inputs

    def handle(self, change: Input, now: float) -> None:
        if isinstance(change, WriteOutcome):
            self._on_write(change, now)
            return
        if not self._pending:
            self._batch_at = now + BATCH_WAIT
        self._pending[change] = None

    def handle_result(self, request_id: int, result: object, now: float) -> None:
        if request_id != self._expect or self._step is None:
            return  # a write's acknowledgement, or an operation abandoned
        step, self._step = self._step, None
        if isinstance(result, Failure):
            self._fail(now, step, result.error)
            return
        getattr(self, f"_on_{step}")(result, now)

    def commands(self) -> list[Command]:
        out, self._out = self._out, []
        return out

    def next_deadline(self) -> float | None:
        if self._step is not None:
            return None  # the result of the operation in flight comes first
        if self._retry_at is not None:
            return self._retry_at
        if self._need_full:
            return float("-inf")
        if self._pending:
            return self._batch_at
        if self._write_retry_at is not None:
            return min(self._idle_at, self._write_retry_at)
        return self._idle_at

    def handle_timer(self, now: float) -> None:
        if self._step is not None:
            return
        if self._retry_at is not None:
            if now < self._retry_at:
                return
            self._retry_at = None
        if self._write_retry_at is not None and now >= self._write_retry_at:
            self._write_again(now)
        if self._need_full:
            self._start_full()
        elif self._pending and now >= self._batch_at:
            self._start_batch(now)
        elif not self._pending and now >= self._idle_at:
            if self._pools_dirty:
                self._issue("idle_pools", ListPools(self._ids()))
            else:
                self._issue("idle_status", GetStatus(self._ids()))

    # ----------------------------------------------------------------------------- plumbing

    def _issue(self, step: str, command: Command) -> None:
        self._step, self._expect = step, command.request_id
        self._out.append(command)

    def _fail(self, now: float, step: str, error: Exception) -> None:
        log.warning("%s failed (%s); full pass in %.1f s", step, error, self._backoff)
        self._need_full = True
        self._retry_at = now + self._backoff
        self._backoff = min(self._backoff * 2, BACKOFF_MAX)
        self._keys = []

    def _idle(self, now: float) -> None:
        self._idle_at = now + IDLE_CHECK
        if self._pending:
            self._batch_at = max(self._batch_at, now)

    def _restarted(self, status: IpamStatus) -> bool:
        return status.instance_id != self._instance or not status.restore_complete

    # ----------------------------------------------------------------------------- full pass

    def _start_full(self) -> None:
        self._issue("flush", FlushWrites(self._ids()))

    def _on_flush(self, _: object, now: float) -> None:
        self._pending.clear()  # the snapshot holds every change so far
        snap = self._source.snapshot()
        resources = snap.cluster_resources()
        self._sync_peer_passwords(resources)
        try:
            self.config = parse(resources)
            self.config_error = None
            self._pools = tuple(pool.spec for pool in self.config.pools.values())
        except ConfigError as err:
            self.config_error = err
            log.error(
                "configuration error: %s (keeping the last valid configuration)", err.describe()
            )
        self.metrics.config_loaded.set(1 if self.config is not None else 0)
        self.metrics.config_stale.set(1 if self.config_error is not None else 0)
        self._report_configuration()
        if self.config is None:
            self._pass_done(now)
            return
        self._snap = snap
        self._issue("set_pools", SetPools(self._ids(), self._pools))

    def _on_set_pools(self, _: object, now: float) -> None:
        self._issue("full_status", GetStatus(self._ids()))

    def _on_full_status(self, status: IpamStatus, now: float) -> None:
        assert self._snap is not None
        self._seen_instance = status.instance_id
        self._checked = now
        specs = (service_from_k8s(obj) for obj in self._snap.of("Service"))
        services = restore_order(s for s in specs if relevant(s, self._lb_class))
        self._sent = tuple(services)
        # Every service at once: IPAM restores what their status holds (more addresses first),
        # forgets services that are gone, then decides each (MetalLB's reprocess-all).
        command = Converge(
            self._ids(), self._sent, _labels(self._snap, self._sent), complete_set=True
        )
        self._issue("full_converge", command)

    def _on_full_converge(self, result: ConvergeResult, now: float) -> None:
        assert self._snap is not None
        decisions, _ = result
        if self._seen_instance != self._instance:
            log.info("IPAM instance %s: sent every service", self._seen_instance)
        self._instance = self._seen_instance
        self._settled.clear()
        self._forget_gone({svc.key for svc in self._sent})
        for svc, decision in zip(self._sent, decisions, strict=True):
            self._apply(self._snap, svc, decision)
        self._issue("pools", ListPools(self._ids()))

    def _on_pools(self, pools: Sequence[PoolCounts], now: float) -> None:
        self._report_pools(pools, now)
        if self._need_full:
            self._pass_done(now)
        else:
            self._idle(now)

    def _pass_done(self, now: float) -> None:
        self.passes += 1
        self._need_full = False
        self._backoff = BACKOFF_FIRST
        self._idle(now)

    # ----------------------------------------------------------------------------- batches

    def _start_batch(self, now: float) -> None:
        batch, self._pending = list(self._pending), {}
        key = f"{self._source.namespace}/{CONFIGURATION_STATE}"
        if ("ConfigurationState", key) in batch:
            self._heal_configuration_state(key)
        copy = ("Secret", f"{self._source.namespace}/{COPY_SECRET}")
        if self._copy_passwords and copy in batch:
            batch.remove(copy)  # no configuration reads it
            self._sync_peer_passwords(self._source.snapshot().cluster_resources())
        if any(kind in CONFIG_KINDS for kind, _ in batch):
            self._need_full = True
            self._start_full()
            return
        self._keys = list(dict.fromkeys(k for kind, k in batch if kind == "Service"))
        self._batch_reprocess = False
        if now - self._checked >= IDLE_CHECK:
            self._issue("batch_status", GetStatus(self._ids()))
        else:
            self._next_chunk(now)

    def _on_batch_status(self, status: IpamStatus, now: float) -> None:
        self._checked = now
        if self._restarted(status):
            self._need_full = True
            self._keys = []
            self._start_full()
        else:
            self._next_chunk(now)

    def _next_chunk(self, now: float) -> None:
        while self._keys:
            keys, self._keys = self._keys[:BATCH_SIZE], self._keys[BATCH_SIZE:]
            snap = self._source.view("Service", keys)
            services, deleted = self._changed(snap, keys)
            if services or deleted:
                self._snap, self._sent = snap, tuple(services)
                self._pools_dirty = True
                labels = _labels(snap, services)
                command = Converge(self._ids(), self._sent, labels, tuple(deleted))
                self._issue("batch_converge", command)
                return
        if self._batch_reprocess:
            self._need_full = True
            self._start_full()
        elif self._pools_dirty and (not self._pending or now - self._pools_reported >= IDLE_CHECK):
            self._issue("pools", ListPools(self._ids()))
        else:
            self._idle(now)

    def _changed(self, snap: Snapshot, keys: list[str]) -> tuple[list[ServiceSpec], list[str]]:
        deleted: list[str] = []
        services: list[ServiceSpec] = []
        objects = snap.objects.get("Service", {})
        for key in keys:
            obj = objects.get(key)
            if obj is None:
                self._settled.pop(key, None)
                self._gone(f"Service/{key}")
                deleted.append(key)
                continue
            if self.config is None:
                continue
            settled = self._settled.get(key)
            if settled is not None and settled == _observed(obj):
                continue  # the echo of our own status write: nothing the decision reads changed
            spec = service_from_k8s(obj)
            if relevant(spec, self._lb_class):
                services.append(spec)
            else:
                self._gone(f"Service/{key}")  # no longer ours to write
        return services, deleted

    def _on_batch_converge(self, result: ConvergeResult, now: float) -> None:
        assert self._snap is not None
        decisions, gone = result
        for svc, decision in zip(self._sent, decisions, strict=True):
            self._apply(self._snap, svc, decision)
        outcomes = [*gone, *(d.outcome for d in decisions)]
        if Outcome.REPROCESS_ALL in outcomes:
            self._batch_reprocess = True
            self._keys = []
        self._next_chunk(now)

    # ----------------------------------------------------------------------------- idle

    def _on_idle_pools(self, pools: Sequence[PoolCounts], now: float) -> None:
        self._report_pools(pools, now)
        self._issue("idle_status", GetStatus(self._ids()))

    def _on_idle_status(self, status: IpamStatus, now: float) -> None:
        self._checked = now
        if self._restarted(status):
            self._need_full = True
            self._start_full()
        else:
            self._idle(now)

    # ----------------------------------------------------------------------------- writes

    def _apply(self, snap: Snapshot, svc: ServiceSpec, decision: Decision) -> None:
        """Write what IPAM decided for `svc`: its status when it changed, and its events."""
        obj = snap.objects.get("Service", {}).get(svc.key) or {}
        self.metrics.updates.inc()
        if decision.converged:
            self._settled[svc.key] = _signature(obj, decision.ingress, decision.pool)
        else:
            self._settled.pop(svc.key, None)
        if decision.converged and not decision.changed:
            self._gone(f"Service/{svc.key}")  # it holds what it should (written meanwhile)
        if decision.changed:
            self._out.append(
                WriteServiceStatus(
                    self._ids(),
                    svc.namespace,
                    svc.name,
                    tuple(decision.ingress),
                    decision.pool,
                    obj or None,
                )
            )
        for event in decision.events:
            self._out.append(EmitEvent(self._ids(), obj, event))

    def _heal_configuration_state(self, key: str) -> None:
        """Our ConfigurationState changed: if it is gone (deleted by hand), write it again."""
        if not self._source.view("ConfigurationState", [key]).objects.get("ConfigurationState"):
            self._state_written = None
            self._report_configuration()

    def _sync_peer_passwords(self, resources: ClusterResources) -> None:
        """Write the speaker's copy of the passwords if it does not hold what it should."""
        if not self._copy_passwords:
            return
        want = desired_copy(resources.peers, resources.secrets)
        if want != copy_data(resources.secrets.get(COPY_SECRET)):
            self._out.append(WritePeerPasswords(self._ids(), want))

    def _report_configuration(self) -> None:
        """ConfigurationState `controller`: Valid, or Invalid with the error, and whether writes
        go through (written when either changes)."""
        err = self.config_error
        state = (
            err is None,
            "" if err is None else f"configuration error: {err.describe()}",
            (self._writes_condition(),),
        )
        if state != self._state_written:
            self._out.append(WriteConfigurationState(self._ids(), *state))
            self._state_written = state

    def _writes_condition(self) -> Condition:
        """statusWriterValid: True, or False naming how many objects' writes fail and the first
        (its own failing write is left out: it could not be reported anyway)."""
        failing = sorted(k for k in self._failing if k != "ConfigurationState")
        if not failing:
            return Condition(WRITES_CONDITION, True)
        first = failing[0]
        message = (
            f"status writes failing for {len(failing)} object(s): {first}: {self._failing[first]}"
        )
        return Condition(WRITES_CONDITION, False, message, UNKNOWN_ERROR)

    # ----------------------------------------------------------------------------- write outcomes

    def _on_write(self, outcome: WriteOutcome, now: float) -> None:
        key, kind = outcome.key, outcome.key.partition("/")[0]
        writes = self.metrics.writes
        if outcome.error is None:
            self._failing.pop(key, None)
        else:
            if not outcome.dropped:
                writes.errors.labels(kind).inc()
            if outcome.dropped or outcome.failures >= FAILING_AFTER:
                self._failing[key] = outcome.error
        if outcome.dropped:
            writes.dropped.labels(kind).inc()
            self._dropped(key, outcome, now)
        writes.failing.set(len(self._failing))
        self._report_configuration()

    def _dropped(self, key: str, outcome: WriteOutcome, now: float) -> None:
        """The queue gave up `key`'s write: tell the object's users, and try again later."""
        if self._write_retry_at is None:
            self._write_retry_at = now + WRITE_RETRY
        kind, _, name = key.partition("/")
        if kind == "Service":
            self._settled.pop(name, None)  # decided (and written) again on its next change
        elif kind == "IPAddressPool":
            name = f"{self._source.namespace}/{name}"  # pool writes are keyed by the pool's name
        else:
            return  # the ConfigurationState: reported by its condition alone
        obj = self._source.view(kind, [name]).objects.get(kind, {}).get(name)
        if obj is not None:
            tries = f" after {outcome.failures} tries" if outcome.failures else ""
            message = (
                f"failed to update the status{tries}, "
                f"trying again in {WRITE_RETRY:g}s: {outcome.error}"
            )
            event = Event("Warning", STATUS_UPDATE_FAILED, message)
            self._out.append(EmitEvent(self._ids(), obj, event))

    def _write_again(self, now: float) -> None:
        """`WRITE_RETRY` after a drop: write again what failing objects should hold."""
        self._write_retry_at = None
        for key in self._failing:
            kind, _, name = key.partition("/")
            if kind == "Service":
                self._settled.pop(name, None)
                self.handle(("Service", name), now)
            elif kind == "IPAddressPool":
                self._pool_status.pop(name, None)
                self._pools_dirty = True
            elif kind == "ConfigurationState":
                self._state_written = None
                self._report_configuration()
            elif kind == "Secret":
                self._sync_peer_passwords(self._source.snapshot().cluster_resources())
        if self._pending:
            self._batch_at = now

    def _gone(self, key: str) -> None:
        """`key`'s object is deleted, no longer ours, or already holds what it should: its
        failing writes no longer matter."""
        if self._failing.pop(key, None) is not None:
            self.metrics.writes.failing.set(len(self._failing))
            self._report_configuration()

    def _forget_gone(self, services: set[str]) -> None:
        """After a full pass: forget the failing writes of objects no longer there or ours
        (`services`: the relevant Services' keys)."""
        pools = {pool.name for pool in self._pools}
        for key in list(self._failing):
            kind, _, name = key.partition("/")
            if (kind == "Service" and name not in services) or (
                kind == "IPAddressPool" and name not in pools
            ):
                self._gone(key)

    def _report_pools(self, pools: Sequence[PoolCounts], now: float) -> None:
        """IPAddressPool status from IPAM's counts (written when they change)."""
        self._pools_dirty = False
        self._pools_reported = now
        for pool in pools:
            status = {
                "assignedIPv4": pool.assigned_ipv4,
                "assignedIPv6": pool.assigned_ipv6,
                "availableIPv4": pool.available_ipv4,
                "availableIPv6": pool.available_ipv6,
            }
            if self._pool_status.get(pool.pool) != status:
                self._out.append(WritePoolStatus(self._ids(), pool.pool, status))
                self._pool_status[pool.pool] = status


def _labels(snap: Snapshot, services: Iterable[ServiceSpec]) -> dict[str, dict[str, str]]:
    return {ns: snap.namespace_labels(ns) for ns in {svc.namespace for svc in services}}


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
