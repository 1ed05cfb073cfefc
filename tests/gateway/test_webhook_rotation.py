"""The webhook certificate rotator against the fake API server, and the server serving its pair.

The fake is seeded with the shipped objects (deploy/base: the empty Secret, the webhook
configuration, the bgppeers CRD); clients verify the served certificate against the Secret's CA
with the Service's DNS name, over real TLS on 127.0.0.1.
"""

import asyncio
import base64
import contextlib
import datetime
import functools
import json
import logging
import os
import signal
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509

from gateway.kube.webhook_certs import WebhookCertRotator
from gateway.webhook.certs import (
    CA_CERT,
    CA_KEY,
    KEYS,
    LOOKAHEAD,
    SERVING_VALIDITY,
    TLS_CERT,
    TLS_KEY,
    Action,
    CertPolicy,
    KeyPair,
    decide,
    issue_serving,
    new_ca,
)
from gateway.webhook.server import WebhookServer, watch_cert_dir
from tests.conftest import ROOT, require_binary
from tests.fakekube import FakeKube, wait_for
from tests.fakekube.errors import KubeError
from tests.fakekube.fake import write_kubeconfig
from tests.gateway import polling

NS = "metallb-system"
# Where the shipped Secret lives: a namespace of its own, which the speaker cannot read.
SECRET_NS = "metallb-webhook"
DNS = "metallb-webhook-service.metallb-system.svc"
SECRET = "metallb-webhook-cert"
VWC = "validatingwebhookconfigurations.admissionregistration.k8s.io"
CRD = "customresourcedefinitions.apiextensions.k8s.io"
POOL_PATH = "/validate-metallb-io-v1beta1-ipaddresspool"
POLICY = CertPolicy.for_service("metallb-webhook-service", NS)


def _docs(path: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((ROOT / path).read_text()) if d]


def seed(kube: FakeKube, *, secret: bool = True, webhooks: bool = True) -> None:
    """The objects `kubectl apply -k deploy/overlays/...` creates that the rotator touches."""
    for namespace in _docs("deploy/base/namespace.yaml"):
        if namespace["metadata"]["name"] == SECRET_NS:
            with contextlib.suppress(KubeError):  # seeded twice: the namespace exists
                kube.create(namespace)
    if secret:
        [shipped] = [d for d in _docs("deploy/base/controller.yaml") if d["kind"] == "Secret"]
        assert shipped["metadata"]["namespace"] == SECRET_NS
        assert "data" not in shipped  # shipped empty: the controller fills it
        kube.create(shipped)
    if webhooks:
        for doc in _docs("deploy/base/webhooks.yaml"):
            kube.create(doc)
        kube.create(_docs("deploy/base/crds/metallb.io_bgppeers.yaml")[0])


def secret_data(kube: FakeKube) -> dict[str, bytes]:
    data = kube.get("secrets", SECRET, SECRET_NS).get("data") or {}
    return {k: base64.b64decode(v) for k, v in data.items()}


def put_secret_data(kube: FakeKube, data: dict[str, bytes]) -> None:
    secret = kube.get("secrets", SECRET, SECRET_NS)
    secret["data"] = {k: base64.b64encode(v).decode() for k, v in data.items()}
    kube.update(secret)


def ca_bundles(kube: FakeKube) -> list[str]:
    """Every caBundle the rotator owns: one per webhook, then the CRD's conversion webhook."""
    config = kube.get(VWC, "metallb-webhook-configuration")
    crd = kube.get(CRD, "bgppeers.metallb.io")
    hooks = [h["clientConfig"].get("caBundle", "") for h in config["webhooks"]]
    return [*hooks, crd["spec"]["conversion"]["webhook"]["clientConfig"].get("caBundle", "")]


def resource_versions(kube: FakeKube) -> list[str]:
    return [
        kube.get("secrets", SECRET, SECRET_NS)["metadata"]["resourceVersion"],
        kube.get(VWC, "metallb-webhook-configuration")["metadata"]["resourceVersion"],
        kube.get(CRD, "bgppeers.metallb.io")["metadata"]["resourceVersion"],
    ]


