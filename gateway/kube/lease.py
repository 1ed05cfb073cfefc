"""Leases (coordination.k8s.io/v1): leader election for the controller, liveness for nodes.

`LeaseLock.try_hold()` takes the Lease when it is free, expired or already ours, and renews it;
it never takes a Lease another holder renewed in time. Expiry is read as client-go reads it
(gateway/leases.py): `leaseDurationSeconds` after this process last saw the Lease's record change,
on its own monotonic clock, never by comparing another host's `renewTime` with our wall clock. The
resourceVersion makes the write a compare-and-swap: of two contenders only one succeeds (the
other gets 409 Conflict). Times are RFC 3339 with microseconds, as Kubernetes writes MicroTime.
"""

import datetime
import json
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gateway.leases import ObservedLeases


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _format(t: datetime.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseLock:
    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        name: str,
        identity: str,
        duration: int = 15,
        *,
        clock: Callable[[], float] = time.monotonic,
        request_timeout: float | None = None,
    ) -> None:
        """`request_timeout`: seconds each request may take (None: the client's default)."""
        self._api: Any = client.CoordinationV1Api(api)  # raw JSON in and out
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.duration = duration
        self._clock = clock
        self._observed = ObservedLeases()
        self._timeout = {} if request_timeout is None else {"_request_timeout": request_timeout}

    def _read(self) -> dict[str, Any] | None:
        try:
            raw = self._api.read_namespaced_lease(
                self.name, self.namespace, _preload_content=False, **self._timeout
            )
        except ApiException as err:
            if err.status == 404:
                return None
            raise
        body: dict[str, Any] = json.loads(raw.data)
        return body

    def _observe(self, lease: dict[str, Any] | None) -> float:
        now = self._clock()
        spec = (
            None
            if lease is None
            else {"leaseDurationSeconds": self.duration} | (lease.get("spec") or {})
        )
        self._observed.observe(self.name, spec, now)
        return now

    def holder(self) -> str | None:
        """The current holder if its lease has not expired (as observed)."""
        lease = self._read()
        now = self._observe(lease)
        return self._observed.holder(self.name, now)

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
                self._api.create_namespaced_lease(
                    self.namespace, body, _preload_content=False, **self._timeout
                )
                return True
            except ApiException as err:
                if err.status == 409:
                    return False
                raise
        observed_at = self._observe(lease)
        spec = lease.setdefault("spec", {})
        holder = spec.get("holderIdentity")
        current = self._observed.holder(self.name, observed_at)
        if holder and holder != self.identity and current is not None:
            return False
        if holder != self.identity:
            spec["holderIdentity"] = self.identity
            spec["acquireTime"] = _format(now)
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        spec["renewTime"] = _format(now)
        spec["leaseDurationSeconds"] = self.duration
        try:
            self._api.replace_namespaced_lease(
                self.name, self.namespace, lease, _preload_content=False, **self._timeout
            )
            return True
        except ApiException as err:
            if err.status == 409:
                return False
            raise

    def release(self) -> None:
        """Delete the Lease if we hold it (leaving): the others see it gone at once."""
        lease = self._read()
        if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
            return
        version = (lease.get("metadata") or {}).get("resourceVersion")
        body = {"preconditions": {"resourceVersion": version}} if version else None
        try:
            self._api.delete_namespaced_lease(
                self.name, self.namespace, body=body, _preload_content=False, **self._timeout
            )
        except ApiException as err:
            if err.status not in (404, 409):
                raise
