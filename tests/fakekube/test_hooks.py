"""Test-side hooks: injected failures, request log, seeding, discovery and odd requests."""

from __future__ import annotations

import json
from typing import Any

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException

from .errors import KubeError
from .fake import FakeKube, api_status, wait_for
from .kinds import ResourceKind

# kubernetes.watch is untyped; reach it through Any.
Watch: Any = kubernetes.watch.Watch
iter_resp_lines: Any = kubernetes.watch.watch.iter_resp_lines


def _svc(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"ports": [{"port": 80}]},
    }


def test_injected_failures_then_success(fake_kube: FakeKube, kube_api_client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    fake_kube.create(_svc("web"))
    fake_kube.inject_failure(500, times=2, method="PUT", path=r"/services/web/status$")
    svc = core.read_namespaced_service("web", "default")  # GET is not affected
    for _ in range(2):
        with pytest.raises(ApiException) as exc_info:
            core.replace_namespaced_service_status("web", "default", svc)
        assert exc_info.value.status == 500
        assert api_status(exc_info.value)["reason"] == "InternalError"
    core.replace_namespaced_service_status("web", "default", svc)

    fake_kube.inject_failure(409, method="POST")
    with pytest.raises(ApiException) as exc_info:
        core.create_namespaced_service("default", _svc("other"))
    assert exc_info.value.status == 409
    assert api_status(exc_info.value)["reason"] == "Conflict"
    assert fake_kube.find("services", "other", "default") is None
    core.create_namespaced_service("default", _svc("other"))


def test_injected_failure_on_watch(fake_kube: FakeKube, kube_api_client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    fake_kube.inject_failure(503, watch=True)
    core.list_namespaced_service("default")  # a plain list is not a watch
    with pytest.raises(ApiException) as exc_info:
        for _ in Watch().stream(core.list_namespaced_service, "default", timeout_seconds=1):
            pass
    assert exc_info.value.status == 503


def test_request_log(fake_kube: FakeKube, kube_api_client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    core.create_namespaced_service("default", _svc("web"))
    core.patch_namespaced_service_status(
        "web", "default", {"status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}}}
    )
    (record,) = fake_kube.requests_to("PATCH", r"/services/web/status$")
    assert record.content_type == "application/strategic-merge-patch+json"
    assert record.body == {"status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}}}


def test_seed_helpers_share_the_store(fake_kube: FakeKube, kube_api_client: Any) -> None:
    created = fake_kube.create(_svc("seeded"))
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    assert (
        core.read_namespaced_service("seeded", "default").metadata.uid == created["metadata"]["uid"]
    )
    core.patch_namespaced_service("seeded", "default", {"metadata": {"labels": {"a": "b"}}})
    assert fake_kube.get("services", "seeded", "default")["metadata"]["labels"] == {"a": "b"}
    assert [s["metadata"]["name"] for s in fake_kube.list("services", label_selector="a=b")] == [
        "seeded"
    ]
    status = fake_kube.get("services", "seeded", "default")
    status["status"] = {"loadBalancer": {"ingress": [{"ip": "10.0.0.2"}]}}
    fake_kube.update_status(status)
    got = core.read_namespaced_service("seeded", "default")
    assert got.status.load_balancer.ingress[0].ip == "10.0.0.2"
    with pytest.raises(KubeError) as exc_info:
        fake_kube.create(_svc("seeded"))
    assert exc_info.value.code == 409
    fake_kube.delete("services", "seeded", "default")
    assert fake_kube.find("services", "seeded", "default") is None


def test_wait_for(fake_kube: FakeKube) -> None:
    assert wait_for(lambda: 42) == 42
    with pytest.raises(TimeoutError):
        wait_for(lambda: fake_kube.find("services", "never", "default"), timeout=0.05)


def test_discovery_and_unknown_paths(kube_api_client: Any) -> None:
    def get(path: str) -> Any:
        data = kube_api_client.call_api(
            *kube_api_client.param_serialize(method="GET", resource_path=path)
        )
        data.read()
        return data.status, json.loads(data.data) if data.data else None

    status, body = get("/apis")
    assert status == 200
    groups = {g["name"]: [v["version"] for v in g["versions"]] for g in body["groups"]}
    assert groups["metallb.io"] == ["v1beta1", "v1beta2"]
    status, body = get("/apis/metallb.io/v1beta2")
    assert [r["name"] for r in body["resources"]] == ["bgppeers", "bgppeers/status"]
    status, body = get("/api/v1")
    assert "services/status" in [r["name"] for r in body["resources"]]
    status, body = get("/version")
    assert body["major"] == "1"
    status, body = get("/apis/metallb.io/v1beta1/namespaces/default/nosuchthings")
    assert status == 404
    assert body["reason"] == "NotFound"
    # A namespaced kind has no cluster-wide object path.
    status, body = get("/api/v1/services/web")
    assert status == 404


def test_dry_run_is_refused_not_ignored(kube_api_client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    with pytest.raises(ApiException) as exc_info:
        core.create_namespaced_service("default", _svc("dry"), dry_run="All")
    assert exc_info.value.status == 400


def test_resource_version_on_create_is_rejected(kube_api_client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    svc = core.create_namespaced_service("default", _svc("copy"))
    svc.metadata.name = "copy2"
    with pytest.raises(ApiException) as exc_info:
        core.create_namespaced_service("default", svc)
    assert exc_info.value.status == 500
    assert "resourceVersion should not be set" in api_status(exc_info.value)["message"]


def test_stop_ends_open_watches() -> None:
    kube = FakeKube().start()
    client = kube.api_client()
    resp: Any = kubernetes.client.CoreV1Api(client).list_namespaced_service(
        "default", watch=True, _preload_content=False
    )
    kube.wait_for_watches(1)
    kube.stop()
    assert kube.open_watches == 0
    assert list(iter_resp_lines(resp)) == []
    resp.release_conn()
    client.close()


def test_extra_kinds_are_one_row_each() -> None:
    deployments = ResourceKind("apps", ("v1",), "deployments", "Deployment")
    with FakeKube(extra_kinds=[deployments]) as kube, kube.api_client() as client:
        apps: Any = kubernetes.client.AppsV1Api(client)
        apps.create_namespaced_deployment(
            "default",
            {
                "metadata": {"name": "speaker"},
                "spec": {
                    "selector": {"matchLabels": {"app": "x"}},
                    "template": {
                        "metadata": {"labels": {"app": "x"}},
                        "spec": {"containers": [{"name": "c", "image": "i"}]},
                    },
                },
            },
        )
        assert apps.read_namespaced_deployment("speaker", "default").spec.selector.match_labels == {
            "app": "x"
        }
        assert kube.get("deployments.apps", "speaker", "default")["kind"] == "Deployment"


def test_put_with_another_uid_is_409(fake_kube: FakeKube, kube_api_client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    svc = core.create_namespaced_service("default", _svc("u"))
    svc.metadata.uid = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(ApiException) as exc_info:
        core.replace_namespaced_service("u", "default", svc)
    assert exc_info.value.status == 409
    assert "Precondition failed: UID" in api_status(exc_info.value)["message"]


def test_a_failure_for_a_period_then_normal_answers(
    fake_kube: FakeKube, kube_api_client: Any
) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    fault = fake_kube.fail_for(429, 60.0, method="GET")
    for _ in range(3):  # every matching request, not a count of them
        with pytest.raises(ApiException) as exc_info:
            core.list_namespaced_service("default")
        assert exc_info.value.status == 429
    core.create_namespaced_service("default", _svc("web"))  # POST: not matched
    fault.until = 0.0  # the period is over
    assert [s.metadata.name for s in core.list_namespaced_service("default").items] == ["web"]


def test_a_stalled_answer_comes_late_and_times_a_client_out(
    fake_kube: FakeKube, kube_api_client: Any
) -> None:
    import time
    import urllib.request

    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    fake_kube.stall(1.0, times=1, method="GET")
    with pytest.raises(TimeoutError):
        urllib.request.urlopen(f"{fake_kube.url}/api/v1/namespaces/default/services", timeout=0.2)
    started = time.monotonic()
    core.list_namespaced_service("default")  # the stall was used up
    assert time.monotonic() - started < 0.9


def test_the_server_goes_away_and_comes_back_on_the_same_port_with_its_store(
    fake_kube: FakeKube, kube_api_client: Any
) -> None:
    import urllib3

    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    core.create_namespaced_service("default", _svc("kept"))
    port = fake_kube.go_away()
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        core.list_namespaced_service("default", _request_timeout=(1, 1))
    fake_kube.come_back()
    assert fake_kube.port == port
    names = [s.metadata.name for s in core.list_namespaced_service("default").items]
    assert names == ["kept"]
