"""The JSON types of each metallb.io kind's spec fields, checked before any rule runs.

In a cluster the API server's CRD schemas (deploy/crdgen/kinds.py) refuse a wrong type before
MetalLB sees it; a manifests folder, or a cluster without our CRDs, has no such gate. Checking the
same types here turns `addresses: 5` into the API server's kind of error, naming the object and
the field, instead of a TypeError deep in a rule. Only the types are checked (not formats or
ranges: those are the rules' own, with MetalLB's texts).
"""

from collections.abc import Mapping, Sequence
from typing import Any

from metallb_rules.config.model import ConfigError

STRING, INTEGER, BOOLEAN, OBJECT = "string", "integer", "boolean", "object"
STRINGS, OBJECTS = "array of strings", "array of objects"

_SELECTORS = OBJECTS
#: spec field -> JSON type, per kind: the CRD schemas' top level (deploy/crdgen/kinds.py, which
#: this package may not import; tests/rules/test_structure_matches_crds.py holds the two equal).
SPEC_TYPES: Mapping[str, Mapping[str, str]] = {
    "ipaddresspools": {
        "addresses": STRINGS,
        "autoAssign": BOOLEAN,
        "avoidBuggyIPs": BOOLEAN,
        "serviceAllocation": OBJECT,
    },
    "bgppeers": {
        "myASN": INTEGER,
        "peerASN": INTEGER,
        "dynamicASN": STRING,
        "localASN": INTEGER,
        "peerAddress": STRING,
        "interface": STRING,
        "sourceAddress": STRING,
        "peerPort": INTEGER,
        "holdTime": STRING,
        "keepaliveTime": STRING,
        "connectTime": STRING,
        "routerID": STRING,
        "nodeSelectors": _SELECTORS,
        "password": STRING,
        "passwordSecret": OBJECT,
        "bfdProfile": STRING,
        "ebgpMultiHop": BOOLEAN,
        "vrf": STRING,
        "enableGracefulRestart": BOOLEAN,
        "disableMP": BOOLEAN,
        "dualStackAddressFamily": BOOLEAN,
    },
    "bfdprofiles": {
        "receiveInterval": INTEGER,
        "transmitInterval": INTEGER,
        "detectMultiplier": INTEGER,
        "echoInterval": INTEGER,
        "echoMode": BOOLEAN,
        "passiveMode": BOOLEAN,
        "minimumTtl": INTEGER,
    },
    "bgpadvertisements": {
        "aggregationLength": INTEGER,
        "aggregationLengthV6": INTEGER,
        "localPref": INTEGER,
        "communities": STRINGS,
        "ipAddressPools": STRINGS,
        "ipAddressPoolSelectors": _SELECTORS,
        "nodeSelectors": _SELECTORS,
        "peers": STRINGS,
        "serviceSelectors": _SELECTORS,
    },
    "l2advertisements": {
        "ipAddressPools": STRINGS,
        "ipAddressPoolSelectors": _SELECTORS,
        "nodeSelectors": _SELECTORS,
        "interfaces": STRINGS,
        "serviceSelectors": _SELECTORS,
        "preferredNodeSelectors": _SELECTORS,
    },
    "communities": {"communities": OBJECTS},
}


def _type_of(value: Any) -> str:
    """The JSON type name of `value`, as the API server's errors print it."""
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return STRING
    if isinstance(value, Mapping):
        return OBJECT
    if isinstance(value, Sequence):
        return "array"
    return "null" if value is None else type(value).__name__


def _fits(value: Any, want: str) -> bool:
    if value is None:
        return True  # absent, as far as the rules go (the API server drops nulls too)
    got = _type_of(value)
    if want in (STRINGS, OBJECTS):
        item = STRING if want == STRINGS else OBJECT
        return got == "array" and all(_type_of(v) == item for v in value)
    return got == want


def check_structure(plural: str, obj: Mapping[str, Any]) -> None:
    """Raise `ConfigError` naming the object and field when a spec field has the wrong type."""
    meta = obj.get("metadata")
    name = str(meta.get("name") or "") if isinstance(meta, Mapping) else ""
    spec = obj.get("spec")
    if spec is not None and not isinstance(spec, Mapping):
        raise ConfigError(
            f"{plural}/{name}: spec: Invalid value: {_type_of(spec)!r}: must be of type object",
            field=f"{plural}/{name}: spec",
        )
    for field, want in SPEC_TYPES.get(plural, {}).items():
        value = (spec or {}).get(field)
        if not _fits(value, want):
            raise ConfigError(
                f"{plural}/{name}: spec.{field}: Invalid value: {_type_of(value)!r}: "
                f"spec.{field} in body must be of type {want}",
                field=f"{plural}/{name}: spec.{field}",
            )
