"""Leases (coordination.k8s.io/v1): leader election for the controller, liveness for nodes.

`LeaseLock.try_hold()` takes the Lease when it is free, expired (renewTime + duration passed) or
already ours, and renews it; it never takes a Lease another holder renewed in time. The
resourceVersion makes the write a compare-and-swap: of two contenders only one succeeds (the
other gets 409 Conflict). Times are RFC 3339 with microseconds, as Kubernetes writes MicroTime.
"""

import datetime
import json
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _format(t: datetime.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    text = text.replace("Z", "+00:00")
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        return None


class LeaseLock:
    def __init__(
        self, api: client.ApiClient, namespace: str, name: str, identity: str, duration: int = 15
    ) -> None:
        self._api: Any = client.CoordinationV1Api(api)  # raw JSON in and out
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.duration = duration

    def _read(self) -> dict[str, Any] | None:
        try:
            raw = self._api.read_namespaced_lease(self.name, self.namespace, _preload_content=False)
        except ApiException as err:
            if err.status == 404:
                return None
            raise
        body: dict[str, Any] = json.loads(raw.data)
        return body

    def holder(self) -> str | None:
        """The current holder if its lease has not expired."""
        lease = self._read()
        if lease is None:
            return None
        spec = lease.get("spec") or {}
        renewed = _parse(spec.get("renewTime"))
        duration = int(spec.get("leaseDurationSeconds") or self.duration)
        if renewed is None or renewed + datetime.timedelta(seconds=duration) < _now():
            return None
        holder: str | None = spec.get("holderIdentity")
        return holder

    def try_hold(self) -> bool:
        """Acquire or renew; True while we hold the Lease."""
        now = _now()
        lease = self._read()
        if lease is None:
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": {
                    "holderIdentity": self.identity,
                    "leaseDurationSeconds": self.duration,
                    "acquireTime": _format(now),
                    "renewTime": _format(now),
                    "leaseTransitions": 0,
                },
            }
            try:
                self._api.create_namespaced_lease(self.namespace, body, _preload_content=False)
                return True
            except ApiException as err:
                if err.status == 409:
                    return False
                raise
        spec = lease.setdefault("spec", {})
        holder = spec.get("holderIdentity")
        renewed = _parse(spec.get("renewTime"))
        duration = int(spec.get("leaseDurationSeconds") or self.duration)
        expired = renewed is None or renewed + datetime.timedelta(seconds=duration) < now
        if holder != self.identity and not expired:
            return False
        if holder != self.identity:
            spec["holderIdentity"] = self.identity
            spec["acquireTime"] = _format(now)
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        spec["renewTime"] = _format(now)
        spec["leaseDurationSeconds"] = self.duration
        try:
            self._api.replace_namespaced_lease(
                self.name, self.namespace, lease, _preload_content=False
            )
            return True
        except ApiException as err:
            if err.status == 409:
                return False
            raise
