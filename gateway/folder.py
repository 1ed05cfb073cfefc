"""The manifests folder as a live cluster: watched for changes, status written beside it.

`FolderSource` polls the folder (every `interval` seconds; cheap: file sizes and mtimes) and
reports each object that appeared, changed or went away, like the Kubernetes source. The status
the gateway writes lives in `<folder>/.status/` in the same form as the API holds it: one YAML
Service per file (`.status/services/<namespace>/<name>.yaml`: the pool annotation and
`status.loadBalancer.ingress`), merged back into the Services when the folder is read; pool
status, ConfigurationStates and each node's ServiceL2Status / ServiceBGPStatus objects, one per
file; events appended to `.status/events.yaml`. The hidden folder is never read as input
manifests.
"""

import asyncio
import contextlib
import copy
import datetime
import logging
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from gateway.configuration_state import (
    CONTROLLER_CONDITION,
    CONTROLLER_LABELS,
    SPEAKER_CONDITION,
    Condition,
    configuration_status,
)
from gateway.manifests import STATUS_DIR, load, manifest_files
from gateway.node.facts import FACT_KINDS, L2_STATES
from gateway.node.status import (
    KINDS,
    SPEAKER,
    node_assigned_message,
    speaker_state_labels,
    status_labels,
)
from gateway.snapshot import Obj, Snapshot, view_of
from metallb_rules.balancer import Event
from metallb_rules.service import ALLOCATED_FROM

MAX_EVENTS_BYTES = 1 << 20

log = logging.getLogger(__name__)


def _status_path(folder: Path, namespace: str, name: str) -> Path:
    return folder / STATUS_DIR / "services" / namespace / f"{name}.yaml"


def _merge_status(folder: Path, snap: Snapshot) -> None:
    services = snap.objects.get("Service", {})
    for key, obj in list(services.items()):
        meta = obj.get("metadata") or {}
        path = _status_path(folder, str(meta.get("namespace")), str(meta.get("name")))
        if not path.exists():
            continue
        written = yaml.safe_load(path.read_text()) or {}
        merged = copy.deepcopy(dict(obj))
        annotations = dict(merged.get("metadata", {}).get("annotations") or {})
        pool = (written.get("metadata", {}).get("annotations") or {}).get(ALLOCATED_FROM)
        if pool:
            annotations[ALLOCATED_FROM] = pool
        merged.setdefault("metadata", {})["annotations"] = annotations
        merged["status"] = written.get("status") or {}
        services[key] = merged


def read_folder(folder: Path, namespace: str = "metallb-system") -> Snapshot:
    snap = load(folder, namespace)
    _merge_status(folder, snap)
    return snap


class FolderSource:
    def __init__(self, folder: Path, namespace: str = "metallb-system", interval: float = 0.5):
        self.folder = folder
        self.namespace = namespace
        self.interval = interval
        self.changes: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._snapshot = Snapshot(namespace=namespace)
        self._fingerprint: tuple[tuple[str, int, int], ...] = ()
        self._task: asyncio.Task[None] | None = None
        self.errors: list[str] = []

    def _current_fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        files = manifest_files(self.folder)
        status = self.folder / STATUS_DIR / "services"
        if status.exists():
            files += sorted(p for p in status.rglob("*.yaml"))
        out = []
        for path in files:
            with contextlib.suppress(FileNotFoundError):
                st = path.stat()
                out.append((str(path), st.st_size, st.st_mtime_ns))
        return tuple(out)

    def _reload(self) -> None:
        fingerprint = self._current_fingerprint()
        if fingerprint == self._fingerprint:
            return
        try:
            fresh = read_folder(self.folder, self.namespace)
        except (ValueError, OSError) as err:
            # A half-written or invalid file, or one removed while we read: keep the last good
            # view and read again at the next poll (the fingerprint is left unchanged for that).
            log.warning("manifests folder %s: %s (keeping the last good view)", self.folder, err)
            self.errors.append(str(err))
            return
        self._fingerprint = fingerprint
        old = self._snapshot
        self._snapshot = fresh
        kinds = set(old.objects) | set(fresh.objects)
        for kind in sorted(kinds):
            before, after = old.objects.get(kind, {}), fresh.objects.get(kind, {})
            for key in sorted(set(before) | set(after)):
                if before.get(key) != after.get(key):
                    self.changes.put_nowait((kind, key))

    async def start(self) -> None:
        self._reload()
        self._task = asyncio.get_running_loop().create_task(self._poll(), name="folder-source")

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                self._reload()
            except Exception:  # never stop following the folder
                log.exception("manifests folder %s: reload failed", self.folder)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def view(self, kind: str, keys: Iterable[str]) -> Snapshot:
        """Only `keys` of `kind`, and every Namespace (for labels): what converging a few
        services reads, without copying the 10,000 others."""
        return view_of(self._snapshot, kind, keys)

    def snapshot(self) -> Snapshot:
        return Snapshot(
            {kind: dict(objs) for kind, objs in self._snapshot.objects.items()}, self.namespace
        )


