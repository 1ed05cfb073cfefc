"""The facts the speaker decisions look at: a service's announce-relevant view and the nodes."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from metallb_rules.config.model import Node

EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
SHARED_IP_KEYS = ("metallb.io/allow-shared-ip", "metallb.universe.tf/allow-shared-ip")


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of an EndpointSlice (discovery.k8s.io/v1)."""

    node_name: str | None
    addresses: tuple[str, ...] = ("0.0.0.0",)
    ready: bool | None = None
    serving: bool | None = None

    def can_serve(self) -> bool:
        """MetalLB `EndpointCanServe`: ready (nil counts as ready) or serving (terminating ok)."""
        return self.ready is None or self.ready or bool(self.serving)


@dataclass(frozen=True)
class ServiceView:
    namespace: str
    name: str
    type: str = "LoadBalancer"
    ingress_ips: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    external_traffic_policy: str = "Cluster"
    endpoints: tuple[Endpoint, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def allows_shared_ip(self) -> bool:
        return any(k in self.annotations for k in SHARED_IP_KEYS)


def node_excluded(node: Node, ignore_exclude_lb: bool) -> bool:
    return not ignore_exclude_lb and EXCLUDE_LB_LABEL in node.labels
