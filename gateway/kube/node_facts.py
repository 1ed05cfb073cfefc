"""A node's published facts in Kubernetes (a `FactsWriter`, gateway/node/facts.py):
BGPSessionState and L2NodeState objects in the MetalLB namespace, owned by the speaker Pod (so they
go with it), each brought to its wanted status (create, then PUT the status subresource; a
conflict reads again). Synchronous (official client); the node role runs it on its WriteQueue."""

import json
from collections.abc import Mapping
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gateway.kube.client import request_json
from gateway.kube.status_objects import GROUP, VERSION, delete_object, object_path, put_status
from gateway.node.facts import FACT_KINDS, LABEL_NODE


class KubeFactsWriter:
    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        node: str,
        pod: tuple[str, str] | None = None,  # (name, uid) of the owning Pod
    ) -> None:
        self._api = api
        self._custom: Any = client.CustomObjectsApi(api)
        self._namespace = namespace
        self._node = node
        self._pod = pod
        self.writes = 0

    def _path(self, plural: str, name: str = "") -> str:
        return object_path(self._namespace, plural, name)

    def write_fact(
        self, plural: str, name: str, labels: Mapping[str, str], status: Mapping[str, Any] | None
    ) -> None:
        if status is None:
            self._delete(plural, name)
            return
        for _ in range(5):
            try:
                obj = request_json(self._api, "GET", self._path(plural, name))
            except ApiException as err:
                if err.status != 404:
                    raise
                obj = self._create(plural, name, labels)
            written = put_status(self._api, self._path(plural, name), obj, status)
            if written is not False:
                self.writes += bool(written)
                return
        raise RuntimeError(f"{plural} {name}: conflicts did not settle")

    def _create(self, plural: str, name: str, labels: Mapping[str, str]) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name, "namespace": self._namespace, "labels": dict(labels)}
        if self._pod is not None:
            meta["ownerReferences"] = [
                {"apiVersion": "v1", "kind": "Pod", "name": self._pod[0], "uid": self._pod[1]}
            ]
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": FACT_KINDS[plural], "metadata": meta}
        try:
            created: dict[str, Any] = request_json(self._api, "POST", self._path(plural), body)
        except ApiException as err:
            if err.status != 409:  # created meanwhile: read it
                raise
            created = request_json(self._api, "GET", self._path(plural, name))
        self.writes += 1
        return created

    def prune(self, plural: str, keep: frozenset[str]) -> None:
        raw = self._custom.list_namespaced_custom_object(
            GROUP,
            VERSION,
            self._namespace,
            plural,
            label_selector=f"{LABEL_NODE}={self._node}",
            _preload_content=False,
        )
        for item in json.loads(raw.data).get("items") or []:
            name = str((item.get("metadata") or {}).get("name"))
            if name not in keep:
                self._delete(plural, name)

    def _delete(self, plural: str, name: str) -> None:
        self.writes += delete_object(self._api, self._path(plural, name))
