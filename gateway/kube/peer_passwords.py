"""Writes the speaker's copy of the BGP passwords (gateway/peer_passwords.py) to Kubernetes.

One Secret in the MetalLB namespace, created when missing; otherwise replaced with the
resourceVersion just read (a 409 is retried by the write queue, which reads it again). Nothing
is written when it already holds `data`. The controller's Role allows `create` on Secrets (RBAC
cannot limit a create by name) and `get`/`update` on this name only (deploy/).
"""

from collections.abc import Mapping
from typing import Any

from kubernetes.client.exceptions import ApiException

from gateway.kube.client import request_json
from gateway.peer_passwords import COPY_LABELS, COPY_SECRET

COLLECTION = "/api/v1/namespaces/{namespace}/secrets"
OBJECT = COLLECTION + "/{name}"


def write_peer_passwords(
    api: Any, namespace: str, data: Mapping[str, str], name: str = COPY_SECRET
) -> bool:
    """Make Secret `namespace/name` hold exactly `data`; True if it wrote."""
    params = {"namespace": namespace, "name": name}
    try:
        current = request_json(api, "GET", OBJECT, path_params=params)
    except ApiException as err:
        if err.status != 404:
            raise
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(COPY_LABELS)},
            "type": "Opaque",
            "data": dict(data),
        }
        request_json(api, "POST", COLLECTION, body, {"namespace": namespace}, reply=False)
        return True
    if (current.get("data") or {}) == dict(data):
        return False
    current["data"] = dict(data)  # metadata.resourceVersion makes it compare-and-swap
    current.pop("stringData", None)
    request_json(api, "PUT", OBJECT, current, params, reply=False)
    return True
