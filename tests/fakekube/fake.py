"""`FakeKube`: the fake API server as a test sees it.

    with FakeKube() as kube:
        core = kubernetes.client.CoreV1Api(kube.api_client())
        core.create_namespaced_service("default", {...})
        kube.compact()            # the next watch from an old resourceVersion gets 410 Gone
        kube.close_watches()      # open watch streams end; clients reconnect
        kube.inject_failure(500, times=2, method="PUT")
        kube.fail_for(429, 10.0)  # every request answered 429 for 10 s
        kube.stall(30.0, times=1) # the next request answered after 30 s
        kube.go_away()            # nothing listens (connections refused) ...
        kube.come_back()          # ... until it serves again on the same port, store intact
        FakeKube(authorizers={"speaker-token": allow})  # RBAC: a token's requests are checked

The server runs in a daemon thread on 127.0.0.1 with an ephemeral port. Test-side helpers
(`create`, `get`, `list`, `update`, `update_status`, `patch`, `delete`) act on the same store
without HTTP, and produce the same watch events as requests would.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import kubernetes

from .kinds import DEFAULT_KINDS, KindRegistry, ResourceKind
from .patch import merge_patch
from .selectors import FieldSelector, LabelSelector
from .server import _DEFAULT_REASONS, Access, Authorizer, FakeHTTPServer, Fault, RequestRecord
from .store import ObjectStore, Validator

__all__ = ["DEFAULT_NAMESPACES", "Access", "Authorizer", "FakeKube", "api_status", "wait_for"]

Obj = dict[str, Any]
T = TypeVar("T")

DEFAULT_NAMESPACES = ("default", "kube-system", "metallb-system")


def wait_for(
    condition: Callable[[], T],
    timeout: float = 5.0,
    interval: float = 0.01,
    message: str = "condition",
) -> T:
    """Poll `condition` until it returns something truthy; return that, or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def write_kubeconfig(path: Path, server: str) -> Path:
    """A kubeconfig at `path` for the API server at `server` (a token the fake ignores)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": server}}],
        "users": [{"name": "fake", "user": {"token": "unused"}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
        "current-context": "fake",
    }
    path.write_text(json.dumps(config))
    return path


def api_status(exc: BaseException) -> dict[str, Any]:
    """The `Status` body the server sent with the client's `ApiException` ({} if none)."""
    body = getattr(exc, "body", None)
    if not body:
        return {}
    status: dict[str, Any] = json.loads(body)
    return status


