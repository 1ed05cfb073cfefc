"""The admission webhooks over real HTTPS, with MetalLB's decisions and messages (§2.4)."""

import json
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from gateway.webhook.admission import DISABLE_MP_WARNING
from gateway.webhook.server import WebhookServer
from tests.conftest import require_binary

NS = "metallb-system"
EXISTING: dict[str, list[dict[str, Any]]] = {
    "IPAddressPool": [
        {"metadata": {"name": "pool1", "namespace": NS}, "spec": {"addresses": ["1.1.1.0/28"]}}
    ],
    "BGPPeer": [
        {
            "metadata": {"name": "peer1", "namespace": NS},
            "spec": {
                "myASN": 64500,
                "peerASN": 64501,
                "peerAddress": "10.0.0.1",
                "bfdProfile": "fast",
            },
        }
    ],
    "Node": [{"metadata": {"name": "node-1"}}],
}


@pytest.fixture(scope="module")
def webhook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ssl.SSLContext]]:
    certs = tmp_path_factory.mktemp("certs")
    subprocess.run(
        [
            require_binary("openssl"),
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(certs / "tls.key"),
            "-out",
            str(certs / "tls.crt"),
        ],
        check=True,
        capture_output=True,
    )

    def existing() -> Mapping[str, Sequence[dict[str, Any]]]:
        return EXISTING

    pair = ((certs / "tls.crt").read_bytes(), (certs / "tls.key").read_bytes())
    server = WebhookServer("127.0.0.1:0", existing, NS, pair)
    server.start()
    context = ssl.create_default_context(cafile=str(certs / "tls.crt"))
    try:
        yield f"https://127.0.0.1:{server.port}", context
    finally:
        server.stop()


def admit(
    webhook: tuple[str, ssl.SSLContext],
    path: str,
    obj: dict[str, Any],
    operation: str = "CREATE",
    namespace: str = NS,
) -> dict[str, Any]:
    url, context = webhook
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u-1",
            "operation": operation,
            "namespace": namespace,
            "name": obj["metadata"]["name"],
            "object": obj,
            "oldObject": obj,
        },
    }
    req = urllib.request.Request(
        url + path, json.dumps(review).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, context=context, timeout=10) as resp:
        body: dict[str, Any] = json.loads(resp.read())
    assert body["kind"] == "AdmissionReview" and body["response"]["uid"] == "u-1"
    response: dict[str, Any] = body["response"]
    return response


def obj(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": NS}, "spec": spec}


POOL = "/validate-metallb-io-v1beta1-ipaddresspool"
PEER = "/validate-metallb-io-v1beta2-bgppeer"
BGPADV = "/validate-metallb-io-v1beta1-bgpadvertisement"
COMMUNITY = "/validate-metallb-io-v1beta1-community"
BFD = "/validate-metallb-io-v1beta1-bfdprofile"


def test_admission_decisions(webhook: tuple[str, ssl.SSLContext]) -> None:
    r = admit(webhook, POOL, obj("pool2", {"addresses": ["1.1.1.8/29"]}))
    assert not r["allowed"] and "overlaps with already defined CIDR" in r["status"]["message"]
    assert admit(webhook, POOL, obj("pool2", {"addresses": ["2.2.2.0/24"]}))["allowed"]
    # Replacing the object of the same name: shrinking pool1 is fine.
    assert admit(webhook, POOL, obj("pool1", {"addresses": ["1.1.1.0/29"]}), "UPDATE")["allowed"]
    r = admit(webhook, POOL, obj("pool3", {"addresses": ["3.3.3.0/24"]}), namespace="default")
    assert r["status"]["message"] == "resource must be created in metallb-system namespace"
    r = admit(webhook, PEER, obj("peer2", {"myASN": 64500, "peerASN": 1, "peerAddress": "x"}))
    assert r["status"]["message"] == 'parsing peer peer2 invalid BGPPeer address "x"'
    # Cross-object references never reject: the BFD profile does not exist, that is fine here.
    r = admit(
        webhook,
        PEER,
        obj(
            "peer2",
            {
                "myASN": 64500,
                "peerASN": 1,
                "peerAddress": "10.0.0.2",
                "bfdProfile": "nope",
                "passwordSecret": {"name": "s"},
            },
        ),
    )
    assert r["allowed"]
    r = admit(
        webhook,
        PEER,
        obj("peer3", {"disableMP": True, "peerAddress": "not-an-ip"}),
        namespace="elsewhere",
    )
    assert r["allowed"] and r["warnings"] == [DISABLE_MP_WARNING]
    r = admit(webhook, BGPADV, obj("adv", {"aggregationLength": 26}))
    assert r["status"]["message"] == (
        "invalid aggregation length 26: prefix 28 in this pool is more specific than the "
        "aggregation length for addresses 1.1.1.0/28"
    )
    assert admit(webhook, BGPADV, obj("adv", {"communities": ["some-alias", "1:1"]}))["allowed"]
    r = admit(webhook, COMMUNITY, obj("c", {"communities": [{"name": "x", "value": "99999999:1"}]}))
    assert "invalid community value: invalid section" in r["status"]["message"]
    r = admit(webhook, BFD, obj("fast", {}), "DELETE")
    assert r["status"]["message"] == "failed to delete BFDProfile fast, used by BGPPeer peer1"
    assert admit(webhook, BFD, obj("unused", {}), "DELETE")["allowed"]


def test_bgppeer_conversion(webhook: tuple[str, ssl.SSLContext]) -> None:
    url, context = webhook
    peer = {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "BGPPeer",
        "metadata": {"name": "p", "namespace": NS},
        "spec": {"myASN": 1, "peerASN": 2, "peerAddress": "10.0.0.9"},
    }
    review = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "ConversionReview",
        "request": {"uid": "c-1", "desiredAPIVersion": "metallb.io/v1beta2", "objects": [peer]},
    }
    req = urllib.request.Request(
        url + "/convert", json.dumps(review).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, context=context, timeout=10) as resp:
        body = json.loads(resp.read())
    (converted,) = body["response"]["convertedObjects"]
    assert converted["apiVersion"] == "metallb.io/v1beta2"
    assert converted["spec"] == peer["spec"]  # unset timers stay unset (quirk 7 fixed)
    assert body["response"]["result"] == {"status": "Success"}
