"""Watch: list-then-watch, 410 Gone, reconnects, selectors, bookmarks, concurrency.

Every watch here is consumed with the real `Watch().stream(...)`.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException

from .fake import FakeKube, wait_for

# kubernetes.watch is untyped; reach it through Any.
Watch: Any = kubernetes.watch.Watch
iter_resp_lines: Any = kubernetes.watch.watch.iter_resp_lines

Event = dict[str, Any]


def _svc(name: str, namespace: str = "default", **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"ports": [{"port": 80}]},
    }


class Collector:
    """Consume a watch in a thread until `done(events)` says so; events go to `events`."""

    def __init__(
        self,
        func: Callable[..., Any],
        *args: Any,
        done: Callable[[list[Event]], bool],
        **kwargs: Any,
    ) -> None:
        self.watch = Watch()
        self.events: list[Event] = []
        self.error: BaseException | None = None
        self._done = done
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(func, args, kwargs), daemon=True)
        self._thread.start()

    def _run(self, func: Callable[..., Any], args: Any, kwargs: Any) -> None:
        try:
            for event in self.watch.stream(func, *args, **kwargs):
                self.events.append(event)
                if self._done(self.events):
                    self.watch.stop()
        except BaseException as exc:
            self.error = exc
        finally:
            self._finished.set()

    def wait(self, timeout: float = 5.0) -> list[Event]:
        """Wait for the consumer to finish; re-raise what the stream raised."""
        assert self._finished.wait(timeout), f"watch did not finish; got {self.summary()}"
        self._thread.join(timeout)
        if self.error is not None:
            raise self.error
        return self.events

    def summary(self) -> list[tuple[str, str]]:
        """(type, name) of every event so far."""
        return [(e["type"], _name(e)) for e in self.events]


def _name(event: Event) -> str:
    obj = event["raw_object"]
    return str(obj.get("metadata", {}).get("name", ""))


def _watch_requests(kube: FakeKube, path: str) -> list[Any]:
    return [r for r in kube.requests_to("GET", path) if r.query.get("watch") == "true"]


def _until(name: str) -> Callable[[list[Event]], bool]:
    """Done when an event for the sentinel object `name` arrives."""
    return lambda events: _name(events[-1]) == name


def _count(n: int) -> Callable[[list[Event]], bool]:
    return lambda events: len(events) >= n


def test_list_then_watch_sees_changes_in_order(fake_kube: FakeKube, kube_api_client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    fake_kube.create(_svc("before"))
    listed = core.list_namespaced_service("default")
    rv = listed.metadata.resource_version
    assert [s.metadata.name for s in listed.items] == ["before"]

    # Changes between the list and the watch are replayed from history.
    fake_kube.create(_svc("a"))
    collector = Collector(
        core.list_namespaced_service, "default", resource_version=rv, done=_count(5)
    )
    fake_kube.wait_for_watches(1)
    core.patch_namespaced_service("a", "default", {"metadata": {"labels": {"x": "1"}}})
    core.patch_namespaced_service_status(
        "a", "default", {"status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}}}
    )
    core.create_namespaced_service("default", _svc("b"))
    core.delete_namespaced_service("a", "default")
    events = collector.wait()
    assert collector.summary() == [
        ("ADDED", "a"),
        ("MODIFIED", "a"),
        ("MODIFIED", "a"),
        ("ADDED", "b"),
        ("DELETED", "a"),
    ]
    rvs = [int(e["object"].metadata.resource_version) for e in events]
    assert rvs == sorted(rvs) and len(set(rvs)) == 5
    assert events[2]["object"].status.load_balancer.ingress[0].ip == "10.0.0.1"
    assert events[0]["object"].metadata.labels == {}  # typed V1Service objects


def test_watch_without_resource_version_starts_with_synthetic_added(
    fake_kube: FakeKube, kube_api_client: Any
) -> None:
    fake_kube.create(_svc("one"))
    fake_kube.create(_svc("two"))
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    collector = Collector(core.list_namespaced_service, "default", done=_count(3))
    wait_for(lambda: len(collector.events) >= 2)
    fake_kube.create(_svc("three"))
    collector.wait()
    assert collector.summary() == [("ADDED", "one"), ("ADDED", "two"), ("ADDED", "three")]


def test_watch_from_compacted_history_raises_410(fake_kube: FakeKube, kube_api_client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    rv = core.list_namespaced_service("default").metadata.resource_version
    fake_kube.create(_svc("a"))
    fake_kube.compact()
    # Without timeout_seconds the v37 client retries once from the same resourceVersion,
    # then raises ApiException(410) on the second ERROR event.
    with pytest.raises(ApiException) as exc_info:
        for _ in Watch().stream(core.list_namespaced_service, "default", resource_version=rv):
            pass
    assert exc_info.value.status == 410
    assert "Expired" in exc_info.value.reason
    assert len(_watch_requests(fake_kube, r"/api/v1/namespaces/default/services$")) == 2

    # With timeout_seconds the client does not retry.
    with pytest.raises(ApiException) as exc_info:
        for _ in Watch().stream(
            core.list_namespaced_service, "default", resource_version=rv, timeout_seconds=5
        ):
            pass
    assert exc_info.value.status == 410
    assert len(_watch_requests(fake_kube, r"/api/v1/namespaces/default/services$")) == 3

    # Recovery: list again and watch from the new resourceVersion.
    fresh = core.list_namespaced_service("default").metadata.resource_version
    collector = Collector(
        core.list_namespaced_service, "default", resource_version=fresh, done=_count(1)
    )
    fake_kube.wait_for_watches(1)
    fake_kube.create(_svc("b"))
    collector.wait()
    assert collector.summary() == [("ADDED", "b")]


def test_410_is_the_first_event_of_the_stream_on_the_wire(
    fake_kube: FakeKube, kube_api_client: Any
) -> None:
    fake_kube.create(_svc("a"))
    fake_kube.compact()
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    resp = core.list_namespaced_service(
        "default", watch=True, resource_version="1", _preload_content=False
    )
    try:
        assert resp.status == 200
        assert resp.headers["Transfer-Encoding"] == "chunked"
        lines = [line for line in iter_resp_lines(resp) if line]
    finally:
        resp.release_conn()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["type"] == "ERROR"
    assert event["object"] == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "too old resource version: 1 (5)",
        "reason": "Expired",
        "code": 410,
    }


def test_bounded_history_forgets_old_events(kube_api_client: Any) -> None:
    with FakeKube(history_limit=3) as kube, kube.api_client() as client:
        core: Any = kubernetes.client.CoreV1Api(client)
        rv = core.list_namespaced_service("default").metadata.resource_version
        for i in range(5):
            kube.create(_svc(f"s{i}"))
        with pytest.raises(ApiException) as exc_info:
            for _ in Watch().stream(
                core.list_namespaced_service, "default", resource_version=rv, timeout_seconds=5
            ):
                pass
        assert exc_info.value.status == 410
        # The last three writes are still watchable.
        recent = str(int(kube.resource_version) - 3)
        collector = Collector(
            core.list_namespaced_service, "default", resource_version=recent, done=_until("s4")
        )
        assert [_name(e) for e in collector.wait()] == ["s2", "s3", "s4"]


def test_closed_watch_reconnects_without_losing_events(
    fake_kube: FakeKube, kube_api_client: Any
) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    rv = core.list_namespaced_service("default").metadata.resource_version
    collector = Collector(
        core.list_namespaced_service, "default", resource_version=rv, done=_count(3)
    )
    fake_kube.wait_for_watches(1)
    fake_kube.create(_svc("a"))
    wait_for(lambda: len(collector.events) >= 1)
    fake_kube.close_watches()
    fake_kube.create(_svc("b"))  # written while the client reconnects
    fake_kube.wait_for_watches(1)
    fake_kube.create(_svc("c"))
    collector.wait()
    assert collector.summary() == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c")]
    watches = _watch_requests(fake_kube, r"/api/v1/namespaces/default/services$")
    assert len(watches) == 2
    # The client resumed from the last resourceVersion it saw.
    assert int(watches[1].query["resourceVersion"]) > int(rv)


def test_label_selector_watch_translates_entering_and_leaving(
    fake_kube: FakeKube, kube_api_client: Any
) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    rv = fake_kube.resource_version
    fake_kube.create(_svc("x"))
    fake_kube.patch("services", "x", {"metadata": {"labels": {"app": "web"}}}, "default")
    fake_kube.patch("services", "x", {"metadata": {"annotations": {"n": "1"}}}, "default")
    fake_kube.patch("services", "x", {"metadata": {"labels": {"app": "db"}}}, "default")
    fake_kube.delete("services", "x", "default")
    fake_kube.create(_svc("y", app="web"))
    fake_kube.delete("services", "y", "default")
    fake_kube.create(_svc("end", app="web"))
    collector = Collector(
        core.list_namespaced_service,
        "default",
        label_selector="app=web",
        resource_version=rv,
        done=_until("end"),
    )
    collector.wait()
    assert collector.summary() == [
        ("ADDED", "x"),
        ("MODIFIED", "x"),
        ("DELETED", "x"),
        ("ADDED", "y"),
        ("DELETED", "y"),
        ("ADDED", "end"),
    ]


def test_namespaced_and_all_namespaces_watches(fake_kube: FakeKube, kube_api_client: Any) -> None:
    fake_kube.add_namespace("other")
    rv = fake_kube.resource_version
    fake_kube.create(_svc("a", "default"))
    fake_kube.create(_svc("b", "other"))
    fake_kube.create(_svc("end", "default"))
    fake_kube.create(_svc("end", "other"))
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    scoped = Collector(
        core.list_namespaced_service, "other", resource_version=rv, done=_until("end")
    )
    assert [_name(e) for e in scoped.wait()] == ["b", "end"]
    everywhere = Collector(
        core.list_service_for_all_namespaces, resource_version=rv, done=_count(4)
    )
    assert [(_name(e), e["object"].metadata.namespace) for e in everywhere.wait()] == [
        ("a", "default"),
        ("b", "other"),
        ("end", "default"),
        ("end", "other"),
    ]


def test_timeout_seconds_ends_the_stream(fake_kube: FakeKube, kube_api_client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    start = time.monotonic()
    events = list(
        Watch().stream(
            core.list_namespaced_service,
            "default",
            resource_version=fake_kube.resource_version,
            timeout_seconds=1,
        )
    )
    elapsed = time.monotonic() - start
    assert events == []
    assert 0.9 <= elapsed < 3


def test_bookmarks_carry_the_current_resource_version(kube_api_client: Any) -> None:
    with FakeKube(bookmark_interval=0.2) as kube, kube.api_client() as client:
        core: Any = kubernetes.client.CoreV1Api(client)
        kube.create(_svc("a"))
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "s", "namespace": "default"},
            }
        )
        collector = Collector(
            core.list_namespaced_service,
            "default",
            resource_version=kube.resource_version,
            allow_watch_bookmarks=True,
            done=_count(2),
        )
        events = collector.wait()
        assert {e["type"] for e in events} == {"BOOKMARK"}
        assert events[0]["raw_object"]["metadata"]["resourceVersion"] == kube.resource_version
        # The client records a bookmark's resourceVersion to resume from.
        assert collector.watch.resource_version == kube.resource_version


def test_concurrent_watchers_see_the_same_sequence(
    fake_kube: FakeKube, kube_api_client: Any
) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    rv = fake_kube.resource_version
    writes = 20
    collectors = [
        Collector(core.list_namespaced_service, "default", resource_version=rv, done=_count(writes))
        for _ in range(5)
    ]
    fake_kube.wait_for_watches(5)
    errors: queue.Queue[BaseException] = queue.Queue()

    def writer(prefix: str) -> None:
        try:
            with fake_kube.api_client() as client:
                api: Any = kubernetes.client.CoreV1Api(client)
                for i in range(writes // 2):
                    api.create_namespaced_service("default", _svc(f"{prefix}{i}"))
        except BaseException as exc:
            errors.put(exc)

    threads = [threading.Thread(target=writer, args=(p,)) for p in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors.empty()
    sequences = [
        [(e["type"], e["object"].metadata.resource_version) for e in c.wait()] for c in collectors
    ]
    assert all(seq == sequences[0] for seq in sequences)
    assert len(sequences[0]) == writes


def test_custom_object_watch(fake_kube: FakeKube, kube_api_client: Any) -> None:
    api: Any = kubernetes.client.CustomObjectsApi(kube_api_client)
    listed = api.list_namespaced_custom_object(
        "metallb.io", "v1beta2", "metallb-system", "bgppeers"
    )
    rv = listed["metadata"]["resourceVersion"]
    fake_kube.create(
        {
            "apiVersion": "metallb.io/v1beta2",
            "kind": "BGPPeer",
            "metadata": {"name": "p1", "namespace": "metallb-system"},
            "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "10.0.0.1"},
        }
    )
    fake_kube.delete("bgppeers.metallb.io", "p1", "metallb-system")
    collector = Collector(
        api.list_namespaced_custom_object,
        "metallb.io",
        "v1beta1",
        "metallb-system",
        "bgppeers",
        resource_version=rv,
        done=_count(2),
    )
    events = collector.wait()
    assert [e["type"] for e in events] == ["ADDED", "DELETED"]
    assert events[0]["object"]["apiVersion"] == "metallb.io/v1beta1"
    assert events[0]["object"]["spec"]["peerASN"] == 64501


def test_field_selector_watch_on_cluster_scoped_kind(
    fake_kube: FakeKube, kube_api_client: Any
) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    rv = fake_kube.resource_version
    for name in ("n1", "n2"):
        fake_kube.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    fake_kube.patch("nodes", "n2", {"metadata": {"labels": {"a": "b"}}})
    fake_kube.patch("nodes", "n1", {"metadata": {"labels": {"a": "b"}}})
    collector = Collector(
        core.list_node, field_selector="metadata.name=n1", resource_version=rv, done=_count(2)
    )
    assert collector.wait() and collector.summary() == [("ADDED", "n1"), ("MODIFIED", "n1")]
