"""The HTTP side of the fake API server: Kubernetes REST paths over a loopback socket.

Theory of operation: a `ThreadingHTTPServer` on 127.0.0.1 (port 0) runs in a background
thread; each connection gets a handler thread speaking HTTP/1.1 with keep-alive, so the real
`kubernetes` client's urllib3 pool works unchanged. A request path is parsed into a `Route`
(kind, served version, namespace, name, subresource) exactly as the apiserver lays them out:

    /api/v1/{plural}[/{name}[/status]]                  cluster-scoped, or all namespaces
    /api/v1/namespaces/{ns}/{plural}[/{name}[/status]]  namespaced
    /apis/{group}/{version}/...                         the same for named groups

and answered from the `ObjectStore`. Errors are `Status` bodies with the matching HTTP code.
A watch (`?watch=true`) is a chunked response of JSON lines that stays open and follows the
store's history until its timeout, a test hook closes it, or the server stops.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from . import errors
from .errors import KubeError
from .kinds import KindRegistry, ResourceKind
from .patch import json_patch, merge_patch
from .selectors import FieldSelector, LabelSelector
from .store import ObjectStore, WatchEvent, clone

if TYPE_CHECKING:
    from .fake import FakeKube

__all__ = ["Access", "Authorizer", "FakeHTTPServer", "Fault", "RequestRecord", "Route"]

Obj = dict[str, Any]

_DEFAULT_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it, for assertions on what a client sent."""

    method: str
    path: str
    query: dict[str, str]
    content_type: str
    raw: bytes

    @property
    def body(self) -> Any:
        """The body decoded as the server decoded it (the text itself if it did not decode).

        Decoded again on each access: the server hands the body it decoded to the store."""
        try:
            return _parse_body(self.raw, self.content_type)
        except KubeError:
            return self.raw.decode("utf-8", "replace")


@dataclass
class Fault:
    """An injected failure: the next `remaining` matching requests (until `until`, a
    `time.monotonic()` deadline, if set) wait `stall` seconds, then get `code` (0: are answered
    as usual after the stall)."""

    code: int
    remaining: int
    method: str | None = None
    path: re.Pattern[str] | None = None
    reason: str = "InternalError"
    message: str = "injected failure"
    watch: bool | None = None
    until: float | None = None
    stall: float = 0.0

    def matches(self, method: str, path: str, is_watch: bool) -> bool:
        """Whether this fault applies to a request."""
        if self.remaining <= 0:
            return False
        if self.until is not None and time.monotonic() >= self.until:
            return False
        if self.method is not None and self.method != method:
            return False
        if self.watch is not None and self.watch != is_watch:
            return False
        return self.path is None or self.path.search(path) is not None


@dataclass(frozen=True)
class Access:
    """A request's attributes as the API server's authorizer sees them (authorizer.Attributes):
    the verb (get, list, watch, create, update, patch, delete, deletecollection), the API group,
    the resource (with `/subresource`), the namespace ("" cluster-wide) and the name: the
    object's, or on a list or a watch the value of a `metadata.name=` field selector (which is
    how RBAC's resourceNames can allow a list or a watch), else ""."""

    verb: str
    group: str
    resource: str
    namespace: str
    name: str


Authorizer = Callable[[Access], bool]
_NAME_TERM = re.compile(r"^metadata\.name==?([^=!].*)$")


@dataclass(frozen=True)
class Route:
    """A parsed resource URL."""

    kind: ResourceKind
    version: str
    namespace: str | None
    name: str | None
    subresource: str = ""


@dataclass
class _Watch:
    """Parameters of one watch request."""

    route: Route
    labels: LabelSelector
    fields: FieldSelector
    bookmarks: bool
    deadline: float | None
    epoch: int
    cursor: int = 0
    last_bookmark: float = field(default_factory=time.monotonic)