def writes(kube: FakeKube) -> list[str]:
    return [f"{r.method} {r.path}" for r in kube.requests if r.method != "GET"]


def admit(port: int, ca_pem: bytes, tmp_path: Path) -> tuple[dict[str, Any], bytes]:
    """POST an AdmissionReview over TLS verified against `ca_pem` for the Service's DNS name."""
    cafile = tmp_path / "ca.crt"
    cafile.write_bytes(ca_pem)
    context = ssl.create_default_context(cafile=str(cafile))
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u-1",
            "operation": "CREATE",
            "namespace": NS,
            "name": "pool",
            "object": {
                "metadata": {"name": "pool", "namespace": NS},
                "spec": {"addresses": ["192.0.2.0/24"]},
            },
        },
    }
    body = json.dumps(review).encode()
    head = (
        f"POST {POOL_PATH} HTTP/1.1\r\nHost: {DNS}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=DNS) as tls,
    ):
        peer = tls.getpeercert(binary_form=True)
        tls.sendall(head + body)
        reply = b""
        while chunk := tls.recv(65536):
            reply += chunk
    status, _, payload = reply.partition(b"\r\n\r\n")
    assert status.split(b"\r\n")[0].endswith(b"200 OK"), status
    assert peer is not None
    answer: dict[str, Any] = json.loads(payload)
    return answer, peer


def der(pem: bytes) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)


def served(server: WebhookServer) -> tuple[bytes, bytes] | None:
    return server.certificate  # read through a call: mypy does not narrow it for ever


@pytest.fixture
def kube() -> Iterator[FakeKube]:
    with FakeKube() as fake:
        yield fake


@pytest.fixture
def api(kube: FakeKube) -> Iterator[Any]:
    client = kube.api_client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def webhook() -> Iterator[WebhookServer]:
    server = WebhookServer("127.0.0.1:0", lambda: {}, NS)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# The rotator and the webhook work over HTTP and files.
until = functools.partial(polling.until, timeout=20.0, step=0.02)


def test_first_start_creates_the_certificate_injects_the_ca_and_serves(
    arun: Callable[..., Any], kube: FakeKube, api: Any, webhook: WebhookServer, tmp_path: Path
) -> None:
    seed(kube)
    # No certificate yet: the port is bound, connections are closed at once.
    some_ca = new_ca(POLICY, datetime.datetime.now(datetime.UTC)).cert
    with pytest.raises((ConnectionError, ssl.SSLEOFError)):
        admit(webhook.port, some_ca, tmp_path)

    async def scenario() -> None:
        stop = asyncio.Event()
        rotator = WebhookCertRotator(api, NS, secret_namespace=SECRET_NS)
        task = asyncio.create_task(rotator.run(webhook.set_certificate, stop, resync=0.05))
        try:
            await until(lambda: webhook.certificate is not None)
        finally:
            stop.set()
            await task

    arun(scenario())
    data = secret_data(kube)
    assert set(data) == set(KEYS)
    assert decide(POLICY, data, datetime.datetime.now(datetime.UTC)).action is Action.KEEP
    ca = x509.load_pem_x509_certificate(data[CA_CERT])
    assert ca.subject.rfc4514_string() == "O=metallb,CN=cert"
    bundle = base64.b64encode(data[CA_CERT]).decode()
    assert ca_bundles(kube) == [bundle] * 7  # six webhooks and the conversion webhook
    assert webhook.certificate == (data[TLS_CERT], data[TLS_KEY])
    answer, peer = admit(webhook.port, data[CA_CERT], tmp_path)
    assert answer["kind"] == "AdmissionReview"
    assert answer["response"] == {"uid": "u-1", "allowed": True}
    assert peer == der(data[TLS_CERT])


def test_a_second_start_keeps_a_valid_secret(kube: FakeKube, api: Any) -> None:
    seed(kube)
    first = WebhookCertRotator(api, NS, secret_namespace=SECRET_NS).sync()
    before, data = resource_versions(kube), secret_data(kube)
    kube.requests.clear()
    assert WebhookCertRotator(api, NS, secret_namespace=SECRET_NS).sync() == first
    assert resource_versions(kube) == before and secret_data(kube) == data
    assert writes(kube) == []