class FakeKube:
    """An in-process Kubernetes API server speaking the real HTTP wire protocol.

    Args:
        kinds: the resource kinds served (default: `DEFAULT_KINDS`).
        extra_kinds: more kinds on top of `kinds`.
        token: if set, requests must carry `Authorization: Bearer <token>`.
        authorizers: bearer token -> `Authorizer`: a request carrying one of these tokens is
            answered only if its authorizer allows its `Access` (else 403 Forbidden, as the
            API server's RBAC authorizer answers); other requests are not checked.
        history_limit: watch events kept; older ones are forgotten (410 Gone).
        namespaces: namespaces created at start.
        require_namespaces: creating in a missing namespace is 404 NotFound, as for real.
        bookmark_interval: seconds between BOOKMARK events on watches that allow them.
        watch_coalesce: seconds a watch woken by a write waits for more writes before it sends
            (the apiserver flushes a watch only when no further event is queued for it).
    """

    def __init__(
        self,
        kinds: Iterable[ResourceKind] = DEFAULT_KINDS,
        extra_kinds: Iterable[ResourceKind] = (),
        *,
        token: str | None = None,
        authorizers: Mapping[str, Authorizer] | None = None,
        history_limit: int = 1000,
        namespaces: Iterable[str] = DEFAULT_NAMESPACES,
        require_namespaces: bool = True,
        bookmark_interval: float = 1.0,
        watch_coalesce: float = 0.002,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.host, self.bind_port = host, port
        self.registry = KindRegistry([*kinds, *extra_kinds])
        self.store = ObjectStore(
            self.registry, history_limit=history_limit, require_namespaces=require_namespaces
        )
        self.token = token
        self.authorizers = dict(authorizers or {})
        self.bookmark_interval = bookmark_interval
        self.watch_coalesce = watch_coalesce
        self.stopping = False
        self.requests: list[RequestRecord] = []
        self._faults: list[Fault] = []
        self._kept_port = 0
        self._lock = threading.Lock()
        self._open_watches = 0
        self._server: FakeHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for ns in namespaces:
            self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

    # ----------------------------------------------------------------- lifecycle

    def start(self, port: int | None = None) -> FakeKube:
        """Bind `host`:`port` (127.0.0.1 and an ephemeral port unless told, here or at
        construction) and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("already started")
        self.stopping = False
        bind = self.bind_port if port is None else port
        self._server = FakeHTTPServer(self, (self.host, bind))
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="fakekube",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """End watches, stop serving and cut open connections."""
        server, self._server = self._server, None
        if server is None:
            return
        self.stopping = True
        self.store.close_watches()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        wait_for(lambda: self.open_watches == 0, timeout=5, message="watch streams to end")

    def __enter__(self) -> FakeKube:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The TCP port served on."""
        if self._server is None:
            raise RuntimeError("not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:43121."""
        return f"http://127.0.0.1:{self.port}"

    def configuration(self, token: str | None = None) -> Any:
        """A `kubernetes.client.Configuration` pointing at this server (with `token`, or the
        server's own when it requires one)."""
        config = kubernetes.client.Configuration(host=self.url)
        config.no_proxy = "127.0.0.1,localhost"
        token = token if token is not None else self.token
        if token is not None:
            config.api_key = {"BearerToken": token}
            config.api_key_prefix = {"BearerToken": "Bearer"}
        return config

    def api_client(self, token: str | None = None) -> Any:
        """A new `kubernetes.client.ApiClient` for this server (close it when done)."""
        return kubernetes.client.ApiClient(self.configuration(token))

    # ----------------------------------------------------------------- hooks

    def record(self, request: RequestRecord) -> None:
        """Remember a request (called by the HTTP handler)."""
        with self._lock:
            self.requests.append(request)

    def requests_to(self, method: str, path_regex: str) -> list[RequestRecord]:
        """Recorded requests with this method whose path matches `path_regex`."""
        pattern = re.compile(path_regex)
        with self._lock:
            return [r for r in self.requests if r.method == method and pattern.search(r.path)]

    def inject_failure(
        self,
        code: int = 500,
        *,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
        reason: str | None = None,
        message: str = "injected failure",
        watch: bool | None = None,
    ) -> Fault:
        """Answer the next `times` matching requests with a `Status` error of `code`.

        `method` and `path` (a regex searched in the URL path) narrow the match; `watch`
        restricts it to watch (True) or non-watch (False) requests.
        """
        fault = Fault(
            code=code,
            remaining=times,
            method=method,
            path=re.compile(path) if path is not None else None,
            reason=reason or _DEFAULT_REASONS.get(code, "InternalError"),
            message=message,
            watch=watch,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def fail_for(
        self,
        code: int,
        seconds: float,
        *,
        method: str | None = None,
        path: str | None = None,
        watch: bool | None = None,
    ) -> Fault:
        """Answer every matching request with `code` for the next `seconds`."""
        fault = self.inject_failure(code, times=1 << 62, method=method, path=path, watch=watch)
        fault.until = time.monotonic() + seconds
        return fault

    def stall(
        self,
        seconds: float,
        *,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
        watch: bool | None = None,
    ) -> Fault:
        """Answer the next `times` matching requests only after `seconds` (then as usual)."""
        fault = self.inject_failure(0, times=times, method=method, path=path, watch=watch)
        fault.stall = seconds
        return fault

    def go_away(self) -> int:
        """Stop serving, as an API server that went away: connections are cut and refused;
        the store (objects, history) is kept. Returns the port `come_back` serves on again."""
        port = self.port
        self.stop()
        self._kept_port = port
        return port

    def come_back(self) -> None:
        """Serve again on the port `go_away` left."""
        self.start(self._kept_port)

    def take_fault(self, method: str, path: str, is_watch: bool) -> Fault | None:
        """Consume one injected failure matching this request, if any."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path, is_watch):
                    fault.remaining -= 1
                    return fault
        return None

    def clear_faults(self) -> None:
        """Drop every pending injected failure."""
        with self._lock:
            self._faults.clear()

    def add_validator(self, ref: str, validator: Validator) -> None:
        """Validate creates and updates of `ref` ("ipaddresspools.metallb.io").

        `validator(new, old)` returns a list of causes `{"field", "reason", "message"}`;
        any cause turns the request into 422 Invalid.
        """
        self.store.add_validator(self.registry.by_ref(ref), validator)

    def compact(self) -> None:
        """Forget the watch history: watches from older resourceVersions get 410 Gone."""
        self.store.compact()

    def close_watches(self) -> None:
        """End every open watch stream now (clients see EOF and may reconnect)."""
        self.store.close_watches()

    def watch_opened(self) -> None:
        """Count a watch stream as open (called by the HTTP handler)."""
        with self._lock:
            self._open_watches += 1

    def watch_closed(self) -> None:
        """Count a watch stream as closed (called by the HTTP handler)."""
        with self._lock:
            self._open_watches -= 1

    @property
    def open_watches(self) -> int:
        """Number of watch streams currently open."""
        with self._lock:
            return self._open_watches

    def wait_for_watches(self, count: int, timeout: float = 5.0) -> None:
        """Block until at least `count` watch streams are open."""
        wait_for(lambda: self.open_watches >= count, timeout, message=f"{count} watches")

    @property
    def resource_version(self) -> str:
        """The store's latest resourceVersion, as the API writes it."""
        return str(self.store.resource_version)

    # ----------------------------------------------------------------- test-side access

    def _kind_of(self, obj: Obj) -> tuple[ResourceKind, str]:
        try:
            return self.registry.by_api_version_kind(obj["apiVersion"], obj["kind"])
        except KeyError as exc:
            raise ValueError(f"cannot seed object: {exc}") from exc

    def create(self, obj: Obj) -> Obj:
        """Create `obj` (apiVersion, kind and metadata.namespace say where) without HTTP."""
        kind, version = self._kind_of(obj)
        namespace = (obj.get("metadata") or {}).get("namespace")
        return self.store.create(kind, namespace, obj, version)

    def get(self, ref: str, name: str, namespace: str | None = None) -> Obj:
        """Read one object by kubectl-style resource name; raises `KubeError` 404 if absent."""
        return self.store.get(self.registry.by_ref(ref), namespace, name)

    def find(self, ref: str, name: str, namespace: str | None = None) -> Obj | None:
        """Read one object, or None if absent."""
        return self.store.find(self.registry.by_ref(ref), namespace, name)

    def list(
        self,
        ref: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Obj]:
        """Objects of a resource, optionally in one namespace and filtered by selectors."""
        kind = self.registry.by_ref(ref)
        items, _ = self.store.list_objects(
            kind,
            namespace,
            LabelSelector.parse(label_selector),
            FieldSelector.parse(field_selector, kind.supported_field_labels),
        )
        return items

    def update(self, obj: Obj) -> Obj:
        """Replace an object as PUT would (status untouched for kinds with /status)."""
        kind, version = self._kind_of(obj)
        meta = obj["metadata"]
        return self.store.update(kind, meta.get("namespace"), meta["name"], obj, version)

    def update_status(self, obj: Obj) -> Obj:
        """Replace an object's status as PUT .../status would."""
        kind, version = self._kind_of(obj)
        meta = obj["metadata"]
        return self.store.update(
            kind, meta.get("namespace"), meta["name"], obj, version, subresource="status"
        )

    def patch(
        self,
        ref: str,
        name: str,
        patch: Obj,
        namespace: str | None = None,
        *,
        status: bool = False,
    ) -> Obj:
        """Merge-patch an object (or its status) without HTTP."""
        kind = self.registry.by_ref(ref)
        with self.store.lock:
            current = self.store.get(kind, namespace, name)
            patched = merge_patch(current, patch)
            return self.store.update(
                kind,
                namespace,
                name,
                patched,
                kind.storage_version,
                subresource="status" if status else "",
            )

    def delete(self, ref: str, name: str, namespace: str | None = None) -> Obj:
        """Delete an object (finalizers only mark it) and return its last state."""
        obj, _ = self.store.delete(self.registry.by_ref(ref), namespace, name)
        return obj

    def add_namespace(self, name: str) -> Obj:
        """Create a namespace."""
        return self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
