"""The CRDs: generated from deploy/crdgen, current, valid, and carrying MetalLB's API.

The field lists below are the API reference's (shared/reference/metallb-api-reference.md) plus
the fields the behaviour reference adds (§2.1, §5): a kind that loses a field would prune it from
every stored object on its next write, so each one is checked by name.
"""

from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from deploy import crdgen
from deploy.crdgen.kinds import KINDS
from tests.deploy.conftest import KUBERNETES_VERSION, generated_crds
from tests.deploy.crdcheck import compile_rule

CRDS = {c["spec"]["names"]["kind"]: c for c in generated_crds()}

SELECTORS = "selectors"
FIELDS: dict[tuple[str, str], dict[str, set[str]]] = {
    ("IPAddressPool", "v1beta1"): {
        "spec": {"addresses", "autoAssign", "avoidBuggyIPs", "serviceAllocation"},
        "spec.serviceAllocation": {
            "priority",
            "namespaces",
            "namespaceSelectors",
            "serviceSelectors",
        },
        "status": {"assignedIPv4", "assignedIPv6", "availableIPv4", "availableIPv6"},
    },
    ("L2Advertisement", "v1beta1"): {
        "spec": {
            "ipAddressPools",
            "ipAddressPoolSelectors",
            "nodeSelectors",
            "interfaces",
            "serviceSelectors",
            "preferredNodeSelectors",
        },
    },
    ("BGPAdvertisement", "v1beta1"): {
        "spec": {
            "aggregationLength",
            "aggregationLengthV6",
            "localPref",
            "communities",
            "ipAddressPools",
            "ipAddressPoolSelectors",
            "nodeSelectors",
            "peers",
            "serviceSelectors",
        },
    },
    ("BGPPeer", "v1beta2"): {
        "spec": {
            "myASN",
            "peerASN",
            "dynamicASN",
            "localASN",
            "peerAddress",
            "interface",
            "sourceAddress",
            "peerPort",
            "holdTime",
            "keepaliveTime",
            "connectTime",
            "routerID",
            "nodeSelectors",
            "password",
            "passwordSecret",
            "bfdProfile",
            "enableGracefulRestart",
            "ebgpMultiHop",
            "vrf",
            "disableMP",
            "dualStackAddressFamily",
        },
    },
    ("BGPPeer", "v1beta1"): {
        "spec": {
            "myASN",
            "peerASN",
            "peerAddress",
            "sourceAddress",
            "peerPort",
            "holdTime",
            "keepaliveTime",
            "routerID",
            "nodeSelectors",
            "password",
            "bfdProfile",
            "ebgpMultiHop",
        },
    },
    ("BFDProfile", "v1beta1"): {
        "spec": {
            "receiveInterval",
            "transmitInterval",
            "detectMultiplier",
            "echoInterval",
            "echoMode",
            "passiveMode",
            "minimumTtl",
        },
    },
    ("Community", "v1beta1"): {"spec": {"communities"}, "spec.communities[]": {"name", "value"}},
    ("ServiceL2Status", "v1beta1"): {
        "status": {"node", "serviceName", "serviceNamespace", "interfaces"}
    },
    ("ServiceBGPStatus", "v1beta1"): {
        "status": {"node", "serviceName", "serviceNamespace", "peers"}
    },
    ("ConfigurationState", "v1beta1"): {"status": {"conditions", "result", "errorSummary"}},
}


def _version(kind: str, name: str) -> dict[str, Any]:
    [version] = [v for v in CRDS[kind]["spec"]["versions"] if v["name"] == name]
    assert isinstance(version, dict)
    return version


def _node(kind: str, version: str, path: str) -> dict[str, Any]:
    node: dict[str, Any] = _version(kind, version)["schema"]["openAPIV3Schema"]
    for part in path.split("."):
        if part.endswith("[]"):
            node = node["properties"][part[:-2]]["items"]
        else:
            node = node["properties"][part]
    return node


