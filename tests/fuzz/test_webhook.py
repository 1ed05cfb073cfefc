"""The webhook's AdmissionReview and ConversionReview decoding, fed anything up to 64 KiB
(issue 15): raw bytes, any JSON, JSON nested as deep as the size allows, and reviews of every
path whose objects hold random values. The answer is always a reply the server can send: 200
with a review's response (allowed a boolean, the uid a string) or 400 naming what is malformed;
never an exception (which would close the connection without an answer)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gateway.webhook.admission import PATHS
from gateway.webhook.server import WebhookServer
from tests.fuzz.corpus import corpus_inputs
from tests.fuzz.messages import INTERESTING, MAX_INPUT
from tests.gateway.test_webhook import EXISTING, NS

FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ALL_PATHS = sorted([*PATHS, "/convert", "/other"])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.sampled_from(INTERESTING),
    st.text(max_size=16),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.one_of(st.sampled_from(INTERESTING), st.text(max_size=8)), inner,
                        max_size=5),
    ),
    max_leaves=40,
)  # fmt: skip
SPEC_KEYS = [
    "addresses", "autoAssign", "avoidBuggyIPs", "serviceAllocation", "myASN", "peerASN",
    "peerAddress", "peerPort", "sourceAddress", "routerID", "holdTime", "keepaliveTime",
    "password", "passwordSecret", "bfdProfile", "ebgpMultiHop", "nodeSelectors", "vrf",
    "ipAddressPools", "ipAddressPoolSelectors", "communities", "aggregationLength",
    "localPref", "peers", "interfaces", "disableMP", "dynamicASN", "interface",
]  # fmt: skip
objects = st.fixed_dictionaries(
    {},
    optional={
        "apiVersion": st.sampled_from(["metallb.io/v1beta1", "metallb.io/v1beta2"]),
        "kind": st.sampled_from([*PATHS.values(), "Other"]),
        "metadata": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {"name": st.one_of(st.sampled_from(INTERESTING), json_values)},
                optional={"namespace": st.sampled_from([NS, "default", ""])},
            ),
        ),
        "spec": st.one_of(
            json_values, st.dictionaries(st.sampled_from(SPEC_KEYS), json_values, max_size=6)
        ),
    },
)


SELECTOR = {"matchLabels": {"zone": "a"}, "matchExpressions": [{"key": "k", "operator": "In",
                                                                  "values": ["v"]}]}  # fmt: skip
VALID_SPECS: dict[str, dict[str, Any]] = {
    "IPAddressPool": {
        "addresses": ["192.0.2.0/28", "198.51.100.1-198.51.100.9", "2001:db8::/124"],
        "autoAssign": True,
        "avoidBuggyIPs": False,
        "serviceAllocation": {"priority": 1, "namespaces": ["demo"],
                              "namespaceSelectors": [SELECTOR], "serviceSelectors": [SELECTOR]},
    },
    "BGPPeer": {
        "myASN": 64500, "peerASN": 64501, "peerAddress": "10.0.0.2", "peerPort": 179,
        "holdTime": "90s", "keepaliveTime": "30s", "bfdProfile": "fast", "ebgpMultiHop": True,
        "nodeSelectors": [SELECTOR], "passwordSecret": {"name": "s", "namespace": NS},
    },
    "BGPAdvertisement": {
        "ipAddressPools": ["pool1"], "aggregationLength": 32, "aggregationLengthV6": 128,
        "localPref": 100, "communities": ["65000:1", "large:1:2:3", "alias"],
        "peers": ["peer1"], "nodeSelectors": [SELECTOR], "ipAddressPoolSelectors": [SELECTOR],
    },
    "L2Advertisement": {
        "ipAddressPools": ["pool1"], "interfaces": ["eth0"], "nodeSelectors": [SELECTOR],
    },
    "Community": {"communities": [{"name": "alias", "value": "65000:100"}]},
    "BFDProfile": {"receiveInterval": 300, "transmitInterval": 300, "detectMultiplier": 3},
}  # fmt: skip


@st.composite
def near_spec(draw: st.DrawFn, kind: str) -> Any:
    """A valid spec of `kind` with one to three values (at any depth) replaced or removed."""
    spec: Any = json.loads(json.dumps(VALID_SPECS.get(kind, {})))
    for _ in range(draw(st.integers(1, 3))):
        node = spec
        while isinstance(node, dict | list) and node and draw(st.booleans()):
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            child = node[draw(st.sampled_from(keys))]
            if not isinstance(child, dict | list):
                break
            node = child
        if isinstance(node, dict):
            key = draw(st.one_of(st.sampled_from([*node, *SPEC_KEYS]), st.text(max_size=8)))
            if draw(st.integers(0, 4)) == 0:
                node.pop(key, None)
            else:
                node[key] = draw(json_values)
        elif isinstance(node, list):
            node.append(draw(json_values))
    return spec


@st.composite
def reviews(draw: st.DrawFn) -> tuple[str, bytes]:
    path = draw(st.sampled_from(ALL_PATHS))
    kind = PATHS.get(path, "IPAddressPool")
    shaped = st.builds(
        lambda name, spec: {
            "apiVersion": "metallb.io/v1beta1",
            "kind": kind,
            "metadata": {"name": name, "namespace": NS},
            "spec": spec,
        },
        st.sampled_from(["pool1", "peer1", "fast", "x", "", "a" * 300]),
        near_spec(kind),
    )
    if path == "/convert":
        request: Any = {
            "uid": draw(scalars),
            "desiredAPIVersion": draw(st.sampled_from(["metallb.io/v1beta1", "x"])),
            "objects": draw(st.one_of(st.lists(shaped, max_size=3), json_values)),
        }
        review_kind = "ConversionReview"
    else:
        request = draw(
            st.fixed_dictionaries(
                {"uid": st.uuids().map(str), "object": st.one_of(shaped, shaped, objects)},
                optional={
                    "operation": st.sampled_from(["CREATE", "UPDATE", "DELETE", "CONNECT"]),
                    "namespace": st.sampled_from([NS, NS, "default"]),
                    "name": scalars,
                    "oldObject": st.one_of(shaped, json_values),
                },
            )
        )
        request.setdefault("operation", "CREATE")
        review_kind = "AdmissionReview"
    body = {"apiVersion": "admission.k8s.io/v1", "kind": review_kind, "request": request}
    return path, json.dumps(body).encode()


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.fixture(scope="module")
def server() -> Iterator[WebhookServer]:
    webhook = WebhookServer("127.0.0.1:0", lambda: EXISTING, NS)
    webhook.start()  # no certificate: a connection is closed at once; respond() is called here
    try:
        yield webhook
    finally:
        webhook.stop()


def _answers(server: WebhookServer, path: str, raw: bytes) -> None:
    reply, code = server.respond(path, raw)
    json.dumps(reply)  # what the server sends
    assert code in (200, 400), (code, reply)
    if code == 400:
        assert isinstance(reply["error"], str) and len(reply["error"]) <= 1100
    elif path != "/convert":
        response = reply["response"]
        assert isinstance(response["allowed"], bool) and isinstance(response["uid"], str)


def test_the_kept_inputs_are_answered(server: WebhookServer) -> None:
    for path in ALL_PATHS:
        for raw in corpus_inputs("webhook"):
            _answers(server, path, raw)


@FUZZ
@given(st.sampled_from(ALL_PATHS), st.binary(max_size=MAX_INPUT))
@example("/validate-metallb-io-v1beta1-ipaddresspool", _nested(MAX_INPUT // 2))
@example("/convert", b'{"request": ' * 5000 + b"{}" + b"}" * 5000)
def test_any_bytes_are_answered(server: WebhookServer, path: str, raw: bytes) -> None:
    _answers(server, path, raw)


@FUZZ
@given(st.sampled_from(ALL_PATHS), json_values, st.integers(1, MAX_INPUT // 2))
def test_any_json_and_deep_nesting_are_answered(
    server: WebhookServer, path: str, value: Any, depth: int
) -> None:
    _answers(server, path, json.dumps(value).encode())
    _answers(server, path, _nested(depth))


@settings(FUZZ, max_examples=200)
@given(reviews())
def test_reviews_with_random_objects_are_answered(
    server: WebhookServer, review: tuple[str, bytes]
) -> None:
    path, raw = review
    _answers(server, path, raw[:MAX_INPUT])  # a cut review is malformed JSON: a 400
    _answers(server, path, raw)
