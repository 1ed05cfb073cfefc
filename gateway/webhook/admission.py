"""Admission decisions for metallb.io objects, as MetalLB's webhooks make them (reference §2.4).

`review(path, request, existing, namespace)` takes the AdmissionReview `request` and the objects
the cluster already holds (by kind) and returns the `response`. Validation runs the same parser as
the gateway on the objects of the kind (plus what MetalLB passes along: Nodes, pools) with the new
object replacing the one of the same name, after clearing the fields that refer to other objects
(`bfdProfile`, `passwordSecret`, community aliases), so a webhook never rejects an object because
of ordering. A rejection carries MetalLB's message.
"""

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from metallb_rules.config.model import ConfigError, Node
from metallb_rules.config.parse import parse
from metallb_rules.config.resources import ClusterResources, name_of

Obj = Mapping[str, Any]

PATHS = {
    "/validate-metallb-io-v1beta1-ipaddresspool": "IPAddressPool",
    "/validate-metallb-io-v1beta2-bgppeer": "BGPPeer",
    "/validate-metallb-io-v1beta1-bgpadvertisement": "BGPAdvertisement",
    "/validate-metallb-io-v1beta1-l2advertisement": "L2Advertisement",
    "/validate-metallb-io-v1beta1-community": "Community",
    "/validate-metallb-io-v1beta1-bfdprofile": "BFDProfile",
}
# What MetalLB passes to config.For besides the objects of the kind itself.
_ALSO = {
    "IPAddressPool": (),
    "BGPPeer": ("Node",),
    "BGPAdvertisement": ("IPAddressPool", "Node"),
    "L2Advertisement": ("IPAddressPool",),
    "Community": (),
}
_ATTR = {
    "IPAddressPool": "pools",
    "BGPPeer": "peers",
    "BGPAdvertisement": "bgp_advertisements",
    "L2Advertisement": "l2_advertisements",
    "Community": "communities",
}
DISABLE_MP_WARNING = (
    "disable mp is deprecated and has no effect since it's the default behavior now"
)


def _allowed(uid: str, warnings: Sequence[str] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {"uid": uid, "allowed": True}
    if warnings:
        out["warnings"] = list(warnings)
    return out


def _denied(uid: str, message: str) -> dict[str, Any]:
    return {
        "uid": uid,
        "allowed": False,
        "status": {"code": 403, "reason": "Forbidden", "message": message},
    }


def _reset_transient(kind: str, obj: Obj) -> dict[str, Any]:
    """MetalLB `resetTransientErrorsFields`."""
    out = copy.deepcopy(dict(obj))
    spec = out.setdefault("spec", {})
    if kind == "BGPPeer":
        spec.pop("bfdProfile", None)
        spec.pop("passwordSecret", None)
    if kind == "BGPAdvertisement" and spec.get("communities"):
        spec["communities"] = [c for c in spec["communities"] if ":" in str(c)]
    return out


def _nodes(objs: Sequence[Obj]) -> list[Node]:
    return [Node(name_of(o), dict((o.get("metadata") or {}).get("labels") or {})) for o in objs]


def review(
    path: str, request: Obj, existing: Mapping[str, Sequence[Obj]], namespace: str
) -> dict[str, Any]:
    uid = str(request.get("uid") or "")
    kind = PATHS.get(path)
    if kind is None:
        return _denied(uid, f"no webhook at {path}")
    operation = request.get("operation")
    obj: Obj = request.get("object") or {}
    if operation == "CREATE" and kind == "BGPPeer" and (obj.get("spec") or {}).get("disableMP"):
        return _allowed(uid, [DISABLE_MP_WARNING])  # MetalLB skips every other check (quirk 6)
    if operation == "CREATE" and request.get("namespace", namespace) != namespace:
        return _denied(uid, f"resource must be created in {namespace} namespace")
    if kind == "BFDProfile":
        if operation == "DELETE":
            old: Obj = request.get("oldObject") or {}
            name = name_of(old) or str(request.get("name") or "")
            for peer in existing.get("BGPPeer", ()):
                if (peer.get("spec") or {}).get("bfdProfile") == name:
                    return _denied(
                        uid, f"failed to delete BFDProfile {name}, used by BGPPeer {name_of(peer)}"
                    )
        return _allowed(uid)
    if operation not in ("CREATE", "UPDATE"):
        return _allowed(uid)
    name = name_of(obj)
    same_kind = [_reset_transient(kind, o) for o in existing.get(kind, ()) if name_of(o) != name]
    same_kind.append(_reset_transient(kind, obj))
    res = ClusterResources(namespace=namespace)
    getattr(res, _ATTR[kind]).extend(same_kind)
    for other in _ALSO[kind]:
        if other == "Node":
            res.nodes = _nodes(existing.get("Node", ()))
        else:
            getattr(res, _ATTR[other]).extend(existing.get(other, ()))
    try:
        parse(res)
    except ConfigError as err:
        return _denied(uid, err.message)
    return _allowed(uid)


def convert_bgppeer(obj: Obj, desired: str) -> dict[str, Any]:
    """The `/convert` webhook for bgppeers: v1beta1 and v1beta2 share their fields. Unlike
    MetalLB (quirk 7), unset timers stay unset instead of becoming an explicit `0s`."""
    out = copy.deepcopy(dict(obj))
    out["apiVersion"] = desired
    return out
