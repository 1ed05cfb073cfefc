"""One consistent view of the cluster objects the gateway reads, whatever their source.

Both sources (the Kubernetes API and a folder of manifests) fill a `Snapshot`: plain Kubernetes
JSON objects by kind. Converting it to the configuration inputs is pure.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.peer_passwords import secrets_from_copy
from metallb_rules.config.model import Node
from metallb_rules.config.resources import ClusterResources

Obj = Mapping[str, Any]

# kind -> ClusterResources attribute, for the metallb.io kinds.
METALLB_KINDS = {
    "IPAddressPool": "pools",
    "BGPPeer": "peers",
    "BFDProfile": "bfd_profiles",
    "BGPAdvertisement": "bgp_advertisements",
    "L2Advertisement": "l2_advertisements",
    "Community": "communities",
}
CORE_KINDS = ("Service", "Namespace", "Node", "EndpointSlice", "Secret")


def key_of(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or ""
    return f"{ns}/{meta.get('name', '')}" if ns else str(meta.get("name", ""))


SliceIndex = dict[tuple[str, str], tuple[Obj, ...]]


def slice_owner(obj: Obj) -> tuple[str, str] | None:
    """(namespace, service name) of an EndpointSlice, from its `kubernetes.io/service-name`."""
    meta = obj.get("metadata") or {}
    owner = (meta.get("labels") or {}).get("kubernetes.io/service-name")
    if owner is None:
        return None
    return (str(meta.get("namespace", "default")), str(owner))


def slice_index(slices: Iterable[Obj]) -> SliceIndex:
    """EndpointSlices by the service they belong to, each service's in key order."""
    index: dict[tuple[str, str], list[Obj]] = {}
    for obj in sorted(slices, key=key_of):
        owner = slice_owner(obj)
        if owner is not None:
            index.setdefault(owner, []).append(obj)
    return {owner: tuple(objs) for owner, objs in index.items()}


def index_slice(index: SliceIndex, old: Obj | None, new: Obj | None) -> None:
    """Update `index` in place for one EndpointSlice change (old → new; None: absent)."""
    for obj, add in ((old, False), (new, True)):
        owner = slice_owner(obj) if obj is not None else None
        if obj is None or owner is None:
            continue
        key = key_of(obj)
        kept = [o for o in index.get(owner, ()) if key_of(o) != key]
        if add:
            kept.append(obj)
            kept.sort(key=key_of)
        if kept:
            index[owner] = tuple(kept)
        else:
            index.pop(owner, None)


@dataclass
class Snapshot:
    """Objects by kind and key. Fill it with `add`; once read, treat it as frozen (the sources
    hand out copies), since lookups such as `endpoint_slices_for` index it on first use."""

    objects: dict[str, dict[str, Obj]] = field(default_factory=dict)  # kind -> key -> object
    namespace: str = "metallb-system"
    # (namespace, service name) -> its EndpointSlices: a source that keeps this index current
    # passes it in; otherwise it is built on first use.
    slices: SliceIndex | None = field(default=None, repr=False, compare=False)
    # The speaker's copy of the BGP passwords (gateway/peer_passwords.py) the peers' Secrets are
    # read from, by name; empty: the users' Secrets themselves (the controller, folder mode).
    peer_passwords: str = ""

    def add(self, obj: Obj) -> None:
        self.objects.setdefault(str(obj.get("kind", "")), {})[key_of(obj)] = obj
        self.slices = None

    def of(self, kind: str) -> list[Obj]:
        return [self.objects.get(kind, {})[k] for k in sorted(self.objects.get(kind, {}))]

    def nodes(self) -> list[Node]:
        out = []
        for obj in self.of("Node"):
            meta = obj.get("metadata") or {}
            conditions = (obj.get("status") or {}).get("conditions") or []
            unavailable = any(
                c.get("type") == "NetworkUnavailable" and c.get("status") == "True"
                for c in conditions
            )
            out.append(Node(str(meta.get("name")), dict(meta.get("labels") or {}), unavailable))
        return out

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        obj = self.objects.get("Namespace", {}).get(namespace)
        return dict(((obj or {}).get("metadata") or {}).get("labels") or {})

    def cluster_resources(self) -> ClusterResources:
        res = ClusterResources(nodes=self.nodes(), namespace=self.namespace)
        for kind, attr in METALLB_KINDS.items():
            getattr(res, attr).extend(self.of(kind))
        res.secrets = {
            str((s.get("metadata") or {}).get("name")): s
            for s in self.of("Secret")
            if (s.get("metadata") or {}).get("namespace", self.namespace) == self.namespace
        }
        if self.peer_passwords:
            copy = res.secrets.get(self.peer_passwords)
            res.secrets = secrets_from_copy(copy, res.peers, self.namespace)
        return res

    def endpoint_slices_for(self, namespace: str, service: str) -> Sequence[Obj]:
        """The EndpointSlices labelled `kubernetes.io/service-name: <service>` in `namespace`."""
        if self.slices is None:
            self.slices = slice_index(self.objects.get("EndpointSlice", {}).values())
        return self.slices.get((namespace, service), ())


def view_of(snap: Snapshot, kind: str, keys: Iterable[str]) -> Snapshot:
    objs = snap.objects.get(kind, {})
    picked = {key: objs[key] for key in keys if key in objs}
    namespaces = dict(snap.objects.get("Namespace", {}))
    return Snapshot(
        {kind: picked, "Namespace": namespaces}, snap.namespace, peer_passwords=snap.peer_passwords
    )