def test_an_expiring_certificate_is_renewed_and_served_without_restart(
    arun: Callable[..., Any], kube: FakeKube, api: Any, webhook: WebhookServer, tmp_path: Path
) -> None:
    seed(kube)
    rotator = WebhookCertRotator(api, NS, secret_namespace=SECRET_NS)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(rotator.run(webhook.set_certificate, stop, resync=0.05))
        try:
            await until(lambda: webhook.certificate is not None)
            first = webhook.certificate
            assert first is not None
            _, peer = await asyncio.to_thread(
                admit, webhook.port, secret_data(kube)[CA_CERT], tmp_path
            )
            assert peer == der(first[0])
            # Ten months later: the serving certificate is valid, but for less than 90 days.
            data = secret_data(kube)
            issued = datetime.datetime.now(datetime.UTC) - SERVING_VALIDITY + LOOKAHEAD / 2
            old = issue_serving(POLICY, KeyPair(data[CA_CERT], data[CA_KEY]), issued)
            put_secret_data(kube, {**data, TLS_CERT: old.cert, TLS_KEY: old.key})
            await until(lambda: webhook.certificate not in (first, (old.cert, old.key)))
        finally:
            stop.set()
            await task

    arun(scenario())
    data = secret_data(kube)
    assert webhook.certificate == (data[TLS_CERT], data[TLS_KEY])
    _, peer = admit(webhook.port, data[CA_CERT], tmp_path)  # the same server, the new pair
    assert peer == der(data[TLS_CERT])
    assert ca_bundles(kube) == [base64.b64encode(data[CA_CERT]).decode()] * 7


def test_rotation_follows_now(kube: FakeKube, api: Any) -> None:
    seed(kube)
    now = datetime.datetime.now(datetime.UTC)
    clock = [now]
    rotator = WebhookCertRotator(api, NS, secret_namespace=SECRET_NS, clock=lambda: clock[0])
    rotator.sync()
    first = secret_data(kube)
    # Within 90 days of the serving certificate's end: only it is re-issued, by the same CA.
    clock[0] = now + SERVING_VALIDITY - LOOKAHEAD + datetime.timedelta(days=1)
    cert, _ = rotator.sync()
    second = secret_data(kube)
    assert cert == second[TLS_CERT] != first[TLS_CERT]
    assert (second[CA_CERT], second[CA_KEY]) == (first[CA_CERT], first[CA_KEY])
    assert decide(POLICY, second, clock[0]).action is Action.KEEP
    # Within 90 days of the CA's end: everything, and every caBundle follows.
    clock[0] = now + datetime.timedelta(days=10 * 365 - 80)
    rotator.sync()
    third = secret_data(kube)
    assert third[CA_CERT] != first[CA_CERT]
    assert ca_bundles(kube) == [base64.b64encode(third[CA_CERT]).decode()] * 7


def test_garbage_is_replaced_and_other_keys_kept(kube: FakeKube, api: Any) -> None:
    seed(kube)
    put_secret_data(kube, {CA_CERT: b"garbage", TLS_KEY: b"\x00\xff", "note": b"mine"})
    WebhookCertRotator(api, NS, secret_namespace=SECRET_NS).sync()
    data = secret_data(kube)
    assert decide(POLICY, data, datetime.datetime.now(datetime.UTC)).action is Action.KEEP
    assert data["note"] == b"mine"


def test_a_deleted_secret_is_created(kube: FakeKube, api: Any) -> None:
    seed(kube, secret=False)
    pair = WebhookCertRotator(api, NS, secret_namespace=SECRET_NS).sync()
    assert pair == (secret_data(kube)[TLS_CERT], secret_data(kube)[TLS_KEY])
    assert [r.method for r in kube.requests_to("POST", "/secrets$")] == ["POST"]


class _Interleaved(WebhookCertRotator):
    """A replica whose first read of the Secret is followed by a whole pass of `other`."""

    other: WebhookCertRotator

    def _read_secret(self) -> dict[str, Any] | None:
        secret = super()._read_secret()
        if not getattr(self, "done", False):
            self.done = True
            self.other.sync()  # wins the race: our write will conflict
        return secret


