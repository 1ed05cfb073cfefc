"""In folder mode we play the API server: what it defaults when an object is created.

A MetalLB user's YAML (a Service with only `type`, `selector` and `ports`) works in a cluster
because the API server fills in `clusterIP(s)`, `ipFamilies`, `ipFamilyPolicy`, each port's
`protocol` and `nodePort`, and the traffic policies, and MetalLB's rules read some of these (the
Service's family comes from its clusterIPs: behaviour reference §1.3). Here the same fields are
defaulted the same way, for every kind the folder source reads; a field the user set is never
changed. The cluster's families come from the folder's `ServiceCIDR` objects
(networking.k8s.io/v1, the shape an operator knows from `kubectl get servicecidr`); without one
the folder is a dual-stack cluster, IPv4 first, with kubeadm's and kind's ranges.

ClusterIPs are chosen from a hash of namespace/name (probing past addresses in use), so the same
folder always gives the same answer: nothing is persisted.
"""

import contextlib
import hashlib
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Obj = Mapping[str, Any]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: kubeadm's default service range, and kind's IPv6 one.
DEFAULT_SERVICE_CIDRS = ("10.96.0.0/12", "fd00:10:96::/112")
#: The API server's default `--service-node-port-range`.
NODE_PORTS = range(30000, 32768)
FAMILY = {4: "IPv4", 6: "IPv6"}


class DefaultingError(ValueError):
    """An object the API server would refuse, in kubectl's words."""


def service_cidrs(objects: Iterable[Obj]) -> list[IPNetwork]:
    """The cluster's service ranges, primary family first (ServiceCIDR objects by name)."""
    cidrs: list[IPNetwork] = []
    found = sorted(
        (o for o in objects if o.get("kind") == "ServiceCIDR"),
        key=lambda o: str((o.get("metadata") or {}).get("name")),
    )
    for obj in found:
        name = (obj.get("metadata") or {}).get("name")
        for i, text in enumerate((obj.get("spec") or {}).get("cidrs") or []):
            try:
                cidrs.append(ipaddress.ip_network(str(text)))
            except ValueError as err:
                raise DefaultingError(
                    f'ServiceCIDR "{name}" is invalid: spec.cidrs[{i}]: Invalid value: '
                    f'"{text}": {err}'
                ) from None
    if not cidrs:
        cidrs = [ipaddress.ip_network(c) for c in DEFAULT_SERVICE_CIDRS]
    return cidrs


def _families(cidrs: Sequence[IPNetwork]) -> list[str]:
    out: list[str] = []
    for net in cidrs:
        family = FAMILY[net.version]
        if family not in out:
            out.append(family)
    return out


def _pick(seed: str, net: IPNetwork, used: set[IPAddress]) -> IPAddress:
    """A free address of `net` from the hash of `seed` (the network address and the first host,
    which the API server gives the `kubernetes` Service, are never chosen)."""
    size = net.num_addresses - 2
    if size <= 0:
        raise DefaultingError(f"service range {net} has no free address")
    start = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big") % size
    for step in range(min(size, 1 << 16)):
        address = net[2 + (start + step) % size]
        if address not in used:
            used.add(address)
            return address
    raise DefaultingError(f"service range {net} is full")


def _invalid(name: str, field: str, value: object, why: str) -> DefaultingError:
    return DefaultingError(f'Service "{name}" is invalid: {field}: Invalid value: {value!r}: {why}')


def default_service(obj: Obj, cidrs: Sequence[IPNetwork], used: set[IPAddress]) -> Obj:
    """The Service as the API server stores it (a new object; `obj` is not changed)."""
    meta = obj.get("metadata") or {}
    name = str(meta.get("name"))
    spec = dict(obj.get("spec") or {})
    svc_type = spec.setdefault("type", "ClusterIP")
    if svc_type == "ExternalName":
        return {**obj, "spec": spec}
    spec.setdefault("sessionAffinity", "None")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    external = svc_type in ("LoadBalancer", "NodePort")
    if external:
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if svc_type == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    key = f"{meta.get('namespace')}/{name}"  # what the deterministic choices are hashed from
    _default_ports(spec, key, external)
    _default_ip_families(spec, name, cidrs, used, key)
    return {**obj, "spec": spec}


