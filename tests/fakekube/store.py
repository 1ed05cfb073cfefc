"""The object store behind the fake API server.

Theory of operation: every object lives once, in its storage version, under
(group, resource, namespace, name). One counter hands out resourceVersions for every write of
every kind, as etcd's revision does, and each write appends a `WatchEvent` to a bounded
history. A watch from resourceVersion N replays the history after N and then follows new
events; if N is older than the history (it was trimmed, or compacted by a test) the watch gets
410 Expired, exactly the case a list-then-watch client must recover from.

All methods take one lock and hand out deep copies, so callers (HTTP handler threads and the
test itself) never share mutable objects with the store. Writers notify a condition variable
that watch streams wait on.
"""

from __future__ import annotations

import bisect
import copy
import datetime
import random
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, TypeVar, cast

from . import errors
from .errors import KubeError
from .kinds import KindRegistry, ResourceKind
from .selectors import FieldSelector, LabelSelector

_T = TypeVar("_T")

__all__ = [
    "FieldCause",
    "ObjectStore",
    "Validator",
    "WatchEvent",
    "now_rfc3339",
]

Obj = dict[str, Any]
StoreKey = tuple[str, str]  # (group, plural)
ObjKey = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped kinds

# A validator returns the causes (field, reason, message) that make the object invalid.
FieldCause = dict[str, str]
Validator = Callable[[Obj, Obj | None], list[FieldCause]]

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # apiserver's utilrand alphabet
_SYSTEM_METADATA = (
    "uid",
    "creationTimestamp",
    "resourceVersion",
    "generation",
    "namespace",
    "name",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)


def clone(value: _T) -> _T:
    """A deep copy of JSON data (dicts, lists, scalars), several times faster than
    `copy.deepcopy`; anything else is deep-copied the slow way."""
    return cast(_T, _clone(value))