@pytest.mark.parametrize("shipped", [True, False], ids=["replace-409", "create-409"])
def test_racing_replicas_use_the_winners_certificate(
    kube: FakeKube, api: Any, caplog: pytest.LogCaptureFixture, shipped: bool
) -> None:
    seed(kube, secret=shipped)
    loser = _Interleaved(api, NS, secret_namespace=SECRET_NS)
    loser.other = WebhookCertRotator(api, NS, secret_namespace=SECRET_NS)
    caplog.set_level(logging.INFO, logger="gateway.kube.webhook_certs")
    pair = loser.sync()
    data = secret_data(kube)
    assert pair == (data[TLS_CERT], data[TLS_KEY])  # the winner's, read back after the 409
    assert "changed while being written (409)" in caplog.text
    method = "PUT" if shipped else "POST"
    assert len(kube.requests_to(method, f"/secrets{'/' + SECRET if shipped else ''}$")) == 2
    assert ca_bundles(kube) == [base64.b64encode(data[CA_CERT]).decode()] * 7


def test_two_replicas_started_together_agree(kube: FakeKube, api: Any) -> None:
    seed(kube)
    barrier = threading.Barrier(2)
    results: list[tuple[bytes, bytes]] = []

    def replica() -> None:
        client = kube.api_client()
        try:
            barrier.wait()
            results.append(WebhookCertRotator(client, NS, secret_namespace=SECRET_NS).sync())
        finally:
            client.close()

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    data = secret_data(kube)
    assert results == [(data[TLS_CERT], data[TLS_KEY])] * 2
    assert ca_bundles(kube) == [base64.b64encode(data[CA_CERT]).decode()] * 7


def test_missing_webhook_objects_are_skipped_then_injected(
    kube: FakeKube, api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    seed(kube, webhooks=False)
    rotator = WebhookCertRotator(api, NS, secret_namespace=SECRET_NS)
    with caplog.at_level(logging.WARNING, logger="gateway.kube.webhook_certs"):
        rotator.sync()
        rotator.sync()
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "ValidatingWebhookConfiguration metallb-webhook-configuration not found: its caBundle "
        "is not injected (tried again later)",
        "CustomResourceDefinition bgppeers.metallb.io not found: its caBundle is not injected "
        "(tried again later)",
    ]  # once each, not at every pass
    assert decide(POLICY, secret_data(kube), datetime.datetime.now(datetime.UTC)).action is (
        Action.KEEP
    )
    seed(kube, secret=False)
    rotator.sync()
    assert ca_bundles(kube) == [base64.b64encode(secret_data(kube)[CA_CERT]).decode()] * 7


def test_a_reset_ca_bundle_is_injected_again(kube: FakeKube, api: Any) -> None:
    seed(kube)
    rotator = WebhookCertRotator(api, NS, secret_namespace=SECRET_NS)
    rotator.sync()
    config = kube.get(VWC, "metallb-webhook-configuration")
    del config["webhooks"][2]["clientConfig"]["caBundle"]
    kube.update(config)
    kube.requests.clear()
    rotator.sync()
    assert ca_bundles(kube) == [base64.b64encode(secret_data(kube)[CA_CERT]).decode()] * 7
    [patch] = kube.requests_to("PATCH", "/validatingwebhookconfigurations/")
    assert [op["path"] for op in patch.body] == [
        "/webhooks/2/name",
        "/webhooks/2/clientConfig/caBundle",
    ]


