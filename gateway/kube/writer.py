"""Writes to Kubernetes: Service status with the pool annotation, and Events.

MetalLB writes `status.loadBalancer.ingress` and the `metallb.io/ip-allocated-from-pool`
annotation with one status update of the full object (the status subresource keeps metadata
changes for Services). The update carries the resourceVersion the controller decided on; a
409 Conflict re-reads the Service and tries again (at most 5 times).
"""

import datetime
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gateway.configuration_state import (
    CONTROLLER_CONDITION,
    CONTROLLER_LABELS,
    Condition,
    configuration_status,
)
from gateway.controller.role import CONFIGURATION_STATE
from gateway.kube.client import request_json
from gateway.kube.peer_passwords import write_peer_passwords
from metallb_rules.balancer import Event
from metallb_rules.service import ALLOCATED_FROM

log = logging.getLogger(__name__)

COMPONENT = "metallb-controller"


class KubeWriter:
    def __init__(self, api: client.ApiClient, namespace: str = "metallb-system") -> None:
        self._status = _CustomStatus(api, namespace)
        self.write_configuration_state = self._status.write_configuration_state
        self.write_pool_status = self._status.write_pool_status
        # Typed as Any: we send and read raw JSON, not the client's model classes.
        self._core: Any = client.CoreV1Api(api)
        self._api = api
        self._namespace = namespace
        self.status_writes = 0

    def write_peer_passwords(self, data: Mapping[str, str]) -> None:
        """The speaker's copy of the BGP passwords (gateway/kube/peer_passwords.py)."""
        write_peer_passwords(self._api, self._namespace, data)

    def write_service_status(
        self,
        namespace: str,
        name: str,
        ingress: list[str],
        pool: str | None,
        current: Mapping[str, Any] | None = None,
    ) -> bool:
        """Set ingress and the pool annotation; False if the Service is gone.

        `current` is the object as the controller last saw it: it is updated as is (one
        request); a 409 (it changed meanwhile) re-reads the Service and tries again."""
        for _ in range(5):
            if current is None:
                try:
                    raw = self._core.read_namespaced_service(
                        name, namespace, _preload_content=False
                    )
                except ApiException as err:
                    if err.status == 404:
                        return False
                    raise
                current = json.loads(raw.data)
            obj: dict[str, Any] = {**current, "apiVersion": "v1", "kind": "Service"}
            meta = dict(obj.get("metadata") or {})
            annotations = dict(meta.get("annotations") or {})
            if pool:
                annotations[ALLOCATED_FROM] = pool
            else:
                annotations.pop(ALLOCATED_FROM, None)
            meta["annotations"] = annotations
            obj["metadata"] = meta
            obj["status"] = {
                "loadBalancer": {"ingress": [{"ip": ip} for ip in ingress]} if ingress else {}
            }
            try:
                request_json(
                    self._api,
                    "PUT",
                    "/api/v1/namespaces/{namespace}/services/{name}/status",
                    obj,
                    {"namespace": namespace, "name": name},
                    reply=False,
                )
                self.status_writes += 1
                return True
            except ApiException as err:
                if err.status == 409:
                    current = None
                    continue
                if err.status == 404:
                    return False
                raise
        raise RuntimeError(f"status of {namespace}/{name}: conflicts did not settle")

    def emit_event(self, involved: dict[str, Any], event: Event) -> None:
        meta = involved.get("metadata") or {}
        namespace, body = service_event(involved, event, COMPONENT)
        try:
            request_json(
                self._api,
                "POST",
                "/api/v1/namespaces/{namespace}/events",
                body,
                {"namespace": namespace},
                reply=False,
            )
        except ApiException as err:
            log.warning(
                "event %s for %s/%s not written: %s",
                event.reason,
                namespace,
                meta.get("name"),
                err.status,
            )


METALLB_GROUP = "metallb.io"


class _CustomStatus:
    """Status writes for metallb.io objects through the status subresource."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self._custom: Any = client.CustomObjectsApi(api)
        self.namespace = namespace

    def write_configuration_state(
        self, valid: bool, message: str, extra: Sequence[Condition] = ()
    ) -> None:
        """ConfigurationState `controller` (reference §5), created when missing."""
        write_configuration_state(
            self._custom,
            self.namespace,
            CONFIGURATION_STATE,
            labels=CONTROLLER_LABELS,
            condition=CONTROLLER_CONDITION,
            valid=valid,
            message=message,
            extra=extra,
        )

    def write_pool_status(self, pool: str, status: dict[str, int]) -> None:
        try:
            self._custom.patch_namespaced_custom_object_status(
                METALLB_GROUP,
                "v1beta1",
                self.namespace,
                "ipaddresspools",
                pool,
                {"status": status},
                _preload_content=False,
            )
        except ApiException as err:
            if err.status != 404:  # the pool was deleted meanwhile
                raise


def write_configuration_state(
    custom: Any,
    namespace: str,
    name: str,
    *,
    labels: dict[str, str],
    condition: str,
    valid: bool,
    message: str,
    owner: dict[str, str] | None = None,
    extra: Sequence[Condition] = (),
) -> None:
    """A ConfigurationState (reference §5), created when missing: `controller`
    (poolReconcilerValid, statusWriterValid) or `speaker-<node>` (configReconcilerValid)."""
    status = configuration_status(condition, valid, message, extra)
    args = (METALLB_GROUP, "v1beta1", namespace, "configurationstates")
    for _ in range(5):
        try:
            obj = json.loads(
                custom.get_namespaced_custom_object(*args, name, _preload_content=False).data
            )
        except ApiException as err:
            if err.status != 404:
                raise
            meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels}
            if owner is not None:
                meta["ownerReferences"] = [owner]
            body = {
                "apiVersion": f"{METALLB_GROUP}/v1beta1",
                "kind": "ConfigurationState",
                "metadata": meta,
                "spec": {},
            }
            try:
                obj = json.loads(
                    custom.create_namespaced_custom_object(*args, body, _preload_content=False).data
                )
            except ApiException as create_err:
                if create_err.status == 409:
                    continue
                raise
        obj["status"] = status
        try:
            custom.replace_namespaced_custom_object_status(*args, name, obj, _preload_content=False)
            return
        except ApiException as err:
            if err.status not in (404, 409):
                raise
    log.warning("ConfigurationState %s not written: conflicts did not settle", name)


def service_event(
    service: Mapping[str, Any], event: Event, component: str, host: str | None = None
) -> tuple[str, dict[str, Any]]:
    """(namespace, body) of a core/v1 Event about `service`, from `component` (on `host`)."""
    meta = service.get("metadata") or {}
    namespace = str(meta.get("namespace") or "default")
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    source = {"component": component, **({"host": host} if host else {})}
    body = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta.get('name')}.{uuid.uuid4().hex[:16]}", "namespace": namespace},
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "Service",
            "name": meta.get("name"),
            "namespace": namespace,
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "type": event.type,
        "reason": event.reason,
        "message": event.message,
        "source": source,
        "reportingComponent": component,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
    return namespace, body