def _default_ports(spec: dict[str, Any], seed: str, external: bool) -> None:
    want_node_ports = external and spec.get("allocateLoadBalancerNodePorts", True) is not False
    taken = {p.get("nodePort") for p in spec.get("ports") or [] if isinstance(p, dict)}
    ports = []
    for i, given in enumerate(spec.get("ports") or []):
        if not isinstance(given, dict):
            ports.append(given)
            continue
        port = {**given}
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
        if want_node_ports and not port.get("nodePort"):
            digest = hashlib.sha256(f"{seed}/{i}".encode()).digest()
            start = int.from_bytes(digest[:4], "big") % len(NODE_PORTS)
            for step in range(len(NODE_PORTS)):
                candidate = NODE_PORTS[(start + step) % len(NODE_PORTS)]
                if candidate not in taken:
                    port["nodePort"] = candidate
                    taken.add(candidate)
                    break
        ports.append(port)
    if "ports" in spec:
        spec["ports"] = ports


def _default_ip_families(
    spec: dict[str, Any], name: str, cidrs: Sequence[IPNetwork], used: set[IPAddress], seed: str
) -> None:
    cluster = _families(cidrs)
    given_ips = [str(ip) for ip in spec.get("clusterIPs") or [] if ip]
    if not given_ips and spec.get("clusterIP"):
        given_ips = [str(spec["clusterIP"])]
    headless = given_ips == ["None"]
    ip_families: list[str] = []
    if not headless:
        for i, text in enumerate(given_ips):
            try:
                ip_families.append(FAMILY[ipaddress.ip_address(text).version])
            except ValueError:
                raise _invalid(name, f"spec.clusterIPs[{i}]", text, "must be a valid IP") from None
    requested = [str(f) for f in spec.get("ipFamilies") or []]
    policy = spec.get("ipFamilyPolicy")
    if policy is None:
        # Two families asked for (by clusterIPs or ipFamilies) and no policy: the API server
        # defaults it to RequireDualStack; otherwise SingleStack.
        policy = "RequireDualStack" if len(requested) > 1 or len(ip_families) > 1 else "SingleStack"
    if policy == "SingleStack" and max(len(requested), len(ip_families)) > 1:
        raise _invalid(
            name,
            "spec.ipFamilies",
            requested or ip_families,
            "when spec.ipFamilyPolicy is SingleStack, only one IP family may be specified",
        )
    if policy == "RequireDualStack" and len(cluster) < 2:
        raise _invalid(
            name,
            "spec.ipFamilyPolicy",
            policy,
            "this cluster is not configured for dual-stack services",
        )
    families = ip_families or requested
    if not families:
        families = [cluster[0]]
    if policy in ("RequireDualStack", "PreferDualStack") and len(families) < 2 <= len(cluster):
        families = [*families, next(f for f in cluster if f not in families)]
    for family in families:
        if family not in cluster:
            raise _invalid(name, "spec.ipFamilies", family, "not configured on this cluster")
    spec["ipFamilyPolicy"] = policy
    spec["ipFamilies"] = families
    if headless:
        spec["clusterIP"], spec["clusterIPs"] = "None", ["None"]
        return
    ips = list(given_ips)
    for family in families[len(ips) :]:
        net = next(n for n in cidrs if FAMILY[n.version] == family)
        ips.append(str(_pick(f"{seed}/{family}", net, used)))
    spec["clusterIPs"] = ips
    spec["clusterIP"] = ips[0]


def default_endpoint_slice(obj: Obj) -> Obj:
    ports = obj.get("ports")
    if not isinstance(ports, list):
        return obj
    defaulted = [{"protocol": "TCP", **p} if isinstance(p, dict) else p for p in ports]
    return {**obj, "ports": defaulted}


def apply_defaults(objects: Sequence[Obj]) -> list[Obj]:
    """Every object as the API server would store it; raises `DefaultingError` for one it would
    refuse. Services are defaulted in namespace/name order so the answer does not depend on the
    order of the files."""
    cidrs = service_cidrs(objects)
    used: set[IPAddress] = set()
    for obj in objects:
        if obj.get("kind") == "Service":
            for text in (obj.get("spec") or {}).get("clusterIPs") or [
                (obj.get("spec") or {}).get("clusterIP")
            ]:
                with contextlib.suppress(ValueError):
                    used.add(ipaddress.ip_address(str(text)))
    services = sorted(
        (i for i, o in enumerate(objects) if o.get("kind") == "Service"),
        key=lambda i: (
            str((objects[i].get("metadata") or {}).get("namespace")),
            str((objects[i].get("metadata") or {}).get("name")),
        ),
    )
    out = list(objects)
    for i in services:
        out[i] = default_service(objects[i], cidrs, used)
    for i, obj in enumerate(out):
        if obj.get("kind") == "EndpointSlice":
            out[i] = default_endpoint_slice(obj)
    return out
