"""The /status subresource: spec and status are written through separate doors."""

from __future__ import annotations

from typing import Any

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException

from .fake import api_status

NS = "metallb-system"
G = "metallb.io"


def _service(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}},
    }


def test_service_status_write_keeps_metadata_and_ignores_spec(kube_api_client: Any) -> None:
    """MetalLB writes the pool annotation and the ingress IP in one UpdateStatus call."""
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    created = core.create_namespaced_service("default", _service("lb"))
    assert not created.status.load_balancer.ingress  # status on create is dropped

    svc = core.read_namespaced_service("lb", "default")
    svc.metadata.annotations = {"metallb.io/ip-allocated-from-pool": "pool-a"}
    svc.status.load_balancer.ingress = [{"ip": "192.168.10.1"}]
    svc.spec.ports[0].port = 9999  # ignored through /status
    updated = core.replace_namespaced_service_status("lb", "default", svc)

    assert updated.metadata.annotations == {"metallb.io/ip-allocated-from-pool": "pool-a"}
    assert updated.status.load_balancer.ingress[0].ip == "192.168.10.1"
    assert updated.spec.ports[0].port == 80
    assert updated.metadata.generation == 1
    stored = core.read_namespaced_service("lb", "default")
    assert stored.metadata.annotations == {"metallb.io/ip-allocated-from-pool": "pool-a"}
    assert stored.status.load_balancer.ingress[0].ip == "192.168.10.1"


def test_service_main_write_ignores_status(kube_api_client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    core.create_namespaced_service("default", _service("lb"))
    core.patch_namespaced_service_status(
        "lb", "default", {"status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}}}
    )
    svc = core.read_namespaced_service("lb", "default")
    svc.status.load_balancer.ingress = []
    svc.spec.ports[0].port = 81
    updated = core.replace_namespaced_service("lb", "default", svc)
    assert updated.status.load_balancer.ingress[0].ip == "10.0.0.1"
    assert updated.spec.ports[0].port == 81
    assert updated.metadata.generation == 2
    assert core.read_namespaced_service_status("lb", "default").spec.ports[0].port == 81


def test_custom_resource_status_keeps_stored_metadata(kube_api_client: Any) -> None:
    api: Any = kubernetes.client.CustomObjectsApi(kube_api_client)
    pool = {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "IPAddressPool",
        "metadata": {"name": "p"},
        "spec": {"addresses": ["10.0.0.0/30"]},
        "status": {"assignedIPv4": 99},
    }
    created = api.create_namespaced_custom_object(G, "v1beta1", NS, "ipaddresspools", pool)
    assert "status" not in created

    current = api.get_namespaced_custom_object(G, "v1beta1", NS, "ipaddresspools", "p")
    current["status"] = {
        "assignedIPv4": 1,
        "assignedIPv6": 0,
        "availableIPv4": 3,
        "availableIPv6": 0,
    }
    current["spec"]["addresses"] = ["10.9.9.9/32"]
    current["metadata"]["labels"] = {"ignored": "yes"}
    updated = api.replace_namespaced_custom_object_status(
        G, "v1beta1", NS, "ipaddresspools", "p", current
    )
    assert updated["status"]["availableIPv4"] == 3
    assert updated["spec"]["addresses"] == ["10.0.0.0/30"]
    assert "labels" not in updated["metadata"]
    assert updated["metadata"]["generation"] == 1

    updated["spec"]["addresses"] = ["10.0.0.0/29"]
    updated["status"] = {}
    again = api.replace_namespaced_custom_object(G, "v1beta1", NS, "ipaddresspools", "p", updated)
    assert again["status"]["availableIPv4"] == 3
    assert again["metadata"]["generation"] == 2

    merged = api.patch_namespaced_custom_object_status(
        G, "v1beta1", NS, "ipaddresspools", "p", {"status": {"availableIPv4": 7}}
    )
    assert merged["status"] == {
        "assignedIPv4": 1,
        "assignedIPv6": 0,
        "availableIPv4": 7,
        "availableIPv6": 0,
    }


def test_noop_update_keeps_resource_version(kube_api_client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    created = core.create_namespaced_service("default", _service("same"))
    again = core.patch_namespaced_service("same", "default", {"metadata": {"labels": None}})
    assert again.metadata.resource_version == created.metadata.resource_version


def test_stale_resource_version_on_status_write_is_409(kube_api_client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(kube_api_client)
    core.create_namespaced_service("default", _service("lb"))
    stale = core.read_namespaced_service("lb", "default")
    core.patch_namespaced_service("lb", "default", {"metadata": {"labels": {"x": "1"}}})
    stale.status.load_balancer.ingress = [{"ip": "10.0.0.9"}]
    with pytest.raises(ApiException) as exc_info:
        core.replace_namespaced_service_status("lb", "default", stale)
    assert exc_info.value.status == 409
    status = api_status(exc_info.value)
    assert status["reason"] == "Conflict"
    assert status["message"] == (
        'Operation cannot be fulfilled on services "lb": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert not core.read_namespaced_service("lb", "default").status.load_balancer.ingress