def _clone(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {k: _clone(v) for k, v in value.items()}
    if kind is list:
        return [_clone(v) for v in value]
    if kind in (str, int, float, bool) or value is None:
        return value
    return copy.deepcopy(value)


def now_rfc3339() -> str:
    """The current time as Kubernetes writes timestamps (RFC 3339, seconds, UTC)."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class WatchEvent:
    """One write as watchers see it.

    `old` is the object before the write (None for ADDED) so that a selector-filtered watch can
    turn a MODIFIED into ADDED or DELETED when the object enters or leaves the selection.
    """

    rv: int
    type: str
    kind: ResourceKind
    namespace: str
    old: Obj | None
    new: Obj
    # (event type as a watcher sees it, API version) -> the encoded watch line; filled by the
    # server, so that every watcher of a kind shares one encoding of each event.
    encoded: dict[tuple[str, str], bytes] = dataclass_field(
        default_factory=dict, compare=False, repr=False
    )


def _spec_part(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Everything generation tracks: the object minus metadata, status and type fields."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class ObjectStore:
    """Thread-safe generic object store with resourceVersions and a watch history."""

    def __init__(
        self,
        registry: KindRegistry,
        *,
        history_limit: int = 1000,
        require_namespaces: bool = True,
    ) -> None:
        self.registry = registry
        self.require_namespaces = require_namespaces
        self.lock = threading.RLock()
        # Notified on every change (and by compact/close_watches); `changed_kind(kind)` only on
        # changes of one kind, so that a write wakes the watchers of its kind, not all of them.
        self.changed = threading.Condition(self.lock)
        self._kind_changed: dict[StoreKey, threading.Condition] = {}
        self._rv = 0
        self._objects: dict[StoreKey, dict[ObjKey, Obj]] = {}
        # Events in resourceVersion order; `_history[_head:]` is the live part (a list, not a
        # deque, so that a watcher finds its place by bisection instead of a scan).
        self._history: list[WatchEvent] = []
        self._head = 0
        self._history_limit = history_limit
        # Every event with rv > _floor is in _history; watching from below it is 410 Gone.
        self._floor = 0
        # Bumped to end every open watch stream (test hook for reconnects).
        self.watch_epoch = 0
        self._validators: dict[StoreKey, list[Validator]] = {}
        # Snapshots behind list continue tokens: id -> (rv, remaining items).
        self._snapshots: dict[str, tuple[int, list[Obj]]] = {}

    # ----------------------------------------------------------------- bookkeeping

    @property
    def resource_version(self) -> int:
        """The latest resourceVersion handed out."""
        with self.lock:
            return self._rv

    @property
    def oldest_watchable(self) -> int:
        """The smallest resourceVersion a watch may start from without 410 Gone."""
        with self.lock:
            return self._floor

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def _record(self, event: WatchEvent) -> None:
        self._history.append(event)
        excess = len(self._history) - self._head - self._history_limit
        if excess > 0:
            self._head += excess
            self._floor = self._history[self._head - 1].rv
            if self._head > self._history_limit:  # drop the forgotten prefix now and then
                del self._history[: self._head]
                self._head = 0
        self.changed.notify_all()
        kind_changed = self._kind_changed.get((event.kind.group, event.kind.plural))
        if kind_changed is not None:
            kind_changed.notify_all()

    def changed_kind(self, kind: ResourceKind) -> threading.Condition:
        """A condition (on `lock`) notified when an object of `kind` changes, and by
        `compact` and `close_watches`."""
        with self.lock:
            return self._kind_changed.setdefault(
                (kind.group, kind.plural), threading.Condition(self.lock)
            )

    def _notify_everyone(self) -> None:
        self.changed.notify_all()
        for condition in self._kind_changed.values():
            condition.notify_all()

    def compact(self) -> None:
        """Forget the whole event history (and list snapshots), as an etcd compaction does.

        Afterwards a watch from any resourceVersion older than the current one gets 410.
        """
        with self.lock:
            self._history.clear()
            self._head = 0
            self._floor = self._rv
            self._snapshots.clear()
            self._notify_everyone()

    def close_watches(self) -> None:
        """End every open watch stream; clients see a normal end of stream and reconnect."""
        with self.lock:
            self.watch_epoch += 1
            self._notify_everyone()

    def add_validator(self, kind: ResourceKind, validator: Validator) -> None:
        """Run `validator(new, old)` on every create and update of `kind`."""
        with self.lock:
            self._validators.setdefault((kind.group, kind.plural), []).append(validator)

    def events_after(self, rv: int) -> list[WatchEvent]:
        """Events with resourceVersion > rv; raises 410 Expired if some were forgotten."""
        with self.lock:
            if rv < self._floor:
                raise errors.expired(f"too old resource version: {rv} ({self._floor + 1})")
            start = bisect.bisect_right(self._history, rv, lo=self._head, key=lambda e: e.rv)
            return self._history[start:]

    # ----------------------------------------------------------------- helpers

    def _bucket(self, kind: ResourceKind) -> dict[ObjKey, Obj]:
        return self._objects.setdefault((kind.group, kind.plural), {})

    def _obj_key(self, kind: ResourceKind, namespace: str | None, name: str) -> ObjKey:
        return ((namespace or "") if kind.namespaced else "", name)

    def _validate(self, kind: ResourceKind, new: Obj, old: Obj | None) -> None:
        causes: list[FieldCause] = []
        for validator in self._validators.get((kind.group, kind.plural), []):
            causes.extend(validator(clone(new), clone(old)))
        if causes:
            raise errors.invalid(kind, new["metadata"].get("name", ""), causes)

    def _check_namespace_exists(self, kind: ResourceKind, namespace: str) -> None:
        if not kind.namespaced or not self.require_namespaces:
            return
        ns_kind = self.registry.by_ref("namespaces")
        if ("", namespace) not in self._bucket(ns_kind):
            raise errors.not_found(ns_kind, namespace)

    def _check_type(self, kind: ResourceKind, version: str, obj: Obj) -> None:
        api_version = obj.get("apiVersion")
        if api_version and api_version not in {kind.api_version(v) for v in kind.versions}:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected "
                f"API version ({kind.api_version(version)})"
            )
        if obj.get("kind") and obj["kind"] != kind.kind:
            raise errors.bad_request(
                f"the kind in the data ({obj['kind']}) does not match the expected kind "
                f"({kind.kind})"
            )

    # ----------------------------------------------------------------- reads

    def get(self, kind: ResourceKind, namespace: str | None, name: str) -> Obj:
        """A copy of one object; 404 NotFound if absent."""
        with self.lock:
            obj = self._bucket(kind).get(self._obj_key(kind, namespace, name))
            if obj is None:
                raise errors.not_found(kind, name)
            return clone(obj)

    def find(self, kind: ResourceKind, namespace: str | None, name: str) -> Obj | None:
        """A copy of one object, or None."""
        try:
            return self.get(kind, namespace, name)
        except KubeError:
            return None

    def list_objects(
        self,
        kind: ResourceKind,
        namespace: str | None = None,
        labels: LabelSelector | None = None,
        fields: FieldSelector | None = None,
    ) -> tuple[list[Obj], int]:
        """Matching objects sorted by (namespace, name), and the store's resourceVersion."""
        with self.lock:
            items = [
                clone(obj)
                for key, obj in sorted(self._bucket(kind).items())
                if (namespace is None or key[0] == namespace)
                and (labels is None or labels.matches(obj))
                and (fields is None or fields.matches(obj))
            ]
            return items, self._rv

    def list_page(
        self,
        kind: ResourceKind,
        namespace: str | None,
        labels: LabelSelector,
        fields: FieldSelector,
        *,
        limit: int | None,
        continue_token: str | None,
    ) -> tuple[list[Obj], int, str | None, int]:
        """One page of a chunked list: items, list resourceVersion, next token, remaining.

        Continued pages come from the snapshot taken by the first page, so a chunked list is
        consistent as in the apiserver; compaction expires the token (410 Expired).
        """
        with self.lock:
            if continue_token:
                snap = self._snapshots.pop(continue_token, None)
                if snap is None:
                    raise errors.expired(
                        "The provided continue parameter is too old to display a consistent "
                        "list result. You can start a new list without the continue parameter."
                    )
                rv, items = snap
            else:
                items, rv = self.list_objects(kind, namespace, labels, fields)
            if not limit or limit >= len(items):
                return items, rv, None, 0
            page, rest = items[:limit], items[limit:]
            token = uuid.uuid4().hex
            self._snapshots[token] = (rv, rest)
            while len(self._snapshots) > 256:
                del self._snapshots[next(iter(self._snapshots))]
            return page, rv, token, len(rest)

    def iter_namespace(self, namespace: str) -> Iterator[tuple[ResourceKind, Obj]]:
        """Copies of every namespaced object in `namespace`."""
        with self.lock:
            for kind in self.registry.all():
                if not kind.namespaced:
                    continue
                for (ns, _), obj in sorted(self._bucket(kind).items()):
                    if ns == namespace:
                        yield kind, clone(obj)

    # ----------------------------------------------------------------- writes

    def create(
        self,
        kind: ResourceKind,
        namespace: str | None,
        body: Obj,
        version: str,
        *,
        handed_over: bool = False,
    ) -> Obj:
        """Create an object (POST); returns the stored copy.

        `handed_over`: the caller gives `body` away and only reads the result (the HTTP
        handler: a body it just decoded, a reply it encodes at once), so neither is copied."""
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        obj = body if handed_over else clone(body)
        self._check_type(kind, version, obj)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        with self.lock:
            if kind.namespaced:
                body_ns = meta.get("namespace")
                if namespace and body_ns and body_ns != namespace:
                    raise errors.bad_request(
                        "the namespace of the provided object does not match the namespace "
                        "sent on the request"
                    )
                namespace = namespace or body_ns
                if not namespace:
                    raise errors.bad_request("a namespace is required for " + kind.ref)
                meta["namespace"] = namespace
                self._check_namespace_exists(kind, namespace)
            else:
                meta.pop("namespace", None)
                namespace = ""
            if meta.get("resourceVersion"):
                raise errors.internal_error(
                    "resourceVersion should not be set on objects to be created"
                )
            bucket = self._bucket(kind)
            if not meta.get("name"):
                prefix = meta.get("generateName")
                if not prefix:
                    raise errors.invalid(
                        kind,
                        "",
                        [
                            {
                                "field": "metadata.name",
                                "reason": "FieldValueRequired",
                                "message": "Required value: name or generateName is required",
                            }
                        ],
                    )
                for _ in range(100):
                    suffix = "".join(random.choices(_GENERATE_ALPHABET, k=5))
                    if (namespace, prefix + suffix) not in bucket:
                        meta["name"] = prefix + suffix
                        break
            name = meta["name"]
            if len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
                raise errors.invalid(
                    kind,
                    name,
                    [
                        {
                            "field": "metadata.name",
                            "reason": "FieldValueInvalid",
                            "message": f'Invalid value: "{name}": a lowercase RFC 1123 '
                            "subdomain must consist of lower case alphanumeric characters, "
                            "'-' or '.'",
                        }
                    ],
                )
            if (namespace, name) in bucket:
                raise errors.already_exists(kind, name)
            obj["apiVersion"] = kind.api_version()
            obj["kind"] = kind.kind
            if kind.status_subresource:
                obj.pop("status", None)
                if kind.initial_status:
                    obj["status"] = clone(dict(kind.initial_status))
            for field in ("deletionTimestamp", "deletionGracePeriodSeconds"):
                meta.pop(field, None)
            self._validate(kind, obj, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            meta["generation"] = 1
            rv = self._next_rv()
            meta["resourceVersion"] = str(rv)
            bucket[(namespace, name)] = obj
            self._record(WatchEvent(rv, "ADDED", kind, namespace, None, obj))
            return obj if handed_over else clone(obj)

    def update(
        self,
        kind: ResourceKind,
        namespace: str | None,
        name: str,
        body: Obj,
        version: str,
        *,
        subresource: str = "",
        handed_over: bool = False,
    ) -> Obj:
        """Replace an object (PUT), or its status with `subresource="status"`.

        A stale metadata.resourceVersion is 409 Conflict. Through the main resource the status
        is kept; through `/status` only status changes (plus metadata for kinds whose strategy
        keeps it, such as Service). A write that changes nothing keeps the resourceVersion.
        `handed_over` as for `create`.
        """
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        new = body if handed_over else clone(body)
        self._check_type(kind, version, new)
        meta = new.setdefault("metadata", {})
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL "
                f"({name})"
            )
        if kind.namespaced and meta.get("namespace") and meta["namespace"] != (namespace or ""):
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        with self.lock:
            key = self._obj_key(kind, namespace, name)
            bucket = self._bucket(kind)
            old = bucket.get(key)
            if old is None:
                raise errors.not_found(kind, name)
            if meta.get("uid") and meta["uid"] != old["metadata"]["uid"]:
                raise errors.conflict(
                    kind,
                    name,
                    f"Precondition failed: UID in precondition: {meta['uid']}, UID in object "
                    f"meta: {old['metadata']['uid']}",
                )
            sent_rv = meta.get("resourceVersion")
            if sent_rv:
                if sent_rv != old["metadata"]["resourceVersion"]:
                    raise errors.conflict(kind, name)
            elif not kind.allow_unconditional_update:
                raise errors.invalid(
                    kind,
                    name,
                    [
                        {
                            "field": "metadata.resourceVersion",
                            "reason": "FieldValueInvalid",
                            "message": "Invalid value: 0x0: must be specified for an update",
                        }
                    ],
                )
            if subresource == "status":
                # Stored objects are never changed in place (every write stores a new one), so
                # the new object may share what it does not change with the old one.
                merged = {**old, "metadata": dict(old["metadata"])}
                if "status" in new:
                    merged["status"] = new["status"]
                else:
                    merged.pop("status", None)
                if kind.status_keeps_metadata:
                    merged["metadata"] = meta
            else:
                merged = new
                if kind.status_subresource:
                    if "status" in old:
                        merged["status"] = old["status"]
                    else:
                        merged.pop("status", None)
            stored = self._commit_update(kind, key, old, merged)
            return stored if handed_over else clone(stored)

    def _commit_update(self, kind: ResourceKind, key: ObjKey, old: Obj, merged: Obj) -> Obj:
        """Restore system metadata, bump generation/resourceVersion, store and record; returns
        the stored object itself (the caller copies it if it hands it out)."""
        meta = merged.setdefault("metadata", {})
        old_meta = old["metadata"]
        for field in _SYSTEM_METADATA:
            if field in old_meta:
                meta[field] = old_meta[field]
            else:
                meta.pop(field, None)
        merged["apiVersion"] = kind.api_version()
        merged["kind"] = kind.kind
        if _spec_part(merged) != _spec_part(old):
            meta["generation"] = int(old_meta.get("generation", 1)) + 1
        if merged == old:
            return old
        self._validate(kind, merged, old)
        bucket = self._bucket(kind)
        if old_meta.get("deletionTimestamp") and not meta.get("finalizers"):
            bucket[key] = merged
            return self._remove(kind, key)
        rv = self._next_rv()
        meta["resourceVersion"] = str(rv)
        bucket[key] = merged
        self._record(WatchEvent(rv, "MODIFIED", kind, key[0], old, merged))
        return merged

    def _remove(self, kind: ResourceKind, key: ObjKey) -> Obj:
        bucket = self._bucket(kind)
        old = bucket.pop(key)
        gone = clone(old)
        rv = self._next_rv()
        gone["metadata"]["resourceVersion"] = str(rv)
        self._record(WatchEvent(rv, "DELETED", kind, key[0], clone(old), gone))
        return clone(gone)

    def delete(
        self,
        kind: ResourceKind,
        namespace: str | None,
        name: str,
        preconditions: Mapping[str, Any] | None = None,
    ) -> tuple[Obj, bool]:
        """Delete an object; returns (object, deleted now).

        With finalizers the object only gets a deletionTimestamp and stays until an update
        empties metadata.finalizers. Preconditions (uid, resourceVersion) give 409 Conflict.
        """
        with self.lock:
            key = self._obj_key(kind, namespace, name)
            old = self._bucket(kind).get(key)
            if old is None:
                raise errors.not_found(kind, name)
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != old["metadata"]["uid"]:
                raise errors.conflict(
                    kind,
                    name,
                    f"Precondition failed: UID in precondition: {pre['uid']}, UID in object "
                    f"meta: {old['metadata']['uid']}",
                )
            if pre.get("resourceVersion") and (
                pre["resourceVersion"] != old["metadata"]["resourceVersion"]
            ):
                raise errors.conflict(
                    kind,
                    name,
                    "Precondition failed: ResourceVersion in precondition: "
                    f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                    f"{old['metadata']['resourceVersion']}",
                )
            if old["metadata"].get("finalizers"):
                if old["metadata"].get("deletionTimestamp"):
                    return clone(old), False
                marked = clone(old)
                marked["metadata"]["deletionTimestamp"] = now_rfc3339()
                marked["metadata"]["deletionGracePeriodSeconds"] = 0
                rv = self._next_rv()
                marked["metadata"]["resourceVersion"] = str(rv)
                self._bucket(kind)[key] = marked
                self._record(WatchEvent(rv, "MODIFIED", kind, key[0], clone(old), marked))
                return clone(marked), False
            gone = self._remove(kind, key)
            if kind.ref == "namespaces":
                # The namespace controller's job, done at once: delete what the namespace held.
                for inner_kind, inner in list(self.iter_namespace(name)):
                    self._remove(inner_kind, (name, inner["metadata"]["name"]))
            return gone, True
