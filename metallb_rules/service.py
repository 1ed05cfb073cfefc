"""A Service as the controller sees it, read from its Kubernetes JSON (behaviour reference §1.2).

Annotation lookup follows MetalLB's `valueForAnnotation`: the stable `metallb.io/...` key wins
when present, even when empty; otherwise the deprecated `metallb.universe.tf/...` key is used.
"""

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

STABLE = "metallb.io/"
DEPRECATED = "metallb.universe.tf/"
POOL_ANNOTATION = "address-pool"
IPS_ANNOTATION = "loadBalancerIPs"
SHARING_ANNOTATION = "allow-shared-ip"
ALLOCATED_FROM = "metallb.io/ip-allocated-from-pool"


def annotation(annotations: Mapping[str, str], name: str) -> str | None:
    """The value of `metallb.io/<name>`, else of `metallb.universe.tf/<name>`, else None."""
    if STABLE + name in annotations:
        return annotations[STABLE + name]
    return annotations.get(DEPRECATED + name)


@dataclass(frozen=True, slots=True)
class ServicePort:
    protocol: str
    port: int


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One Service. Slotted: IPAM holds a whole complete set of them at once (a 4 MiB
    ConvergeServices is ~39,600; issue 15), and an instance dictionary was a third of each."""

    namespace: str
    name: str
    type: str = "ClusterIP"
    load_balancer_class: str | None = None
    cluster_ips: tuple[str, ...] = ()
    ip_families: tuple[str, ...] = ()  # spec.ipFamilies: "IPv4" / "IPv6"
    ip_family_policy: str = "SingleStack"
    load_balancer_ip: str = ""
    external_traffic_policy: str = "Cluster"
    selector: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    ports: tuple[ServicePort, ...] = ()
    ingress_ips: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def sharing_key(self) -> str:
        return annotation(self.annotations, SHARING_ANNOTATION) or ""

    @property
    def backend_key(self) -> str:
        """MetalLB `k8salloc.BackendKey`: the sorted selector for Local, "" for Cluster."""
        if not selector_is_read(self.external_traffic_policy):
            return ""
        return ",".join(f"{k}={v}" for k, v in sorted(self.selector.items()))

    @property
    def requested_pool(self) -> str:
        return annotation(self.annotations, POOL_ANNOTATION) or ""

    @property
    def deprecated_annotations(self) -> list[str]:
        return sorted(k for k in self.annotations if k.startswith(DEPRECATED))


def selector_is_read(external_traffic_policy: str) -> bool:
    """Whether the rules read a Service's selector: only as the backend key of a Local Service
    (MetalLB `k8salloc.BackendKey`), so a converter may leave it out otherwise."""
    return external_traffic_policy == "Local"


def service_from_k8s(obj: Mapping[str, Any]) -> ServiceSpec:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    cluster_ips = tuple(spec.get("clusterIPs") or ())
    if not cluster_ips and spec.get("clusterIP") and spec.get("clusterIP") != "None":
        cluster_ips = (spec["clusterIP"],)
    ingress = (status.get("loadBalancer") or {}).get("ingress") or []
    return ServiceSpec(
        namespace=str(meta.get("namespace") or "default"),
        name=str(meta.get("name") or ""),
        type=str(spec.get("type") or "ClusterIP"),
        load_balancer_class=spec.get("loadBalancerClass"),
        cluster_ips=tuple(ip for ip in cluster_ips if ip and ip != "None"),
        ip_families=tuple(spec.get("ipFamilies") or ()),
        ip_family_policy=str(spec.get("ipFamilyPolicy") or "SingleStack"),
        load_balancer_ip=str(spec.get("loadBalancerIP") or ""),
        external_traffic_policy=str(spec.get("externalTrafficPolicy") or "Cluster"),
        selector=dict(spec.get("selector") or {}),
        labels=dict(meta.get("labels") or {}),
        annotations=dict(meta.get("annotations") or {}),
        ports=tuple(
            ServicePort(str(p.get("protocol") or "TCP"), int(p.get("port") or 0))
            for p in spec.get("ports") or ()
        ),
        ingress_ips=tuple(str(i["ip"]) for i in ingress if isinstance(i, Mapping) and i.get("ip")),
    )


def family_of(ips: tuple[str, ...]) -> str:
    """MetalLB `ipfamily.ForAddresses`: ipv4, ipv6 or dual; raises ValueError otherwise."""
    try:
        versions = [ipaddress.ip_address(ip).version for ip in ips]
    except ValueError as err:
        raise ValueError(str(err)) from None
    if len(versions) == 1:
        return "ipv4" if versions[0] == 4 else "ipv6"
    if len(versions) == 2 and versions[0] != versions[1]:
        return "dual"
    raise ValueError(f"IPFamilyForAddresses: invalid ips {list(ips)}")