def _walk(schema: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out = [(path, schema)]
    for name, sub in schema.get("properties", {}).items():
        out += _walk(sub, f"{path}.{name}")
    if "items" in schema:
        out += _walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        out += _walk(schema["additionalProperties"], f"{path}{{}}")
    return out


def test_checked_in_crds_are_current() -> None:
    assert crdgen.stale_files() == [], "run `python3 -m deploy.crdgen`"


def test_every_kind_of_the_reference_has_a_crd() -> None:
    assert set(CRDS) == {
        "IPAddressPool",
        "L2Advertisement",
        "BGPAdvertisement",
        "BGPPeer",
        "BFDProfile",
        "Community",
        "ServiceL2Status",
        "ServiceBGPStatus",
        "ConfigurationState",
        # Ours (issue 16): the facts each node publishes for explain and status.
        "BGPSessionState",
        "L2NodeState",
    }
    assert len(KINDS) == len(CRDS)


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_crd_is_a_valid_apiextensions_v1_object(kind: str) -> None:
    kubernetes_validate.validate(CRDS[kind], KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_crd_names_scope_and_status_subresource(kind: str) -> None:
    spec = CRDS[kind]["spec"]
    assert CRDS[kind]["metadata"]["name"] == f"{spec['names']['plural']}.metallb.io"
    assert spec["group"] == "metallb.io"
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["singular"] == kind.lower()
    assert spec["names"]["listKind"] == f"{kind}List"
    assert "shortNames" not in spec["names"]  # MetalLB defines none; neither do we
    for version in spec["versions"]:
        assert version["subresources"] == {"status": {}}
    assert sum(v["storage"] for v in spec["versions"]) == 1


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_schema_is_structural(kind: str) -> None:
    """Every node has a type (the API server refuses a CRD otherwise) and every rule compiles."""
    for version in CRDS[kind]["spec"]["versions"]:
        for path, node in _walk(version["schema"]["openAPIV3Schema"]):
            assert "type" in node, f"{kind} {version['name']}{path}: no type"
            for entry in node.get("x-kubernetes-validations", []):
                compile_rule(entry["rule"])
                assert entry["message"], f"{kind}{path}: rule without a message"


@pytest.mark.parametrize(("kind", "version"), sorted(FIELDS))
def test_every_field_of_the_reference_is_in_the_schema(kind: str, version: str) -> None:
    for path, fields in FIELDS[(kind, version)].items():
        have = set(_node(kind, version, path).get("properties", {}))
        assert have == fields, (
            f"{kind} {version} {path}: missing {fields - have}, extra {have - fields}"
        )


def test_bgppeer_versions_storage_and_conversion() -> None:
    spec = CRDS["BGPPeer"]["spec"]
    versions = {v["name"]: v for v in spec["versions"]}
    assert set(versions) == {"v1beta1", "v1beta2"}
    assert versions["v1beta2"]["storage"] and not versions["v1beta1"]["storage"]
    assert versions["v1beta1"]["served"] and versions["v1beta1"]["deprecated"]
    assert spec["conversion"]["strategy"] == "Webhook"
    service = spec["conversion"]["webhook"]["clientConfig"]["service"]
    assert service == {
        "name": "metallb-webhook-service",
        "namespace": "metallb-system",
        "path": "/convert",
    }
    assert set(_node("BGPPeer", "v1beta1", "spec")["required"]) == {
        "myASN",
        "peerASN",
        "peerAddress",
    }
    assert _node("BGPPeer", "v1beta2", "spec")["required"] == ["myASN"]


DEFAULTS = [
    ("IPAddressPool", "v1beta1", "spec.autoAssign", True),
    ("IPAddressPool", "v1beta1", "spec.avoidBuggyIPs", False),
    ("BGPAdvertisement", "v1beta1", "spec.aggregationLength", 32),
    ("BGPAdvertisement", "v1beta1", "spec.aggregationLengthV6", 128),
    ("BGPPeer", "v1beta2", "spec.peerPort", 179),
    ("BGPPeer", "v1beta2", "spec.disableMP", False),
    ("BGPPeer", "v1beta2", "spec.dualStackAddressFamily", False),
]


@pytest.mark.parametrize(("kind", "version", "path", "value"), DEFAULTS)
def test_defaults(kind: str, version: str, path: str, value: object) -> None:
    node = _node(kind, version, path)
    assert node["default"] == value and type(node["default"]) is type(value)


RANGES = [
    ("BGPAdvertisement", "v1beta1", "spec.aggregationLength", 1, None),
    ("BGPAdvertisement", "v1beta1", "spec.aggregationLengthV6", None, None),
    ("BGPPeer", "v1beta2", "spec.myASN", 0, 4294967295),
    ("BGPPeer", "v1beta2", "spec.peerASN", 0, 4294967295),
    ("BGPPeer", "v1beta2", "spec.localASN", 1, 4294967295),
    ("BGPPeer", "v1beta2", "spec.peerPort", 1, 16384),
    ("BFDProfile", "v1beta1", "spec.receiveInterval", 10, 60000),
    ("BFDProfile", "v1beta1", "spec.transmitInterval", 10, 60000),
    ("BFDProfile", "v1beta1", "spec.echoInterval", 10, 60000),
    ("BFDProfile", "v1beta1", "spec.detectMultiplier", 2, 255),
    ("BFDProfile", "v1beta1", "spec.minimumTtl", 1, 254),
    ("L2Advertisement", "v1beta1", "spec.preferredNodeSelectors[].weight", 1, 100),
]


@pytest.mark.parametrize(("kind", "version", "path", "low", "high"), RANGES)
def test_ranges(kind: str, version: str, path: str, low: int | None, high: int | None) -> None:
    node = _node(kind, version, path)
    assert node.get("minimum") == low and node.get("maximum") == high


def test_enums() -> None:
    assert _node("BGPPeer", "v1beta2", "spec.dynamicASN")["enum"] == ["internal", "external"]
    assert _node("ConfigurationState", "v1beta1", "status.result")["enum"] == [
        "Valid",
        "Invalid",
        "Unknown",
    ]


MESSAGES = [
    (
        "BGPAdvertisement",
        "v1beta1",
        "spec",
        "serviceSelectors and aggregationLength are mutually exclusive, can only be used together "
        "with default aggregationLength (32) and aggregationLengthV6 (128)",
    ),
    ("BGPPeer", "v1beta2", "spec.connectTime", "connect time should be between 1 seconds to 65535"),
    (
        "BGPPeer",
        "v1beta2",
        "spec.connectTime",
        "connect time should contain a whole number of seconds",
    ),
    (
        "BGPPeer",
        "v1beta2",
        "spec.enableGracefulRestart",
        "EnableGracefulRestart cannot be changed after creation",
    ),
    *[
        (kind, "v1beta1", f"status.{field}", "Value is immutable")
        for kind in ("ServiceL2Status", "ServiceBGPStatus")
        for field in ("node", "serviceName", "serviceNamespace")
    ],
]


@pytest.mark.parametrize(("kind", "version", "path", "message"), MESSAGES)
def test_cel_rule_messages_are_the_references(
    kind: str, version: str, path: str, message: str
) -> None:
    rules = _node(kind, version, path)["x-kubernetes-validations"]
    assert message in [r["message"] for r in rules]


COLUMNS = {
    "IPAddressPool": ["Auto Assign", "Avoid Buggy IPs", "Addresses"],
    "L2Advertisement": [
        "IPAddressPools",
        "IPAddressPool Selectors",
        "Interfaces",
        "Node Selectors",
    ],
    "BGPAdvertisement": ["IPAddressPools", "IPAddressPool Selectors", "Peers", "Node Selectors"],
    "BGPPeer": ["Address", "ASN", "BFD Profile", "Multi Hops"],
    "BFDProfile": ["Passive Mode", "Transmit Interval", "Receive Interval", "Multiplier"],
    "ServiceL2Status": ["Allocated Node", "Service Name", "Service Namespace"],
    "ServiceBGPStatus": ["Node", "Service Name", "Service Namespace"],
    "ConfigurationState": ["Result", "Error Summary", "Age"],
}


@pytest.mark.parametrize("kind", sorted(COLUMNS))
def test_printer_columns(kind: str) -> None:
    for version in CRDS[kind]["spec"]["versions"]:
        names = [c["name"] for c in version["additionalPrinterColumns"]]
        assert names == COLUMNS[kind]
