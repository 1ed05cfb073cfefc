"""The raw inputs of one configuration pass: metallb.io objects plus what they refer to.

Objects are plain Kubernetes JSON (as `kubectl get -o json` or the API returns them); each list is
parsed in name order, as MetalLB's reconcilers sort them.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from metallb_rules.config.model import Node

RawObject = Mapping[str, Any]


@dataclass
class ClusterResources:
    pools: list[RawObject] = field(default_factory=list)
    peers: list[RawObject] = field(default_factory=list)
    bfd_profiles: list[RawObject] = field(default_factory=list)
    bgp_advertisements: list[RawObject] = field(default_factory=list)
    l2_advertisements: list[RawObject] = field(default_factory=list)
    communities: list[RawObject] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    # Secrets of the MetalLB namespace, by name (for BGPPeer passwordSecret).
    secrets: Mapping[str, RawObject] = field(default_factory=dict, repr=False)  # passwords
    namespace: str = "metallb-system"


def name_of(obj: RawObject) -> str:
    meta = obj.get("metadata") or {}
    return str(meta.get("name") or "")


def spec_of(obj: RawObject) -> Mapping[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def labels_of(obj: RawObject) -> Mapping[str, str]:
    meta = obj.get("metadata") or {}
    labels = meta.get("labels")
    return dict(labels) if isinstance(labels, Mapping) else {}


def sorted_by_name(objs: list[RawObject]) -> list[RawObject]:
    return sorted(objs, key=name_of)
