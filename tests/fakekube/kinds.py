"""Resource kinds the fake API server serves, as data.

Each kind is one `ResourceKind` row: adding a kind is adding a line to `DEFAULT_KINDS` (or
passing extra rows to `FakeKube(kinds=...)`). A kind is stored once, under its storage version
(the first of `versions`), and served at every version in `versions`; serving another version
only rewrites `apiVersion` (there is no conversion webhook here).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_KINDS", "METALLB_GROUP", "KindRegistry", "ResourceKind"]

METALLB_GROUP = "metallb.io"

# Field selectors every kind supports (the apiserver's default object-meta field set).
_DEFAULT_FIELD_LABELS = frozenset({"metadata.name", "metadata.namespace"})


@dataclass(frozen=True)
class ResourceKind:
    """One REST resource: where it lives in the URL space and how the store treats it.

    Attributes:
        group: API group, "" for the core group (served under /api).
        versions: served versions; the first one is the storage version.
        plural: the resource name in URLs ("services").
        kind: the object kind ("Service").
        namespaced: namespaced (True) or cluster-scoped (False).
        status_subresource: `/status` exists; the main resource then ignores status writes and
            the status subresource ignores spec writes.
        status_keeps_metadata: a write through `/status` keeps the caller's metadata changes
            (labels, annotations, ...) as the core Service strategy does; custom resources
            keep the stored metadata instead.
        delete_returns_object: DELETE answers with the deleted object (custom resources,
            Services, Namespaces) rather than a `Status` of Success (the generic registry's
            default, e.g. Secrets, Leases).
        allow_unconditional_update: PUT without metadata.resourceVersion is allowed (core
            kinds); custom resources require it (422 Invalid otherwise).
        field_labels: field selector labels accepted besides metadata.name/namespace.
        initial_status: status given to a new object when status is a subresource.
        custom: served by a CustomResourceDefinition: list items keep apiVersion and kind,
            strategic merge patch is refused (415) as the apiserver does for CRs.
    """

    group: str
    versions: tuple[str, ...]
    plural: str
    kind: str
    namespaced: bool = True
    status_subresource: bool = False
    status_keeps_metadata: bool = False
    delete_returns_object: bool = False
    allow_unconditional_update: bool = True
    field_labels: frozenset[str] = field(default_factory=frozenset)
    initial_status: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    custom: bool = False

    @property
    def ref(self) -> str:
        """kubectl-style name: "services", "leases.coordination.k8s.io"."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def storage_version(self) -> str:
        """The version objects are stored (and by default served) at."""
        return self.versions[0]

    def api_version(self, version: str | None = None) -> str:
        """`apiVersion` string for `version` (default: the storage version)."""
        v = version or self.storage_version
        return f"{self.group}/{v}" if self.group else v

    @property
    def list_kind(self) -> str:
        """Kind of the list object ("ServiceList")."""
        return f"{self.kind}List"

    @property
    def supported_field_labels(self) -> frozenset[str]:
        """All field selector labels this kind accepts."""
        return _DEFAULT_FIELD_LABELS | self.field_labels

    def qualified(self) -> str:
        """Name used in error messages: `services`, `ipaddresspools.metallb.io`."""
        return self.ref


_core = functools.partial(ResourceKind, "", ("v1",))


def _metallb(plural: str, kind: str, versions: tuple[str, ...] = ("v1beta1",)) -> ResourceKind:
    return ResourceKind(
        METALLB_GROUP,
        versions,
        plural,
        kind,
        status_subresource=True,
        allow_unconditional_update=False,
        delete_returns_object=True,
        custom=True,
    )


