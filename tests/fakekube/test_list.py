"""List: selectors, all-namespaces paths and limit/continue chunking."""

from __future__ import annotations

from typing import Any

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException

from .fake import FakeKube, api_status


def _seed_services(kube: FakeKube) -> None:
    kube.add_namespace("other")
    rows = [
        ("default", "a", {"app": "web", "tier": "front"}),
        ("default", "b", {"app": "web", "tier": "back"}),
        ("default", "c", {"app": "db"}),
        ("other", "d", {"app": "web"}),
        ("other", "e", {}),
    ]
    for ns, name, labels in rows:
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": ns, "labels": labels},
                "spec": {"ports": [{"port": 80}]},
            }
        )


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("", ["a", "b", "c", "d", "e"]),
        ("app=web", ["a", "b", "d"]),
        ("app==web", ["a", "b", "d"]),
        ("app!=web", ["c", "e"]),
        ("app=web,tier=front", ["a"]),
        ("app in (web, db)", ["a", "b", "c", "d"]),
        ("tier notin (front)", ["b", "c", "d", "e"]),
        ("tier", ["a", "b"]),
        ("!tier", ["c", "d", "e"]),
        ("app=web,!tier", ["d"]),
    ],
)
def test_label_selectors(
    fake_kube: FakeKube, kube_api_client: Any, selector: str, expected: list[str]
) -> None:
    _seed_services(fake_kube)
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    got = core.list_service_for_all_namespaces(label_selector=selector)
    assert [s.metadata.name for s in got.items] == expected


def test_field_selectors_and_namespaces(fake_kube: FakeKube, kube_api_client: Any) -> None:
    _seed_services(fake_kube)
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    names = [s.metadata.name for s in core.list_namespaced_service("other").items]
    assert names == ["d", "e"]
    by_name = core.list_service_for_all_namespaces(field_selector="metadata.name=d")
    assert [s.metadata.namespace for s in by_name.items] == ["other"]
    not_default = core.list_service_for_all_namespaces(field_selector="metadata.namespace!=default")
    assert [s.metadata.name for s in not_default.items] == ["d", "e"]
    both = core.list_namespaced_service(
        "default", field_selector="metadata.name=a", label_selector="app=web"
    )
    assert [s.metadata.name for s in both.items] == ["a"]


def test_bad_selectors_are_400(fake_kube: FakeKube, kube_api_client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    with pytest.raises(ApiException) as exc_info:
        core.list_namespaced_service("default", field_selector="spec.ports=1")
    assert exc_info.value.status == 400
    assert api_status(exc_info.value)["reason"] == "BadRequest"
    with pytest.raises(ApiException) as exc_info:
        core.list_namespaced_service("default", label_selector="a in b")
    assert exc_info.value.status == 400


def test_list_carries_resource_version(fake_kube: FakeKube, kube_api_client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    before = core.list_namespaced_service("default").metadata.resource_version
    _seed_services(fake_kube)
    after = core.list_namespaced_service("default").metadata.resource_version
    assert int(after) > int(before)
    assert after == fake_kube.resource_version


def test_chunked_list_is_a_consistent_snapshot(fake_kube: FakeKube, kube_api_client: Any) -> None:
    for i in range(7):
        fake_kube.create(
            {
                "apiVersion": "metallb.io/v1beta1",
                "kind": "IPAddressPool",
                "metadata": {"name": f"pool-{i}", "namespace": "metallb-system"},
                "spec": {"addresses": [f"10.0.{i}.0/24"]},
            }
        )
    api: Any = kubernetes.client.CustomObjectsApi(kube_api_client)
    page = api.list_namespaced_custom_object(
        "metallb.io", "v1beta1", "metallb-system", "ipaddresspools", limit=3
    )
    names = [p["metadata"]["name"] for p in page["items"]]
    rv = page["metadata"]["resourceVersion"]
    assert page["metadata"]["remainingItemCount"] == 4
    # Writes after the first page do not show in later pages.
    fake_kube.delete("ipaddresspools.metallb.io", "pool-5", "metallb-system")
    while token := page["metadata"].get("continue"):
        page = api.list_namespaced_custom_object(
            "metallb.io", "v1beta1", "metallb-system", "ipaddresspools", limit=3, _continue=token
        )
        assert page["metadata"]["resourceVersion"] == rv
        names += [p["metadata"]["name"] for p in page["items"]]
    assert names == [f"pool-{i}" for i in range(7)]


def test_continue_token_expires_with_compaction(fake_kube: FakeKube, kube_api_client: Any) -> None:
    _seed_services(fake_kube)
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    first = core.list_service_for_all_namespaces(limit=2)
    assert first.metadata._continue
    fake_kube.compact()
    with pytest.raises(ApiException) as exc_info:
        core.list_service_for_all_namespaces(limit=2, _continue=first.metadata._continue)
    assert exc_info.value.status == 410
    assert api_status(exc_info.value)["reason"] == "Expired"


def test_delete_collection_by_label(fake_kube: FakeKube, kube_api_client: Any) -> None:
    for i, node in enumerate(["n1", "n2", "n1"]):
        fake_kube.create(
            {
                "apiVersion": "metallb.io/v1beta1",
                "kind": "ServiceL2Status",
                "metadata": {
                    "name": f"l2-{i}",
                    "namespace": "metallb-system",
                    "labels": {"metallb.io/node": node},
                },
            }
        )
    api: Any = kubernetes.client.CustomObjectsApi(kube_api_client)
    api.delete_collection_namespaced_custom_object(
        "metallb.io",
        "v1beta1",
        "metallb-system",
        "servicel2statuses",
        label_selector="metallb.io/node=n1",
    )
    left = fake_kube.list("servicel2statuses.metallb.io", "metallb-system")
    assert [o["metadata"]["name"] for o in left] == ["l2-1"]
