"""The Kubernetes source: a reflector per kind feeding one `Snapshot`, with change notices.

Kinds read: Services, Namespaces, Nodes, EndpointSlices (all namespaces; for the node role only:
as MetalLB's controller, allocation never looks at endpoints), the Secrets of the MetalLB
namespace (BGPPeer passwordSecret; for the node role only the controller's copy of the
passwords, listed and watched by name: gateway/peer_passwords.py), the metallb.io kinds of the
MetalLB namespace (BGPPeer in v1beta2), and for the node role its Leases. Every change is
reported as (kind, key) to an asyncio queue, in the order the API delivered it; the consumer
handles one key at a time.
"""

import asyncio
import copy
import threading
from collections.abc import Iterable
from typing import Any

from kubernetes import client

from gateway.kube.reflector import ListFunctions, Obj, Reflector
from gateway.snapshot import SliceIndex, Snapshot, index_slice, key_of, slice_index, view_of

METALLB_GROUP = "metallb.io"
# kind -> (version, plural)
METALLB_RESOURCES = {
    "IPAddressPool": ("v1beta1", "ipaddresspools"),
    "BGPPeer": ("v1beta2", "bgppeers"),
    "BFDProfile": ("v1beta1", "bfdprofiles"),
    "BGPAdvertisement": ("v1beta1", "bgpadvertisements"),
    "L2Advertisement": ("v1beta1", "l2advertisements"),
    "Community": ("v1beta1", "communities"),
    # Written by the roles; watched so that one deleted by hand is written again at once.
    "ConfigurationState": ("v1beta1", "configurationstates"),
}


def list_functions(
    api: client.ApiClient,
    namespace: str,
    leases: bool = False,
    endpoint_slices: bool = True,
    peer_passwords: str = "",
) -> list[ListFunctions]:
    """`peer_passwords`: list and watch only the Secret of this name (a `metadata.name` field
    selector: what RBAC's `resourceNames` allows on a list or a watch), not every Secret."""
    core = client.CoreV1Api(api)
    discovery = client.DiscoveryV1Api(api)
    custom = client.CustomObjectsApi(api)
    only: dict[str, Any] = (
        {"field_selector": f"metadata.name={peer_passwords}"} if peer_passwords else {}
    )
    fns = [
        ListFunctions("Service", core.list_service_for_all_namespaces),
        ListFunctions("Namespace", core.list_namespace),
        ListFunctions("Node", core.list_node),
        ListFunctions("Secret", lambda **kw: core.list_namespaced_secret(namespace, **only, **kw)),
    ]
    if endpoint_slices:
        fns.append(ListFunctions("EndpointSlice", discovery.list_endpoint_slice_for_all_namespaces))
    if leases:
        coordination = client.CoordinationV1Api(api)
        fns.append(
            ListFunctions("Lease", lambda **kw: coordination.list_namespaced_lease(namespace, **kw))
        )
    for kind, (version, plural) in METALLB_RESOURCES.items():

        def crs(version: str = version, plural: str = plural, **kw: Any) -> Any:
            return custom.list_namespaced_custom_object(
                METALLB_GROUP, version, namespace, plural, **kw
            )

        fns.append(ListFunctions(kind, crs))
    return fns


def _without_status(obj: Obj) -> dict[str, Any]:
    meta = {
        k: v
        for k, v in (obj.get("metadata") or {}).items()
        if k not in ("resourceVersion", "managedFields")
    }
    return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": meta}


class KubeSource:
    """Keeps a `Snapshot` of the cluster current and queues (kind, key) for every change."""

    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        *,
        watch_timeout: int = 300,
        leases: bool = False,
        endpoint_slices: bool = True,
        peer_passwords: str = "",
    ) -> None:
        self.namespace = namespace
        self._peer_passwords = peer_passwords
        self._lock = threading.Lock()
        self._snapshot = Snapshot(namespace=namespace, peer_passwords=peer_passwords)
        # Kept current with every EndpointSlice change, so that a snapshot does not re-index
        # 10,000 slices.
        self._slices: SliceIndex = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.changes: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._reflectors = [
            Reflector(fns, self, watch_timeout=watch_timeout)
            for fns in list_functions(api, namespace, leases, endpoint_slices, peer_passwords)
        ]

    async def start(self, timeout: float = 30.0) -> None:
        self._loop = asyncio.get_running_loop()
        for reflector in self._reflectors:
            reflector.start()
        await asyncio.wait_for(
            asyncio.to_thread(lambda: all(r.synced.wait(timeout) for r in self._reflectors)),
            timeout + 1,
        )

    async def stop(self) -> None:
        def stop_all() -> None:
            for reflector in self._reflectors:
                reflector.stop()

        await asyncio.to_thread(stop_all)

    def view(self, kind: str, keys: Iterable[str]) -> Snapshot:
        """Only `keys` of `kind`, and every Namespace (for labels): what converging a few
        services reads, without copying the 10,000 others."""
        with self._lock:
            return view_of(self._snapshot, kind, keys)

    def snapshot(self) -> Snapshot:
        """A copy that later changes do not alter."""
        with self._lock:
            return Snapshot(
                {kind: dict(objs) for kind, objs in self._snapshot.objects.items()},
                self.namespace,
                dict(self._slices),
                peer_passwords=self._peer_passwords,
            )

    def get(self, kind: str, key: str) -> Obj | None:
        with self._lock:
            return self._snapshot.objects.get(kind, {}).get(key)

    def _notify(self, kind: str, key: str) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.changes.put_nowait, (kind, key))

    # ReflectorConsumer, called from the reflector threads.
    def replace(self, kind: str, objects: list[Obj]) -> None:
        fresh: dict[str, Obj] = {}
        for item in objects:
            obj = {**copy.deepcopy(dict(item)), "kind": kind}
            fresh[key_of(obj)] = obj
        with self._lock:
            old = self._snapshot.objects.get(kind, {})
            self._snapshot.objects[kind] = fresh
            if kind == "EndpointSlice":
                self._slices = slice_index(fresh.values())
        for key in set(old) | set(fresh):
            if old.get(key) != fresh.get(key):
                self._notify(kind, key)

    def apply(self, kind: str, event_type: str, obj: Obj) -> None:
        obj = {**dict(obj), "kind": kind}
        key = key_of(obj)
        with self._lock:
            objs = self._snapshot.objects.setdefault(kind, {})
            previous = objs.get(key)
            if event_type == "DELETED":
                objs.pop(key, None)
            else:
                objs[key] = obj
            if kind == "EndpointSlice":
                index_slice(self._slices, previous, None if event_type == "DELETED" else obj)
        if (
            kind in METALLB_RESOURCES
            and previous is not None
            and event_type == "MODIFIED"
            and (_without_status(previous) == _without_status(obj))
        ):
            return  # our own status write (IPAddressPool.status): not a configuration change
        self._notify(kind, key)