class _StatusFiles:
    """Writes under `<folder>/.status/`: objects one per file (atomically, by rename), events
    appended to one file; one write at a time."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()

    def _write_object(self, path: Path, body: dict[str, Any]) -> None:
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(yaml.safe_dump(body, sort_keys=False))
            os.replace(tmp, path)

    def _append_event(self, involved: Obj, event: Event, source: dict[str, str]) -> None:
        """Append an Event to `.status/events.yaml` (one append: roles in other processes may be
        writing too); past 1 MiB the file becomes `events.1.yaml` and a new one starts."""
        meta = involved.get("metadata") or {}
        record = {
            "apiVersion": "v1",
            "kind": "Event",
            "involvedObject": {
                "kind": "Service",
                "namespace": meta.get("namespace"),
                "name": meta.get("name"),
            },
            "type": event.type,
            "reason": event.reason,
            "message": event.message,
            "source": source,
            "lastTimestamp": _now(),
        }
        path = self.folder / STATUS_DIR / "events.yaml"
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists() and path.stat().st_size > MAX_EVENTS_BYTES:
                os.replace(path, path.with_suffix(".1.yaml"))  # keep one older file
            with path.open("a") as out:
                out.write("---\n" + yaml.safe_dump(record, sort_keys=False))


class FolderWriter(_StatusFiles):
    """The controller's writes: Service status, pool status, ConfigurationState, events."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.status_writes = 0

    def write_service_status(
        self,
        namespace: str,
        name: str,
        ingress: list[str],
        pool: str | None,
        current: Obj | None = None,  # the folder has no resourceVersions to check
    ) -> bool:
        path = _status_path(self.folder, namespace, name)
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "annotations": {ALLOCATED_FROM: pool} if pool else {},
            },
            "status": {
                "loadBalancer": {"ingress": [{"ip": ip} for ip in ingress]} if ingress else {}
            },
        }
        self._write_object(path, body)
        self.status_writes += 1
        return True

    def write_configuration_state(
        self, valid: bool, message: str, extra: Sequence[Condition] = ()
    ) -> None:
        self._write_object(
            self.folder / STATUS_DIR / "configurationstates" / "controller.yaml",
            _configuration_state(
                "controller", CONTROLLER_LABELS, CONTROLLER_CONDITION, valid, message, extra=extra
            ),
        )

    def write_pool_status(self, pool: str, status: dict[str, int]) -> None:
        self._write_object(
            self.folder / STATUS_DIR / "ipaddresspools" / f"{pool}.yaml",
            {
                "apiVersion": "metallb.io/v1beta1",
                "kind": "IPAddressPool",
                "metadata": {"name": pool},
                "status": status,
            },
        )

    def emit_event(self, involved: Obj, event: Event) -> None:
        self._append_event(involved, event, {"component": "metallb-controller"})


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _configuration_state(
    name: str,
    labels: dict[str, str],
    condition: str,
    valid: bool,
    message: str,
    *,
    extra: Sequence[Condition] = (),
) -> dict[str, Any]:
    """A ConfigurationState as the gateway writes it in Kubernetes (reference §5)."""
    return {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "ConfigurationState",
        "metadata": {"name": name, "labels": labels},
        "status": configuration_status(condition, valid, message, extra),
    }