DEFAULT_KINDS: tuple[ResourceKind, ...] = (
    _core(
        "services",
        "Service",
        status_subresource=True,
        status_keeps_metadata=True,
        delete_returns_object=True,
        field_labels=frozenset({"spec.clusterIP", "spec.type"}),
        initial_status={"loadBalancer": {}},
    ),
    _core(
        "namespaces",
        "Namespace",
        namespaced=False,
        status_subresource=True,
        delete_returns_object=True,
        field_labels=frozenset({"status.phase"}),
        initial_status={"phase": "Active"},
    ),
    _core(
        "nodes",
        "Node",
        namespaced=False,
        status_subresource=True,
        field_labels=frozenset({"spec.unschedulable"}),
    ),
    _core("secrets", "Secret", field_labels=frozenset({"type"})),
    _core(
        "events",
        "Event",
        field_labels=frozenset(
            {
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.name",
                "involvedObject.uid",
                "involvedObject.apiVersion",
                "involvedObject.resourceVersion",
                "involvedObject.fieldPath",
                "reason",
                "reportingComponent",
                "source",
                "type",
            }
        ),
    ),
    _core("endpoints", "Endpoints"),
    ResourceKind("discovery.k8s.io", ("v1",), "endpointslices", "EndpointSlice"),
    ResourceKind("coordination.k8s.io", ("v1",), "leases", "Lease"),
    # What the controller's certificate rotator writes caBundles into.
    ResourceKind(
        "admissionregistration.k8s.io",
        ("v1",),
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        namespaced=False,
    ),
    ResourceKind(
        "apiextensions.k8s.io",
        ("v1",),
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        status_subresource=True,
        delete_returns_object=True,
        allow_unconditional_update=False,
    ),
    ResourceKind("events.k8s.io", ("v1",), "events", "Event"),
    _metallb("ipaddresspools", "IPAddressPool"),
    _metallb("l2advertisements", "L2Advertisement"),
    _metallb("bgpadvertisements", "BGPAdvertisement"),
    _metallb("communities", "Community"),
    _metallb("bfdprofiles", "BFDProfile"),
    _metallb("servicel2statuses", "ServiceL2Status"),
    _metallb("servicebgpstatuses", "ServiceBGPStatus"),
    _metallb("configurationstates", "ConfigurationState"),
    _metallb("bgpsessionstates", "BGPSessionState"),
    _metallb("l2nodestates", "L2NodeState"),
    # v1beta2 is the storage version; v1beta1 is served from the same objects.
    _metallb("bgppeers", "BGPPeer", ("v1beta2", "v1beta1")),
)


class KindRegistry:
    """Lookup of `ResourceKind` rows by URL coordinates, kubectl name or apiVersion+kind."""

    def __init__(self, kinds: Iterable[ResourceKind]) -> None:
        self._by_plural: dict[tuple[str, str], ResourceKind] = {}
        self._by_kind: dict[tuple[str, str], ResourceKind] = {}
        for k in kinds:
            key = (k.group, k.plural)
            if key in self._by_plural:
                raise ValueError(f"kind {k.ref} registered twice")
            self._by_plural[key] = k
            self._by_kind.setdefault((k.group, k.kind), k)

    def all(self) -> list[ResourceKind]:
        """Every registered kind."""
        return list(self._by_plural.values())

    def lookup(self, group: str, version: str, plural: str) -> ResourceKind | None:
        """The kind served at /GROUP/VERSION/PLURAL, or None."""
        k = self._by_plural.get((group, plural))
        if k is None or version not in k.versions:
            return None
        return k

    def by_ref(self, ref: str) -> ResourceKind:
        """Kind by kubectl-style name ("services", "bgppeers.metallb.io")."""
        plural, _, group = ref.partition(".")
        k = self._by_plural.get((group, plural))
        if k is None:
            raise KeyError(f"unknown resource {ref!r}")
        return k

    def by_api_version_kind(self, api_version: str, kind: str) -> tuple[ResourceKind, str]:
        """Kind and version for an object's apiVersion and kind."""
        group, _, version = api_version.rpartition("/")
        k = self._by_kind.get((group, kind))
        if k is None or version not in k.versions:
            raise KeyError(f"unknown kind {api_version} {kind}")
        return k, version

    def groups(self) -> dict[str, list[str]]:
        """Served versions per group, storage version first."""
        out: dict[str, list[str]] = {}
        for k in self._by_plural.values():
            versions = out.setdefault(k.group, [])
            for v in k.versions:
                if v not in versions:
                    versions.append(v)
        return out
