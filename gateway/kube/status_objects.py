"""Requests shared by the writers of MetalLB's status objects (gateway/kube/service_status.py,
gateway/kube/node_facts.py): the path of a namespaced metallb.io object, a status brought to its
wanted value through the status subresource, and a delete that tolerates a gone object."""

from collections.abc import Mapping
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gateway.kube.client import request_json

GROUP, VERSION = "metallb.io", "v1beta1"


def object_path(namespace: str, plural: str, name: str = "") -> str:
    """`/apis/metallb.io/v1beta1/namespaces/NS/PLURAL[/NAME]`."""
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{plural}"
    return f"{base}/{name}" if name else base


def put_status(
    api: client.ApiClient, path: str, obj: dict[str, Any], status: Mapping[str, Any]
) -> bool | None:
    """PUT `status` on `obj` (as read from `path`) unless it already holds it: None when nothing
    was to change, True when written, False when the object changed or went meanwhile (404/409:
    read it again)."""
    if obj.get("status") == dict(status):
        return None
    obj["status"] = dict(status)
    try:
        request_json(api, "PUT", path + "/status", obj, reply=False)
    except ApiException as err:
        if err.status not in (404, 409):
            raise
        return False
    return True


def delete_object(api: client.ApiClient, path: str) -> bool:
    """DELETE `path`; False when it was already gone."""
    try:
        request_json(api, "DELETE", path)
    except ApiException as err:
        if err.status != 404:
            raise
        return False
    return True
