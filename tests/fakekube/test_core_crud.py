"""CRUD on built-in kinds through the real client's typed APIs."""

from __future__ import annotations

from typing import Any

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException

from .fake import FakeKube, api_status


def _service(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}]},
    }


def _status_body(exc: ApiException) -> dict[str, Any]:
    return api_status(exc)


def test_service_create_get_replace_patch_delete(kube_api_client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    created = core.create_namespaced_service("default", _service("web", app="web"))
    assert created.metadata.uid
    assert created.metadata.generation == 1
    assert created.metadata.namespace == "default"
    assert created.status.load_balancer is not None

    got = core.read_namespaced_service("web", "default")
    assert got.metadata.resource_version == created.metadata.resource_version
    assert got.spec.ports[0].port == 80

    got.spec.ports[0].port = 8080
    replaced = core.replace_namespaced_service("web", "default", got)
    assert replaced.spec.ports[0].port == 8080
    assert int(replaced.metadata.resource_version) > int(got.metadata.resource_version)
    assert replaced.metadata.generation == 2
    assert replaced.metadata.uid == created.metadata.uid

    # The client sends a dict body as a strategic merge patch.
    patched = core.patch_namespaced_service(
        "web", "default", {"metadata": {"annotations": {"a": "b"}}}
    )
    assert patched.metadata.annotations == {"a": "b"}
    assert patched.metadata.generation == 2  # metadata only: generation unchanged

    # A list body is a JSON patch.
    patched = core.patch_namespaced_service(
        "web",
        "default",
        [{"op": "replace", "path": "/spec/ports/0/port", "value": 9090}],
    )
    assert patched.spec.ports[0].port == 9090

    patched = core.patch_namespaced_service(
        "web",
        "default",
        {"metadata": {"annotations": {"a": None}}},
        _content_type="application/merge-patch+json",
    )
    assert not patched.metadata.annotations

    deleted = core.delete_namespaced_service("web", "default")
    assert deleted.metadata.name == "web"
    with pytest.raises(ApiException) as exc_info:
        core.read_namespaced_service("web", "default")
    assert exc_info.value.status == 404
    body = _status_body(exc_info.value)
    assert body["kind"] == "Status"
    assert body["reason"] == "NotFound"
    assert body["message"] == 'services "web" not found'


def test_already_exists_is_a_409_status(kube_api_client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    core.create_namespaced_service("default", _service("dup"))
    with pytest.raises(ApiException) as exc_info:
        core.create_namespaced_service("default", _service("dup"))
    assert exc_info.value.status == 409
    body = _status_body(exc_info.value)
    assert body["reason"] == "AlreadyExists"
    assert body["status"] == "Failure"
    assert body["details"] == {"name": "dup", "kind": "services"}


def test_create_in_missing_namespace_is_404(kube_api_client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    with pytest.raises(ApiException) as exc_info:
        core.create_namespaced_service("nope", _service("x"))
    assert exc_info.value.status == 404
    assert _status_body(exc_info.value)["message"] == 'namespaces "nope" not found'


def test_invalid_name_is_422(kube_api_client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    with pytest.raises(ApiException) as exc_info:
        core.create_namespaced_service("default", _service("Not_Valid"))
    assert exc_info.value.status == 422
    assert _status_body(exc_info.value)["reason"] == "Invalid"


def test_generate_name(kube_api_client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    names = set()
    for _ in range(5):
        svc = _service("")
        svc["metadata"] = {"generateName": "l2-"}
        created = core.create_namespaced_service("default", svc)
        assert created.metadata.name.startswith("l2-")
        assert len(created.metadata.name) == len("l2-") + 5
        assert created.metadata.generate_name == "l2-"
        names.add(created.metadata.name)
    assert len(names) == 5


def test_cluster_scoped_nodes_and_namespaces(kube_api_client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    node = core.create_node({"metadata": {"name": "node-1", "labels": {"zone": "a"}}})
    assert node.metadata.namespace is None
    core.create_node({"metadata": {"name": "node-2", "labels": {"zone": "b"}}})
    names = [n.metadata.name for n in core.list_node(label_selector="zone=a").items]
    assert names == ["node-1"]
    status = core.delete_node("node-2")
    assert status["status"] == "Success"  # the client types this response as a dict

    core.create_namespace({"metadata": {"name": "team"}})
    core.create_namespaced_secret("team", {"metadata": {"name": "s"}, "type": "Opaque"})
    assert core.read_namespace("team").status.phase == "Active"
    core.delete_namespace("team")
    # Deleting a namespace takes its objects with it.
    with pytest.raises(ApiException) as exc_info:
        core.read_namespaced_secret("s", "team")
    assert exc_info.value.status == 404


def test_secrets_endpoints_and_core_events(kube_api_client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    secret = core.create_namespaced_secret(
        "metallb-system",
        {
            "metadata": {"name": "bgp-password"},
            "type": "kubernetes.io/basic-auth",
            "data": {"password": "c2VjcmV0"},
        },
    )
    assert secret.data == {"password": "c2VjcmV0"}
    typed = core.list_namespaced_secret(
        "metallb-system", field_selector="type=kubernetes.io/basic-auth"
    )
    assert [s.metadata.name for s in typed.items] == ["bgp-password"]

    core.create_namespaced_endpoints(
        "default",
        {
            "metadata": {"name": "web"},
            "subsets": [{"addresses": [{"ip": "10.1.1.1"}], "ports": [{"port": 80}]}],
        },
    )
    assert core.read_namespaced_endpoints("web", "default").subsets[0].addresses[0].ip == (
        "10.1.1.1"
    )

    event = core.create_namespaced_event(
        "default",
        {
            "metadata": {"generateName": "web."},
            "involvedObject": {"kind": "Service", "name": "web", "namespace": "default"},
            "reason": "IPAllocated",
            "message": "Assigned IP",
            "type": "Normal",
        },
    )
    assert event.metadata.name.startswith("web.")
    found = core.list_namespaced_event(
        "default", field_selector="involvedObject.name=web,reason=IPAllocated"
    )
    assert len(found.items) == 1
    core.patch_namespaced_event(event.metadata.name, "default", {"count": 2})
    assert core.read_namespaced_event(event.metadata.name, "default").count == 2


def test_leases_endpointslices_and_events_v1(kube_api_client: Any) -> None:
    coord: Any = kubernetes.client.CoordinationV1Api(kube_api_client)
    lease = coord.create_namespaced_lease(
        "metallb-system",
        {
            "metadata": {"name": "leader"},
            "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15},
        },
    )
    lease.spec.holder_identity = "b"
    renewed = coord.replace_namespaced_lease("leader", "metallb-system", lease)
    assert renewed.spec.holder_identity == "b"
    lease.spec.holder_identity = "c"  # stale resourceVersion: someone else renewed
    with pytest.raises(ApiException) as exc_info:
        coord.replace_namespaced_lease("leader", "metallb-system", lease)
    assert exc_info.value.status == 409

    disc: Any = kubernetes.client.DiscoveryV1Api(kube_api_client)
    disc.create_namespaced_endpoint_slice(
        "default",
        {
            "metadata": {"name": "web-abc", "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "endpoints": [
                {"addresses": ["10.1.1.1"], "conditions": {"ready": True}, "nodeName": "n1"}
            ],
            "ports": [{"port": 80}],
        },
    )
    slices = disc.list_endpoint_slice_for_all_namespaces(
        label_selector="kubernetes.io/service-name=web"
    )
    assert [s.endpoints[0].node_name for s in slices.items] == ["n1"]

    events: Any = kubernetes.client.EventsV1Api(kube_api_client)
    ev = events.create_namespaced_event(
        "default",
        {
            "metadata": {"name": "e1"},
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "reportingController": "metallb.io/controller",
            "reportingInstance": "controller-1",
            "action": "Allocate",
            "reason": "IPAllocated",
            "type": "Normal",
            "note": "Assigned IP",
            "regarding": {"kind": "Service", "name": "web", "namespace": "default"},
        },
    )
    assert ev.reason == "IPAllocated"
    assert events.read_namespaced_event("e1", "default").note == "Assigned IP"


def test_delete_with_finalizer_marks_then_removes(kube_api_client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    svc = _service("fin")
    svc["metadata"]["finalizers"] = ["example.com/hold"]
    core.create_namespaced_service("default", svc)
    core.delete_namespaced_service("fin", "default")
    marked = core.read_namespaced_service("fin", "default")
    assert marked.metadata.deletion_timestamp is not None
    core.patch_namespaced_service(
        "fin", "default", [{"op": "remove", "path": "/metadata/finalizers"}]
    )
    with pytest.raises(ApiException) as exc_info:
        core.read_namespaced_service("fin", "default")
    assert exc_info.value.status == 404


def test_delete_preconditions_conflict(kube_api_client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    created = core.create_namespaced_service("default", _service("pre"))
    with pytest.raises(ApiException) as exc_info:
        core.delete_namespaced_service(
            "pre", "default", body={"preconditions": {"uid": "not-the-uid"}}
        )
    assert exc_info.value.status == 409
    core.delete_namespaced_service(
        "pre", "default", body={"preconditions": {"uid": created.metadata.uid}}
    )


def test_bearer_token_required_when_configured() -> None:
    with FakeKube(token="s3cret") as kube:
        with kube.api_client() as client:
            core: Any = kubernetes.client.CoreV1Api(client)
            assert core.read_namespace("default").metadata.name == "default"
        config = kube.configuration()
        config.api_key = {}
        with kubernetes.client.ApiClient(config) as anonymous:
            with pytest.raises(ApiException) as exc_info:
                kubernetes.client.CoreV1Api(anonymous).read_namespace("default")
            assert exc_info.value.status == 401