class FolderStatusWriter(_StatusFiles):
    """The node role's status objects in the folder (a `StatusWriter`): ServiceL2Status and
    ServiceBGPStatus as `.status/<plural>/<node>/<namespace>/<service>.yaml` (named
    `<l2-|bgp-><node>.<namespace>.<service>`: without an API server to generate names they are
    derived), `nodeAssigned` events in `.status/events.yaml`, and ConfigurationState
    `speaker-<node>` in `.status/configurationstates/`."""

    def __init__(self, folder: Path, node: str, namespace: str = "metallb-system") -> None:
        super().__init__(folder)
        self.node = node
        self.namespace = namespace

    def _path(self, plural: str, service_key: str) -> Path:
        namespace, _, name = service_key.partition("/")
        return self.folder / STATUS_DIR / plural / self.node / namespace / f"{name}.yaml"

    def existing(self) -> set[tuple[str, str]]:
        found = set()
        for plural in KINDS:
            for path in (self.folder / STATUS_DIR / plural / self.node).glob("*/*.yaml"):
                found.add((plural, f"{path.parent.name}/{path.stem}"))
        return found

    def write(self, plural: str, service_key: str, status: Mapping[str, Any] | None) -> None:
        path = self._path(plural, service_key)
        if status is None:
            path.unlink(missing_ok=True)
            return
        kind, prefix = KINDS[plural]
        self._write_object(
            path,
            {
                "apiVersion": "metallb.io/v1beta1",
                "kind": kind,
                "metadata": {
                    "name": f"{prefix}{self.node}.{service_key.replace('/', '.')}",
                    "namespace": self.namespace,
                    "labels": status_labels(self.node, service_key),
                },
                "spec": {},
                "status": dict(status),
            },
        )

    def node_assigned(self, service: Mapping[str, Any], protocol: str) -> None:
        event = Event("Normal", "nodeAssigned", node_assigned_message(self.node, protocol))
        self._append_event(service, event, {"component": SPEAKER, "host": self.node})

    def configuration_state(self, valid: bool, message: str) -> None:
        name = f"speaker-{self.node}"
        self._write_object(
            self.folder / STATUS_DIR / "configurationstates" / f"{name}.yaml",
            _configuration_state(
                name, speaker_state_labels(self.node), SPEAKER_CONDITION, valid, message
            ),
        )


class FolderFactsWriter(_StatusFiles):
    """A node's published facts in the folder (a `FactsWriter`, gateway/node/facts.py):
    `.status/bgpsessionstates/<node>/<name>.yaml` and `.status/l2nodestates/<node>.yaml`, in the
    form the API holds them."""

    def __init__(self, folder: Path, node: str, namespace: str = "metallb-system") -> None:
        super().__init__(folder)
        self.node = node
        self.namespace = namespace

    def _path(self, plural: str, name: str) -> Path:
        if plural == L2_STATES:
            return self.folder / STATUS_DIR / plural / f"{name}.yaml"
        return self.folder / STATUS_DIR / plural / self.node / f"{name}.yaml"

    def write_fact(
        self, plural: str, name: str, labels: Mapping[str, str], status: Mapping[str, Any] | None
    ) -> None:
        path = self._path(plural, name)
        if status is None:
            path.unlink(missing_ok=True)
            return
        self._write_object(
            path,
            {
                "apiVersion": "metallb.io/v1beta1",
                "kind": FACT_KINDS[plural],
                "metadata": {"name": name, "namespace": self.namespace, "labels": dict(labels)},
                "spec": {},
                "status": dict(status),
            },
        )

    def prune(self, plural: str, keep: frozenset[str]) -> None:
        if plural == L2_STATES:
            return
        for path in (self.folder / STATUS_DIR / plural / self.node).glob("*.yaml"):
            if path.stem not in keep:
                path.unlink(missing_ok=True)