def test_a_certificate_folder_is_reloaded_when_it_changes(
    arun: Callable[..., Any],
    webhook: WebhookServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """--disable-cert-rotation: the mounted Secret's files, reloaded as kubelet replaces them."""
    folder = tmp_path / "certs"
    folder.mkdir()
    now = datetime.datetime.now(datetime.UTC)
    ca = new_ca(POLICY, now)
    first, second = issue_serving(POLICY, ca, now), issue_serving(POLICY, ca, now)

    def put(pair: KeyPair) -> None:
        (folder / "tls.key").write_bytes(pair.key)
        (folder / "tls.crt").write_bytes(pair.cert)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(watch_cert_dir(folder, webhook, stop, interval=0.05))
        try:
            await asyncio.sleep(0.2)  # empty folder: no certificate, said once
            assert served(webhook) is None
            put(first)
            await until(lambda: webhook.certificate == (first.cert, first.key))
            _, peer = await asyncio.to_thread(admit, webhook.port, ca.cert, tmp_path)
            assert peer == der(first.cert)
            (folder / "tls.key").write_bytes(second.key)  # half-way: the pair does not load
            # Longer than the folder watcher's read interval: a reload of the bad pair was tried.
            await asyncio.sleep(0.2)
            assert webhook.certificate == (first.cert, first.key)
            (folder / "tls.crt").write_bytes(second.cert)
            await until(lambda: webhook.certificate == (second.cert, second.key))
            _, peer = await asyncio.to_thread(admit, webhook.port, ca.cert, tmp_path)
            assert peer == der(second.cert)
        finally:
            stop.set()
            await task

    with caplog.at_level(logging.ERROR, logger="gateway.webhook.server"):
        arun(scenario())
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2, errors  # no certificate; a pair that does not load; once each
    assert errors[0].startswith("webhooks have no certificate: no tls.crt/tls.key in")
    assert "does not load" in errors[1]


# --------------------------------------------------------------- the process, through its CLI


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.parametrize("rotation", [True, False], ids=["rotation", "disable-cert-rotation"])
def test_the_controller_process(kube: FakeKube, tmp_path: Path, rotation: bool) -> None:
    exe = require_binary("metallb-grpc")
    seed(kube)
    cert_dir = tmp_path / "certs"
    cert_dir.mkdir()
    ca = new_ca(POLICY, datetime.datetime.now(datetime.UTC))
    served = issue_serving(POLICY, ca, datetime.datetime.now(datetime.UTC))
    (cert_dir / "tls.crt").write_bytes(served.cert)
    (cert_dir / "tls.key").write_bytes(served.key)
    sock, port = tmp_path / "ipam.sock", _free_port()
    ipam = subprocess.Popen(
        [exe, "ipam", "--listen", f"unix:{sock}", "--metrics-listen", ""],
        stderr=subprocess.DEVNULL,
    )
    args = [
        exe,
        "gateway",
        "controller",
        f"--kubeconfig={write_kubeconfig(tmp_path / 'kubeconfig', kube.url)}",
        f"--ipam=unix:{sock}",
        "--listen=127.0.0.1:0",
        "--metrics-listen=",
        f"--webhook-listen=127.0.0.1:{port}",
        f"--webhook-cert-dir={cert_dir}",
        "--namespace=metallb-system",
        f"--webhook-secret-namespace={SECRET_NS}",
    ]
    controller = subprocess.Popen(
        [*args] if rotation else [*args, "--disable-cert-rotation"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        if rotation:

            def filled() -> dict[str, bytes] | None:
                data = secret_data(kube)
                return data if data.get(TLS_CERT) else None

            data = wait_for(filled, timeout=60, message="the Secret to be filled")
            assert data is not None
            ca_pem, expected = data[CA_CERT], data[TLS_CERT]
        else:
            ca_pem, expected = ca.cert, served.cert

        def answered() -> bytes | None:
            try:
                return admit(port, ca_pem, tmp_path)[1]
            except (OSError, AssertionError):
                return None

        peer = wait_for(answered, timeout=60, message="the webhook to answer")
        assert peer == der(expected)
        if rotation:
            wait_for(lambda: ca_bundles(kube) == [base64.b64encode(ca_pem).decode()] * 7)
        else:
            assert "data" not in kube.get("secrets", SECRET, SECRET_NS)
            assert ca_bundles(kube) == [""] * 7
            owned = (
                "/secrets/",
                "/validatingwebhookconfigurations/",
                "/customresourcedefinitions/",
            )
            assert not [r for r in kube.requests if any(p in r.path for p in owned)]
        controller.send_signal(signal.SIGTERM)
        assert controller.wait(timeout=30) == 0
    finally:
        for proc in (controller, ipam):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if controller.stderr is not None:
            controller.stderr.close()
