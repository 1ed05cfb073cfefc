"""The controller role as a process part: `ControllerReconciler` run by the shared driver.

The decisions, batching, backoff and restart detection are in `gateway.controller.reconciler`
(sans-I/O, tested on virtual time); this adapter only executes its commands: IPAM calls through
`GrpcIpam`, and writes through a `WriteQueue` (threads, per-key coalescing and retries), which it
flushes when the reconciler asks (before a full pass reads the status back). The queue's reports
(`WriteOutcome`) go back to the reconciler as inputs; `health(serving)` is called when the
reconciler's `healthy` changes (the process's readiness). Given a `peer_passwords` writer (in
Kubernetes), the role keeps the speaker's copy of the BGP passwords (gateway/peer_passwords.py).
"""

import asyncio
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from gateway.configuration_state import Condition
from gateway.controller.ipam_client import GrpcIpam, pool_to_proto
from gateway.controller.metrics import ClientMetrics
from gateway.controller.reconciler import (
    CONFIGURATION_STATE,
    FLUSH_WAIT,
    Command,
    ControllerReconciler,
    Converge,
    EmitEvent,
    FlushWrites,
    GetStatus,
    Input,
    IpamStatus,
    ListPools,
    PoolCounts,
    SetPools,
    SnapshotSource,
    WriteConfigurationState,
    WritePeerPasswords,
    WritePoolStatus,
    WriteServiceStatus,
)
from gateway.controller.writes import WriteOutcome, WriteQueue
from gateway.driver import Driver, queue_changes
from gateway.peer_passwords import COPY_SECRET
from metallb_rules.balancer import Event
from metallb_rules.config.model import Config, ConfigError

__all__ = [
    "CONFIGURATION_STATE",
    "ControllerRole",
    "PasswordsAndStatusWriter",
    "PeerPasswordsWriter",
    "Source",
    "Writer",
]


class Source(SnapshotSource, Protocol):
    changes: asyncio.Queue[tuple[str, str]]


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

    def write_configuration_state(
        self, valid: bool, message: str, extra: Sequence[Condition] = ()
    ) -> None: ...

    def write_pool_status(self, pool: str, status: dict[str, int]) -> None: ...


class PeerPasswordsWriter(Protocol):
    def write_peer_passwords(self, data: Mapping[str, str]) -> None:
        """Make the copy Secret's `data` exactly `data` (created when missing)."""


class PasswordsAndStatusWriter(Writer, PeerPasswordsWriter, Protocol):
    """The Kubernetes writer: status, events and the speaker's copy of the passwords."""


class ControllerRole:
    def __init__(
        self,
        source: Source,
        writer: Writer,
        ipam: GrpcIpam,
        lb_class: str = "",
        metrics: ClientMetrics | None = None,
        *,
        health: Callable[[bool], None] = lambda serving: None,
        peer_passwords: PeerPasswordsWriter | None = None,
    ) -> None:
        self.reconciler = ControllerReconciler(
            source, lb_class, metrics, copy_peer_passwords=peer_passwords is not None
        )
        self._source = source
        self._writer = writer
        self._peer_passwords = peer_passwords
        self._ipam = ipam
        self._writes = WriteQueue(report=self._report)  # runs while `run` does
        self._driver: Driver[Input, Command] | None = None
        self._health = health
        self._healthy = True

    @property
    def metrics(self) -> ClientMetrics:
        return self.reconciler.metrics

    @property
    def passes(self) -> int:
        return self.reconciler.passes

    @property
    def config(self) -> Config | None:
        return self.reconciler.config

    @property
    def config_error(self) -> ConfigError | None:
        return self.reconciler.config_error

    @property
    def stale(self) -> bool:
        return self.reconciler.stale

    async def run(self, stop: asyncio.Event) -> None:
        """Process changes until `stop`; the writes queued are finished before this returns."""
        async with self._writes:
            changes = queue_changes(self._source.changes)
            self._driver = Driver(self.reconciler, self._execute, [changes], self._check_health)
            try:
                await self._driver.run(stop)
            finally:
                self._driver = None

    def _report(self, outcome: WriteOutcome) -> None:
        if self._driver is not None:
            self._driver.put(outcome)

    def _check_health(self) -> None:
        healthy = self.reconciler.healthy
        if healthy != self._healthy:
            self._healthy = healthy
            self._health(healthy)

    async def _execute(self, command: Command) -> object:
        writer = self._writer
        write: Callable[[], object]
        match command:
            case FlushWrites():
                await self._writes.flush(FLUSH_WAIT)
            case SetPools(pools=pools):
                await self._ipam.set_pools([pool_to_proto(p) for p in pools])
            case GetStatus():
                status = await self._ipam.status()
                return IpamStatus(status.instance_id, status.restore_complete)
            case Converge():
                return await self._ipam.converge(
                    command.services,
                    command.namespace_labels,
                    deleted=command.deleted,
                    complete_set=command.complete_set,
                )
            case ListPools():
                reply = await self._ipam.list_pools()
                return [
                    PoolCounts(
                        p.conf.name,
                        p.state.ipv4_addresses_in_use,
                        p.state.ipv6_addresses_in_use,
                        p.state.ipv4_addresses_available,
                        p.state.ipv6_addresses_available,
                    )
                    for p in reply.pools
                ]
            case WriteServiceStatus():
                write = functools.partial(
                    writer.write_service_status,
                    command.namespace,
                    command.name,
                    list(command.ingress),
                    command.pool,
                    command.current,
                )
                self._writes.put(f"Service/{command.namespace}/{command.name}", write)
            case EmitEvent(involved=involved, event=event):
                self._writes.event(functools.partial(writer.emit_event, dict(involved), event))
            case WriteConfigurationState(valid=valid, message=message, extra=extra):
                write = functools.partial(writer.write_configuration_state, valid, message, extra)
                self._writes.put("ConfigurationState", write)
            case WritePoolStatus(pool=pool, status=status):
                write = functools.partial(writer.write_pool_status, pool, dict(status))
                self._writes.put(f"IPAddressPool/{pool}", write)
            case WritePeerPasswords() if self._peer_passwords is not None:
                # A closure, not a partial: a partial's repr would show the passwords.
                write = _peer_passwords_write(self._peer_passwords, dict(command.data))
                self._writes.put(f"Secret/{self._source.namespace}/{COPY_SECRET}", write)
        return None


def _peer_passwords_write(writer: PeerPasswordsWriter, data: dict[str, str]) -> Callable[[], None]:
    def write_peer_passwords() -> None:
        writer.write_peer_passwords(data)

    return write_peer_passwords