class FakeHTTPServer(ThreadingHTTPServer):
    """Threading HTTP server that remembers its connections so `stop` can cut them."""

    daemon_threads = True
    allow_reuse_address = True
    # The client's urllib3 pool may open many connections at once; a short backlog would
    # turn a burst into SYN retries (a second each).
    request_queue_size = 128

    def __init__(self, fake: FakeKube, address: tuple[str, int] = ("127.0.0.1", 0)) -> None:
        super().__init__(address, _Handler)
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (killed, timed out) is not the server's error; the rest is
        printed as socketserver does."""
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Shut down every open client connection (used when stopping)."""
        with self.conn_lock:
            conns = list(self.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


def _out(kind: ResourceKind, version: str, obj: Obj) -> Obj:
    """Serve a stored object at `version` (only apiVersion differs between versions).

    A shallow copy: history objects are shared by every watcher and never modified."""
    return {**obj, "apiVersion": kind.api_version(version)}


def _parse_body(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    try:
        if "yaml" in content_type:
            return yaml.safe_load(raw.decode("utf-8"))
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise errors.bad_request(f"the body of the request could not be decoded: {exc}") from exc


class _Handler(BaseHTTPRequestHandler):
    """One connection; methods map to Kubernetes verbs."""

    protocol_version = "HTTP/1.1"
    server: FakeHTTPServer

    # ----------------------------------------------------------------- plumbing

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this Nagle's algorithm and
        # delayed ACKs add ~40 ms to every request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.conn_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.conn_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: requests are recorded in `FakeKube.requests` instead."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    @property
    def fake(self) -> FakeKube:
        return self.server.fake

    @property
    def store(self) -> ObjectStore:
        return self.server.fake.store

    def _send_json(self, code: int, body: Any) -> None:
        self._send_body(code, "application/json", json.dumps(body).encode("utf-8"))

    def _send_body(self, code: int, content_type: str, data: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, exc: KubeError) -> None:
        self._send_json(exc.code, exc.status())

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        path = split.path
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        self.fake.record(RequestRecord(method, path, query, content_type, raw))
        try:
            body = _parse_body(raw, content_type)
        except KubeError as exc:
            self._send_error(exc)
            return
        try:
            self._check_auth()
            fault = self.fake.take_fault(method, path, query.get("watch") in ("true", "1"))
            if fault is not None and fault.stall:
                time.sleep(fault.stall)  # a stalled answer: what a client's read timeout is for
            if fault is not None and fault.code:
                raise KubeError(fault.code, fault.reason, fault.message)
            self._route(method, path, query, content_type, body)
        except KubeError as exc:
            self._send_error(exc)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            self._send_error(errors.internal_error(f"fakekube bug: {exc!r}"))

    def _check_auth(self) -> None:
        token = self.fake.token
        if token is None:
            return
        if self.headers.get("Authorization") != f"Bearer {token}":
            raise KubeError(401, "Unauthorized", "Unauthorized")

    # ----------------------------------------------------------------- routing

    def _route(
        self, method: str, path: str, query: dict[str, str], content_type: str, body: Any
    ) -> None:
        segs = [unquote(s) for s in path.split("/") if s]
        if not segs:
            self._send_json(200, {"paths": ["/api", "/api/v1", "/apis", "/version"]})
            return
        if segs[0] in ("healthz", "readyz", "livez"):
            self._send_raw(200, b"ok")
            return
        if segs == ["version"]:
            self._send_json(200, _version_info())
            return
        registry = self.fake.registry
        if segs[0] == "api" and len(segs) >= 2:
            group, version, rest = "", segs[1], segs[2:]
        elif segs[0] == "apis" and len(segs) >= 3:
            group, version, rest = segs[1], segs[2], segs[3:]
        elif segs == ["api"]:
            self._send_json(200, {"kind": "APIVersions", "versions": ["v1"]})
            return
        elif segs == ["apis"]:
            self._send_json(200, _group_list(registry))
            return
        else:
            raise _no_route()
        if not rest:
            self._send_json(200, _resource_list(registry, group, version))
            return
        route = _parse_route(registry, group, version, rest)
        self._authorize(method, route, query)
        if route.subresource:
            self._status_verb(method, route, query, content_type, body)
        elif route.name is None:
            self._collection_verb(method, route, query, body)
        else:
            self._object_verb(method, route, query, content_type, body)

    def _authorize(self, method: str, route: Route, query: dict[str, str]) -> None:
        """403 Forbidden if the request's token has an authorizer that refuses it."""
        header = self.headers.get("Authorization") or ""
        token = header.removeprefix("Bearer ")
        authorizer = self.fake.authorizers.get(token) if header.startswith("Bearer ") else None
        if authorizer is None:
            return
        name = route.name or ""
        if route.name is None:
            verbs = {"GET": "list", "POST": "create", "DELETE": "deletecollection"}
            verb = verbs.get(method, method.lower())
            if verb == "list" and query.get("watch") in ("true", "1"):
                verb = "watch"
            for term in (query.get("fieldSelector") or "").split(","):
                if match := _NAME_TERM.match(term.strip()):
                    name = match.group(1)
        else:
            verb = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
                method, method.lower()
            )
        resource = route.kind.plural + (f"/{route.subresource}" if route.subresource else "")
        access = Access(verb, route.kind.group, resource, route.namespace or "", name)
        if not authorizer(access):
            where = f' in the namespace "{access.namespace}"' if access.namespace else ""
            what = f'{resource} "{name}"' if name else resource
            raise KubeError(
                403,
                "Forbidden",
                f"{what} is forbidden: User cannot {verb} resource "
                f'"{resource}" in API group "{access.group}"{where}',
            )

    def _send_raw(self, code: int, data: bytes) -> None:
        self._send_body(code, "text/plain", data)

    def _collection_verb(self, method: str, route: Route, query: dict[str, str], body: Any) -> None:
        kind = route.kind
        _reject_dry_run(query)
        if method == "GET":
            labels = LabelSelector.parse(query.get("labelSelector"))
            fields = FieldSelector.parse(query.get("fieldSelector"), kind.supported_field_labels)
            if query.get("watch") in ("true", "1"):
                self._watch(route, query, labels, fields)
                return
            limit = _int_param(query, "limit")
            items, rv, token, remaining = self.store.list_page(
                kind,
                route.namespace,
                labels,
                fields,
                limit=limit,
                continue_token=query.get("continue") or None,
            )
            meta: Obj = {"resourceVersion": str(rv)}
            if token:
                meta["continue"] = token
                meta["remainingItemCount"] = remaining
            out_items = []
            for item in items:
                _out(kind, route.version, item)
                if not kind.custom:
                    # Built-in lists carry no per-item apiVersion/kind on the wire.
                    item.pop("apiVersion", None)
                    item.pop("kind", None)
                out_items.append(item)
            self._send_json(
                200,
                {
                    "kind": kind.list_kind,
                    "apiVersion": kind.api_version(route.version),
                    "metadata": meta,
                    "items": out_items,
                },
            )
        elif method == "POST":
            if kind.namespaced and route.namespace is None:
                raise _method_not_allowed(method)
            created = self.store.create(
                kind, route.namespace, body, route.version, handed_over=True
            )
            self._send_json(201, _out(kind, route.version, created))
        elif method == "DELETE":
            labels = LabelSelector.parse(query.get("labelSelector"))
            fields = FieldSelector.parse(query.get("fieldSelector"), kind.supported_field_labels)
            if kind.namespaced and route.namespace is None:
                raise _method_not_allowed(method)
            items, _ = self.store.list_objects(kind, route.namespace, labels, fields)
            gone = []
            for item in items:
                with contextlib.suppress(KubeError):
                    obj, _ = self.store.delete(
                        kind, route.namespace, item["metadata"]["name"], None
                    )
                    gone.append(_out(kind, route.version, obj))
            self._send_json(
                200,
                {
                    "kind": kind.list_kind,
                    "apiVersion": kind.api_version(route.version),
                    "metadata": {"resourceVersion": str(self.store.resource_version)},
                    "items": gone,
                },
            )
        else:
            raise _method_not_allowed(method)

    def _object_verb(
        self, method: str, route: Route, query: dict[str, str], content_type: str, body: Any
    ) -> None:
        kind, name = route.kind, route.name
        assert name is not None
        if method != "GET":
            _reject_dry_run(query)
        if method == "GET":
            obj = self.store.get(kind, route.namespace, name)
            self._send_json(200, _out(kind, route.version, obj))
        elif method == "PUT":
            obj = self.store.update(
                kind, route.namespace, name, body, route.version, handed_over=True
            )
            self._send_json(200, _out(kind, route.version, obj))
        elif method == "PATCH":
            code, obj = self._patch(route, query, content_type, body)
            self._send_json(code, _out(kind, route.version, obj))
        elif method == "DELETE":
            pre = body.get("preconditions") if isinstance(body, dict) else None
            obj, deleted = self.store.delete(kind, route.namespace, name, pre)
            if not deleted or kind.delete_returns_object:
                # Pending finalizers: the object with its deletionTimestamp, 200 as for real.
                self._send_json(200, _out(kind, route.version, obj))
            else:
                details: Obj = {"name": name, "kind": kind.plural, "uid": obj["metadata"]["uid"]}
                if kind.group:
                    details["group"] = kind.group
                self._send_json(
                    200,
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "metadata": {},
                        "status": "Success",
                        "details": details,
                    },
                )
        else:
            raise _method_not_allowed(method)

    def _status_verb(
        self, method: str, route: Route, query: dict[str, str], content_type: str, body: Any
    ) -> None:
        kind, name = route.kind, route.name
        assert name is not None
        if method != "GET":
            _reject_dry_run(query)
        if method == "GET":
            obj = self.store.get(kind, route.namespace, name)
            self._send_json(200, _out(kind, route.version, obj))
        elif method == "PUT":
            obj = self.store.update(
                kind,
                route.namespace,
                name,
                body,
                route.version,
                subresource="status",
                handed_over=True,
            )
            self._send_json(200, _out(kind, route.version, obj))
        elif method == "PATCH":
            code, obj = self._patch(route, query, content_type, body)
            self._send_json(code, _out(kind, route.version, obj))
        else:
            raise _method_not_allowed(method)

    def _patch(
        self, route: Route, query: dict[str, str], content_type: str, body: Any
    ) -> tuple[int, Obj]:
        """Apply a PATCH atomically; returns (HTTP code, object)."""
        kind, name = route.kind, route.name
        assert name is not None
        store = self.store
        with store.lock:
            if content_type == APPLY_PATCH:
                if not query.get("fieldManager"):
                    raise errors.bad_request(
                        "PATCH, application/apply-patch+yaml: fieldManager is required for "
                        "apply requests"
                    )
                if not isinstance(body, dict):
                    raise errors.bad_request("an apply patch must be an object")
                current = store.find(kind, route.namespace, name)
                if current is None:
                    if route.subresource:
                        raise errors.not_found(kind, name)
                    obj = clone(body)
                    obj.setdefault("metadata", {}).setdefault("name", name)
                    return 201, store.create(kind, route.namespace, obj, route.version)
                patched = merge_patch(current, body)
            else:
                current = store.get(kind, route.namespace, name)
                if content_type == JSON_PATCH:
                    patched = json_patch(current, body)
                elif content_type == MERGE_PATCH or (
                    content_type == STRATEGIC_MERGE_PATCH and not kind.custom
                ):
                    if not isinstance(body, dict):
                        raise errors.bad_request("a merge patch must be a JSON object")
                    patched = merge_patch(current, body)
                else:
                    raise KubeError(
                        415,
                        "UnsupportedMediaType",
                        f"the body of the request was in an unknown format - accepted media "
                        f"types include: {JSON_PATCH}, {MERGE_PATCH}, {APPLY_PATCH}"
                        + ("" if kind.custom else f", {STRATEGIC_MERGE_PATCH}"),
                    )
            if not isinstance(patched, dict):
                raise errors.bad_request("the patched object is not a JSON object")
            return 200, store.update(
                kind,
                route.namespace,
                name,
                patched,
                route.version,
                subresource=route.subresource,
            )

    # ----------------------------------------------------------------- watch

    def _watch(
        self,
        route: Route,
        query: dict[str, str],
        labels: LabelSelector,
        fields: FieldSelector,
    ) -> None:
        timeout = _int_param(query, "timeoutSeconds")
        start = _int_param(query, "resourceVersion") or 0
        w = _Watch(
            route=route,
            labels=labels,
            fields=fields,
            bookmarks=query.get("allowWatchBookmarks") in ("true", "1"),
            deadline=time.monotonic() + timeout if timeout else None,
            epoch=self.store.watch_epoch,
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.fake.watch_opened()
        try:
            self._watch_body(w, start)
            self._chunk(b"")
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
        finally:
            self.fake.watch_closed()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _emit(self, event_type: str, obj: Obj) -> None:
        line = json.dumps({"type": event_type, "object": obj}) + "\n"
        self._chunk(line.encode("utf-8"))

    def _watch_body(self, w: _Watch, start: int) -> None:
        store = self.store
        route = w.route
        kind = route.kind
        if start == 0:
            # No resourceVersion: synthetic ADDED events for the current state, then changes.
            with store.lock:
                items, w.cursor = store.list_objects(kind, route.namespace, w.labels, w.fields)
            for item in items:
                self._emit("ADDED", _out(kind, route.version, item))
        else:
            w.cursor = start
        bookmark_interval = self.fake.bookmark_interval
        while True:
            batch: list[WatchEvent] = []
            send_bookmark = False
            gone: KubeError | None = None
            changed = store.changed_kind(kind)
            woken = False
            with changed:
                while True:
                    if store.watch_epoch != w.epoch or self.fake.stopping:
                        return
                    try:
                        batch = [e for e in store.events_after(w.cursor) if e.kind is kind]
                        fresh_cursor = store.resource_version
                    except KubeError as exc:
                        gone = exc
                        break
                    if batch:
                        break
                    w.cursor = fresh_cursor
                    now = time.monotonic()
                    if w.deadline is not None and now >= w.deadline:
                        return
                    if w.bookmarks and now - w.last_bookmark >= bookmark_interval:
                        send_bookmark = True
                        break
                    wait = bookmark_interval if w.bookmarks else 1.0
                    if w.bookmarks:
                        wait = max(0.0, w.last_bookmark + bookmark_interval - now)
                    if w.deadline is not None:
                        wait = min(wait, w.deadline - now)
                    changed.wait(timeout=max(0.001, wait))
                    woken = True
            coalesce = self.fake.watch_coalesce
            if batch and woken and coalesce > 0 and len(batch) < 256:
                # Woken by the first write of what may be a burst: give the burst a moment, so
                # that it goes out in one socket write instead of one per event.
                time.sleep(coalesce)
                with store.lock, contextlib.suppress(KubeError):  # a 410: on the next round
                    batch += [e for e in store.events_after(batch[-1].rv) if e.kind is kind]
            if gone is not None:
                # Like the apiserver: a 200 stream whose (first) event is an ERROR Status.
                self._emit("ERROR", gone.status())
                return
            if send_bookmark:
                w.last_bookmark = time.monotonic()
                self._emit(
                    "BOOKMARK",
                    {
                        "kind": kind.kind,
                        "apiVersion": kind.api_version(route.version),
                        "metadata": {"resourceVersion": str(w.cursor)},
                    },
                )
                continue
            # One chunk per event, as the apiserver sends them, but one socket write per batch.
            chunks = []
            for event in batch:
                w.cursor = event.rv
                translated = self._translate(w, event)
                if translated is not None:
                    event_type, obj = translated
                    line = event.encoded.get((event_type, route.version))
                    if line is None:
                        out = {"type": event_type, "object": _out(kind, route.version, obj)}
                        line = (json.dumps(out) + "\n").encode("utf-8")
                        event.encoded[(event_type, route.version)] = line
                    chunks.append(b"%x\r\n%s\r\n" % (len(line), line))
                if w.deadline is not None and time.monotonic() >= w.deadline:
                    break
            if chunks:
                self.wfile.write(b"".join(chunks))
                self.wfile.flush()
            if w.deadline is not None and time.monotonic() >= w.deadline:
                return

    @staticmethod
    def _translate(w: _Watch, event: WatchEvent) -> tuple[str, Obj] | None:
        """What a filtered watch sees of an event (None: nothing)."""
        route = w.route
        if route.namespace is not None and event.namespace != route.namespace:
            return None

        def selected(obj: Obj | None) -> bool:
            return obj is not None and w.labels.matches(obj) and w.fields.matches(obj)

        was, now = selected(event.old), selected(event.new)
        if event.type == "DELETED":
            return ("DELETED", event.new) if was else None
        if was and now:
            return event.type, event.new
        if now:
            return "ADDED", event.new
        if was:
            return "DELETED", event.new
        return None


def _parse_route(registry: KindRegistry, group: str, version: str, rest: list[str]) -> Route:
    """Resolve the part of a resource URL after /api/v1 or /apis/GROUP/VERSION."""
    if rest[0] == "namespaces" and len(rest) >= 3:
        kind = registry.lookup(group, version, rest[2])
        if kind is not None and kind.namespaced:
            namespace: str | None = rest[1]
            tail = rest[3:]
        else:
            kind = registry.lookup(group, version, rest[0])
            namespace, tail = None, rest[1:]
    else:
        kind = registry.lookup(group, version, rest[0])
        namespace, tail = None, rest[1:]
    if kind is None or len(tail) > 2:
        raise _no_route()
    name = tail[0] if tail else None
    sub = tail[1] if len(tail) == 2 else ""
    if name is not None and kind.namespaced and namespace is None:
        raise _no_route()
    if sub and (sub != "status" or not kind.status_subresource):
        raise _no_route()
    return Route(kind, version, namespace, name, sub)


def _int_param(query: dict[str, str], name: str) -> int | None:
    """A non-negative integer query parameter, None when absent; 400 when malformed."""
    text = query.get(name)
    if not text:
        return None
    if not text.isdigit():
        raise errors.bad_request(f"invalid {name} {text!r}: not a non-negative integer")
    return int(text)


def _no_route() -> KubeError:
    return KubeError(404, "NotFound", "the server could not find the requested resource")


def _method_not_allowed(method: str) -> KubeError:
    return KubeError(405, "MethodNotAllowed", f"the server does not allow this method: {method}")


def _reject_dry_run(query: dict[str, str]) -> None:
    if query.get("dryRun"):
        raise errors.bad_request("fakekube does not implement dryRun")


def _version_info() -> Obj:
    return {
        "major": "1",
        "minor": "34",
        "gitVersion": "v1.34.0-fakekube",
        "platform": "linux/amd64",
    }


def _group_list(registry: KindRegistry) -> Obj:
    groups = []
    for group, versions in registry.groups().items():
        if not group:
            continue
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        groups.append({"name": group, "versions": gvs, "preferredVersion": gvs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _resource_list(registry: KindRegistry, group: str, version: str) -> Obj:
    resources: list[Obj] = []
    for kind in registry.all():
        if kind.group != group or version not in kind.versions:
            continue
        resources.append(
            {
                "name": kind.plural,
                "singularName": kind.kind.lower(),
                "namespaced": kind.namespaced,
                "kind": kind.kind,
                "verbs": [
                    "create",
                    "delete",
                    "deletecollection",
                    "get",
                    "list",
                    "patch",
                    "update",
                    "watch",
                ],
            }
        )
        if kind.status_subresource:
            resources.append(
                {
                    "name": f"{kind.plural}/status",
                    "singularName": "",
                    "namespaced": kind.namespaced,
                    "kind": kind.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
    if not resources:
        raise _no_route()
    gv = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }
