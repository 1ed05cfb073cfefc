"""Custom resources (metallb.io) through `CustomObjectsApi`."""

from __future__ import annotations

from typing import Any

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException

from .fake import FakeKube, api_status
from .store import FieldCause

NS = "metallb-system"
G = "metallb.io"


def _pool(name: str, *addresses: str) -> dict[str, Any]:
    return {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "IPAddressPool",
        "metadata": {"name": name},
        "spec": {"addresses": list(addresses)},
    }


def test_ipaddresspool_crud(kube_api_client: Any) -> None:
    api: Any = kubernetes.client.CustomObjectsApi(kube_api_client)
    created = api.create_namespaced_custom_object(
        G, "v1beta1", NS, "ipaddresspools", _pool("pool-a", "10.0.0.0/24")
    )
    assert created["metadata"]["generation"] == 1
    assert created["apiVersion"] == "metallb.io/v1beta1"

    got = api.get_namespaced_custom_object(G, "v1beta1", NS, "ipaddresspools", "pool-a")
    got["spec"]["autoAssign"] = False
    replaced = api.replace_namespaced_custom_object(
        G, "v1beta1", NS, "ipaddresspools", "pool-a", got
    )
    assert replaced["spec"]["autoAssign"] is False
    assert replaced["metadata"]["generation"] == 2

    # CustomObjectsApi patches with application/merge-patch+json.
    patched = api.patch_namespaced_custom_object(
        G, "v1beta1", NS, "ipaddresspools", "pool-a", {"metadata": {"labels": {"k": "v"}}}
    )
    assert patched["metadata"]["labels"] == {"k": "v"}
    assert patched["metadata"]["generation"] == 2

    listed = api.list_namespaced_custom_object(G, "v1beta1", NS, "ipaddresspools")
    assert listed["kind"] == "IPAddressPoolList"
    assert [p["metadata"]["name"] for p in listed["items"]] == ["pool-a"]
    assert listed["items"][0]["kind"] == "IPAddressPool"  # CR list items keep their kind
    every = api.list_cluster_custom_object(G, "v1beta1", "ipaddresspools")
    assert len(every["items"]) == 1

    deleted = api.delete_namespaced_custom_object(G, "v1beta1", NS, "ipaddresspools", "pool-a")
    assert deleted["metadata"]["name"] == "pool-a"  # CRs return the deleted object
    with pytest.raises(ApiException) as exc_info:
        api.get_namespaced_custom_object(G, "v1beta1", NS, "ipaddresspools", "pool-a")
    assert exc_info.value.status == 404
    assert api_status(exc_info.value)["message"] == ('ipaddresspools.metallb.io "pool-a" not found')


def test_every_metallb_kind_is_served(kube_api_client: Any) -> None:
    api: Any = kubernetes.client.CustomObjectsApi(kube_api_client)
    kinds = {
        "ipaddresspools": "IPAddressPool",
        "l2advertisements": "L2Advertisement",
        "bgpadvertisements": "BGPAdvertisement",
        "communities": "Community",
        "bfdprofiles": "BFDProfile",
        "servicel2statuses": "ServiceL2Status",
        "servicebgpstatuses": "ServiceBGPStatus",
        "configurationstates": "ConfigurationState",
    }
    for plural, kind in kinds.items():
        body = {"apiVersion": f"{G}/v1beta1", "kind": kind, "metadata": {"name": "x"}}
        api.create_namespaced_custom_object(G, "v1beta1", NS, plural, body)
        assert api.get_namespaced_custom_object(G, "v1beta1", NS, plural, "x")["kind"] == kind


def test_bgppeers_are_stored_once_and_served_at_both_versions(kube_api_client: Any) -> None:
    api: Any = kubernetes.client.CustomObjectsApi(kube_api_client)
    api.create_namespaced_custom_object(
        G,
        "v1beta2",
        NS,
        "bgppeers",
        {
            "apiVersion": "metallb.io/v1beta2",
            "kind": "BGPPeer",
            "metadata": {"name": "peer1"},
            "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "10.0.0.1"},
        },
    )
    old = api.get_namespaced_custom_object(G, "v1beta1", NS, "bgppeers", "peer1")
    assert old["apiVersion"] == "metallb.io/v1beta1"
    assert old["spec"]["peerASN"] == 64501
    # A write at v1beta1 lands on the same object.
    api.patch_namespaced_custom_object(
        G, "v1beta1", NS, "bgppeers", "peer1", {"spec": {"peerASN": 64502}}
    )
    new = api.get_namespaced_custom_object(G, "v1beta2", NS, "bgppeers", "peer1")
    assert new["spec"]["peerASN"] == 64502
    assert new["apiVersion"] == "metallb.io/v1beta2"
    with pytest.raises(ApiException) as exc_info:
        api.get_namespaced_custom_object(G, "v1", NS, "bgppeers", "peer1")
    assert exc_info.value.status == 404


def test_custom_resource_put_requires_resource_version(kube_api_client: Any) -> None:
    api: Any = kubernetes.client.CustomObjectsApi(kube_api_client)
    api.create_namespaced_custom_object(G, "v1beta1", NS, "ipaddresspools", _pool("p"))
    with pytest.raises(ApiException) as exc_info:
        api.replace_namespaced_custom_object(G, "v1beta1", NS, "ipaddresspools", "p", _pool("p"))
    assert exc_info.value.status == 422


def test_strategic_merge_patch_is_refused_for_custom_resources(kube_api_client: Any) -> None:
    api: Any = kubernetes.client.CustomObjectsApi(kube_api_client)
    api.create_namespaced_custom_object(G, "v1beta1", NS, "ipaddresspools", _pool("p"))
    with pytest.raises(ApiException) as exc_info:
        api.patch_namespaced_custom_object(
            G,
            "v1beta1",
            NS,
            "ipaddresspools",
            "p",
            {"spec": {"autoAssign": False}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert exc_info.value.status == 415


def test_json_patch_on_custom_resource(kube_api_client: Any) -> None:
    api: Any = kubernetes.client.CustomObjectsApi(kube_api_client)
    api.create_namespaced_custom_object(
        G, "v1beta1", NS, "ipaddresspools", _pool("p", "10.0.0.0/24")
    )
    patched = api.patch_namespaced_custom_object(
        G,
        "v1beta1",
        NS,
        "ipaddresspools",
        "p",
        [
            {"op": "test", "path": "/spec/addresses/0", "value": "10.0.0.0/24"},
            {"op": "add", "path": "/spec/addresses/-", "value": "10.0.1.0/24"},
        ],
        _content_type="application/json-patch+json",
    )
    assert patched["spec"]["addresses"] == ["10.0.0.0/24", "10.0.1.0/24"]
    with pytest.raises(ApiException) as exc_info:
        api.patch_namespaced_custom_object(
            G,
            "v1beta1",
            NS,
            "ipaddresspools",
            "p",
            [{"op": "test", "path": "/spec/addresses/0", "value": "nope"}],
            _content_type="application/json-patch+json",
        )
    assert exc_info.value.status == 422


def test_server_side_apply_creates_then_merges(kube_api_client: Any) -> None:
    api: Any = kubernetes.client.CustomObjectsApi(kube_api_client)
    body = {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "ConfigurationState",
        "metadata": {"name": "controller", "labels": {"metallb.io/component-type": "controller"}},
    }
    created = api.patch_namespaced_custom_object(
        G,
        "v1beta1",
        NS,
        "configurationstates",
        "controller",
        body,
        field_manager="poolReconciler",
        force=True,
        _content_type="application/apply-patch+yaml",
    )
    # An apply that creates answers 201 Created, which CustomObjectsApi's response map lacks
    # (only 200 is typed), so the client returns None as it does against a real apiserver.
    assert created is None
    stored = api.get_namespaced_custom_object(G, "v1beta1", NS, "configurationstates", "controller")
    assert stored["metadata"]["labels"] == {"metallb.io/component-type": "controller"}
    status = {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "ConfigurationState",
        "metadata": {"name": "controller"},
        "status": {"result": "Valid", "conditions": []},
    }
    applied = api.patch_namespaced_custom_object_status(
        G,
        "v1beta1",
        NS,
        "configurationstates",
        "controller",
        status,
        field_manager="poolReconciler",
        force=True,
        _content_type="application/apply-patch+yaml",
    )
    assert applied["status"]["result"] == "Valid"
    assert applied["metadata"]["labels"] == {"metallb.io/component-type": "controller"}


def test_validator_rejects_with_422(fake_kube: FakeKube, kube_api_client: Any) -> None:
    def needs_addresses(new: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
        if not (new.get("spec") or {}).get("addresses"):
            return [
                {
                    "field": "spec.addresses",
                    "reason": "FieldValueRequired",
                    "message": "Required value",
                }
            ]
        return []

    fake_kube.add_validator("ipaddresspools.metallb.io", needs_addresses)
    api: Any = kubernetes.client.CustomObjectsApi(kube_api_client)
    with pytest.raises(ApiException) as exc_info:
        api.create_namespaced_custom_object(G, "v1beta1", NS, "ipaddresspools", _pool("bad"))
    assert exc_info.value.status == 422
    body = api_status(exc_info.value)
    assert body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "spec.addresses"
    assert body["message"] == 'IPAddressPool "bad" is invalid: spec.addresses: Required value'
    api.create_namespaced_custom_object(
        G, "v1beta1", NS, "ipaddresspools", _pool("good", "10.0.0.0/24")
    )
    with pytest.raises(ApiException) as exc_info:
        api.patch_namespaced_custom_object(
            G, "v1beta1", NS, "ipaddresspools", "good", {"spec": {"addresses": None}}
        )
    assert exc_info.value.status == 422
