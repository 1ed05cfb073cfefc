"""ServiceL2Status and ServiceBGPStatus of one node, its `nodeAssigned` events and its
ConfigurationState `speaker-<node>` (reference §5).

MetalLB's speaker keeps one object per (service, node) and protocol in the MetalLB namespace:
`generateName: l2-` / `bgp-`, labels `metallb.io/node`, `metallb.io/service-name` and
`metallb.io/service-namespace`, owned by the speaker Pod (so they go with it), an empty spec and
the status `{node, serviceName, serviceNamespace, interfaces | peers}`. It deletes the object
when the node stops announcing the service, and deletes duplicates it finds.

`ServiceStatusWriter.write` brings one such object to a wanted status (None: no object). On
first use it lists this node's objects (label `metallb.io/node=<node>`), so a restarted node role
adopts what it wrote before instead of creating duplicates. Calls are synchronous (official
client); the node role runs them on a `WriteQueue`.
"""

import json
import logging
from collections.abc import Mapping
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gateway.configuration_state import SPEAKER_CONDITION
from gateway.kube.client import request_json
from gateway.kube.status_objects import GROUP, VERSION, delete_object, object_path, put_status
from gateway.kube.writer import service_event, write_configuration_state
from gateway.node.status import (
    KINDS,
    LABEL_NODE,
    LABEL_SERVICE_NAME,
    LABEL_SERVICE_NAMESPACE,
    SPEAKER,
    node_assigned_message,
    speaker_state_labels,
    status_labels,
)
from metallb_rules.balancer import Event

log = logging.getLogger(__name__)


class ServiceStatusWriter:
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
        # (plural, "ns/name") -> names of this node's objects for that service
        self._names: dict[tuple[str, str], list[str]] | None = None
        self.writes = 0

    def _path(self, plural: str, name: str = "") -> str:
        return object_path(self._namespace, plural, name)

    def _load(self) -> dict[tuple[str, str], list[str]]:
        names: dict[tuple[str, str], list[str]] = {}
        for plural in KINDS:
            raw = self._custom.list_namespaced_custom_object(
                GROUP,
                VERSION,
                self._namespace,
                plural,
                label_selector=f"{LABEL_NODE}={self._node}",
                _preload_content=False,
            )
            for item in json.loads(raw.data).get("items") or []:
                meta = item.get("metadata") or {}
                labels = meta.get("labels") or {}
                key = f"{labels.get(LABEL_SERVICE_NAMESPACE)}/{labels.get(LABEL_SERVICE_NAME)}"
                names.setdefault((plural, key), []).append(str(meta.get("name")))
        return names

    def existing(self) -> set[tuple[str, str]]:
        if self._names is None:
            self._names = self._load()
        return set(self._names)

    def write(self, plural: str, service_key: str, status: Mapping[str, Any] | None) -> None:
        """Make this node's object for the service hold `status` (None: delete it)."""
        if self._names is None:
            self._names = self._load()
        names = self._names.pop((plural, service_key), [])
        for extra in names[1:] if status is not None else names:
            self._delete(plural, extra)
        if status is None:
            return
        current: dict[str, Any] | None = None
        if names:
            name = names[0]
        else:
            current = self._create(plural, service_key)
            name = str(current["metadata"]["name"])
        self._names[(plural, service_key)] = [name]
        self._set_status(plural, name, service_key, status, current)

    def _create(self, plural: str, service_key: str) -> dict[str, Any]:
        kind, prefix = KINDS[plural]
        meta: dict[str, Any] = {
            "generateName": prefix,
            "namespace": self._namespace,
            "labels": status_labels(self._node, service_key),
        }
        if self._pod is not None:
            meta["ownerReferences"] = [
                {"apiVersion": "v1", "kind": "Pod", "name": self._pod[0], "uid": self._pod[1]}
            ]
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": meta, "spec": {}}
        created: dict[str, Any] = request_json(self._api, "POST", self._path(plural), body)
        self.writes += 1
        return created

    def _set_status(
        self,
        plural: str,
        name: str,
        service_key: str,
        status: Mapping[str, Any],
        current: dict[str, Any] | None = None,
    ) -> None:
        """Update the status of `name` (`current`: the object as just created, else read)."""
        for _ in range(5):
            if current is not None:
                obj, current = current, None
            else:
                try:
                    obj = request_json(self._api, "GET", self._path(plural, name))
                except ApiException as err:
                    if err.status != 404:
                        raise
                    # Deleted behind our back: make a new one.
                    current = self._create(plural, service_key)
                    name = str(current["metadata"]["name"])
                    assert self._names is not None
                    self._names[(plural, service_key)] = [name]
                    continue
            written = put_status(self._api, self._path(plural, name), obj, status)
            if written is not False:
                self.writes += bool(written)
                return
        raise RuntimeError(f"{plural} {name}: conflicts did not settle")

    def _delete(self, plural: str, name: str) -> None:
        self.writes += delete_object(self._api, self._path(plural, name))

    def configuration_state(self, valid: bool, message: str) -> None:
        """ConfigurationState `speaker-<node>` (condition configReconcilerValid)."""
        owner = None
        if self._pod is not None:
            owner = {"apiVersion": "v1", "kind": "Pod", "name": self._pod[0], "uid": self._pod[1]}
        write_configuration_state(
            self._custom,
            self._namespace,
            f"speaker-{self._node}",
            labels=speaker_state_labels(self._node),
            condition=SPEAKER_CONDITION,
            valid=valid,
            message=message,
            owner=owner,
        )

    def node_assigned(self, service: Mapping[str, Any], protocol: str) -> None:
        """Normal `nodeAssigned` / `announcing from node %q with protocol %q` on the Service."""
        event = Event("Normal", "nodeAssigned", node_assigned_message(self._node, protocol))
        namespace, body = service_event(service, event, SPEAKER, self._node)
        request_json(self._api, "POST", f"/api/v1/namespaces/{namespace}/events", body, reply=False)
