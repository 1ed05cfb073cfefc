"""Keeps the webhook certificate: the Secret, the caBundles, and what the webhook server serves.

MetalLB's controller runs cert-controller's rotator; this is the same job with the official
client (the policy itself — what is valid, what to regenerate — is gateway/webhook/certs.py):

1. Read the Secret `--webhook-secret` (default `metallb-webhook-cert`). If its content is not a
   valid CA plus serving certificate for `<--cert-service-name>.<namespace>.svc` for the next
   90 days, write new content (a new CA, or only a new serving certificate from the same CA).
   The write is a replace carrying the resourceVersion just read, or a create when the Secret
   does not exist: when both controller replicas race, one wins and the other gets 409 Conflict
   (or AlreadyExists), reads again, finds the winner's valid content and keeps it. A Secret that
   already holds a valid pair is never written.
2. Put the CA (`ca.crt`) into every webhook's `clientConfig.caBundle` of the
   ValidatingWebhookConfiguration `metallb-webhook-configuration` and into
   `spec.conversion.webhook.clientConfig.caBundle` of CRD `bgppeers.metallb.io`, each a JSON
   patch of the fields that differ (with a `test` of the webhook's name, so a list that changed
   meanwhile fails with 422 and is read again). A missing object is skipped with a log line
   (cert-controller does the same); it is tried again at the next pass.
3. Hand `tls.crt`/`tls.key` to the webhook server, in memory.

Why in memory, not files: cert-controller writes nothing to disk; the Secret is mounted into the
pod and controller-runtime's webhook server reloads the files when kubelet updates the mount,
which takes up to a minute or two after the write (kubelet's sync period plus its cache TTL), so
a fresh install refuses every metallb.io write for that long. Here the root file system is
read-only and the mount is the only place those files could be; writing elsewhere would only
duplicate a private key. The rotator has the bytes the moment it has written or read them, so
the server serves them at once and the mount is needed only with `--disable-cert-rotation`.

Both replicas run this, not only the leader: each serves the webhooks (the Service selects every
controller pod), so each needs the current certificate. A pass runs every `resync` seconds
(default 60): a GET of the Secret, the webhook configuration and the CRD, and writes only when
something is wrong. The pass replaces what cert-controller gets from its informers (a caBundle
reset by a re-created webhook configuration is repaired within a minute; a replica picks up the
certificate the other one rotated within a minute, about as soon as kubelet would update its
mount) and its 12-hour rotation check (the validity check costs microseconds, so it runs every
pass). A CA change (every ten years, or a damaged Secret) leaves a window of up to `resync`
seconds in which the other replica still serves a certificate from the old CA; a serving
certificate renewal, the yearly case, leaves none, since the CA stays.
"""

import asyncio
import base64
import contextlib
import datetime
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gateway.webhook.certs import (
    CA_CERT,
    TLS_CERT,
    TLS_KEY,
    Action,
    CertPolicy,
    decide,
    renew,
)

log = logging.getLogger(__name__)

WEBHOOK_SECRET = "metallb-webhook-cert"
CERT_SERVICE_NAME = "metallb-webhook-service"
WEBHOOK_CONFIGURATION = "metallb-webhook-configuration"
CONVERSION_CRDS = ("bgppeers.metallb.io",)
RESYNC = 60.0
# Writes lost to the other replica before giving up until the next pass (one is the norm).
ATTEMPTS = 5

JSON_PATCH = "application/json-patch+json"
# Seconds per API request: a hung request must not hold a pass (or the shutdown) for ever.
REQUEST_TIMEOUT = 30
# Every call: raw JSON in and out (the whole object, unknown fields included), with a timeout.
RAW: dict[str, Any] = {"_preload_content": False, "_request_timeout": REQUEST_TIMEOUT}

Install = Callable[[bytes, bytes], None]


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _decode(secret: dict[str, Any] | None) -> dict[str, bytes]:
    data = (secret or {}).get("data") or {}
    return {k: base64.b64decode(v) for k, v in data.items()}


def _encode(data: dict[str, bytes]) -> dict[str, str]:
    return {k: base64.b64encode(v).decode() for k, v in data.items()}


class WebhookCertRotator:
    """One rotator per controller process; `sync()` is one blocking pass, `run()` the loop."""

    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        *,
        secret_name: str = WEBHOOK_SECRET,
        secret_namespace: str | None = None,
        service_name: str = CERT_SERVICE_NAME,
        webhook_configuration: str = WEBHOOK_CONFIGURATION,
        conversion_crds: Sequence[str] = CONVERSION_CRDS,
        clock: Callable[[], datetime.datetime] = _utcnow,
    ) -> None:
        self._core: Any = client.CoreV1Api(api)
        self._admission: Any = client.AdmissionregistrationV1Api(api)
        self._crds: Any = client.ApiextensionsV1Api(api)
        self.namespace = namespace
        self.secret_name = secret_name
        # The Secret may live in a namespace of its own, which the speaker cannot read: RBAC
        # cannot grant "every Secret but this one" in a namespace (docs/security.md).
        self.secret_namespace = secret_namespace or namespace
        self.webhook_configuration = webhook_configuration
        self.conversion_crds = tuple(conversion_crds)
        self.policy = CertPolicy.for_service(service_name, namespace)
        self.clock = clock
        self._missing: set[str] = set()  # objects whose absence was already logged

    # ------------------------------------------------------------------ the Secret

    def _read_secret(self) -> dict[str, Any] | None:
        try:
            raw = self._core.read_namespaced_secret(self.secret_name, self.secret_namespace, **RAW)
        except ApiException as err:
            if err.status == 404:
                return None
            raise
        secret: dict[str, Any] = json.loads(raw.data)
        return secret

    def _write_secret(self, secret: dict[str, Any] | None, data: dict[str, bytes]) -> None:
        if secret is None:
            body = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": self.secret_name, "namespace": self.secret_namespace},
                "data": _encode(data),
            }
            self._core.create_namespaced_secret(self.secret_namespace, body, **RAW)
            return
        secret["data"] = _encode(data)  # metadata.resourceVersion makes it compare-and-swap
        self._core.replace_namespaced_secret(self.secret_name, self.secret_namespace, secret, **RAW)

    def ensure_secret(self, now: datetime.datetime | None = None) -> dict[str, bytes]:
        """The Secret's content once it is valid, after writing new content if it was not."""
        for _ in range(ATTEMPTS):
            at = now or self.clock()
            secret = self._read_secret()
            data = _decode(secret)
            decision = decide(self.policy, data, at)
            if decision.action is Action.KEEP:
                return data
            log.info(
                "webhook certificate in Secret %s/%s: %s (%s)",
                self.secret_namespace,
                self.secret_name,
                "new CA and serving certificate"
                if decision.action is Action.RENEW_ALL
                else "new serving certificate",
                decision.reason,
            )
            new = renew(self.policy, data, decision, at)
            try:
                self._write_secret(secret, new)
            except ApiException as err:
                # 409: the other replica wrote first (Conflict, AlreadyExists); 404: the Secret
                # was deleted since it was read. Read again and keep what is there if valid.
                if err.status not in (404, 409):
                    raise
                log.info(
                    "Secret %s/%s changed while being written (%s): reading it again",
                    self.secret_namespace,
                    self.secret_name,
                    err.status,
                )
                continue
            return new
        raise RuntimeError(
            f"Secret {self.secret_namespace}/{self.secret_name} kept changing under "
            f"{ATTEMPTS} writes"
        )

    # ------------------------------------------------------------------ the caBundles

    def _skip_missing(self, what: str) -> None:
        if what not in self._missing:
            log.warning("%s not found: its caBundle is not injected (tried again later)", what)
            self._missing.add(what)

    def _inject_webhooks(self, bundle: str) -> None:
        what = f"ValidatingWebhookConfiguration {self.webhook_configuration}"
        for _ in range(ATTEMPTS):
            try:
                raw = self._admission.read_validating_webhook_configuration(
                    self.webhook_configuration, **RAW
                )
            except ApiException as err:
                if err.status == 404:
                    self._skip_missing(what)
                    return
                raise
            self._missing.discard(what)
            config = json.loads(raw.data)
            ops: list[dict[str, Any]] = []
            for i, hook in enumerate(config.get("webhooks") or []):
                if (hook.get("clientConfig") or {}).get("caBundle") == bundle:
                    continue
                ops.append({"op": "test", "path": f"/webhooks/{i}/name", "value": hook["name"]})
                if "clientConfig" not in hook:
                    ops.append({"op": "add", "path": f"/webhooks/{i}/clientConfig", "value": {}})
                ops.append(
                    {"op": "add", "path": f"/webhooks/{i}/clientConfig/caBundle", "value": bundle}
                )
            if not ops:
                return
            try:
                self._admission.patch_validating_webhook_configuration(
                    self.webhook_configuration,
                    ops,
                    _content_type=JSON_PATCH,
                    **RAW,
                )
            except ApiException as err:
                if err.status in (404, 409, 422):  # changed or deleted meanwhile: read again
                    continue
                raise
            log.info("CA injected into %s (%d webhooks)", what, sum(o["op"] == "test" for o in ops))
            return
        log.warning("%s kept changing: CA not injected (tried again later)", what)

    def _inject_conversion(self, crd: str, bundle: str) -> None:
        what = f"CustomResourceDefinition {crd}"
        try:
            raw = self._crds.read_custom_resource_definition(crd, **RAW)
        except ApiException as err:
            if err.status == 404:
                self._skip_missing(what)
                return
            raise
        self._missing.discard(what)
        obj = json.loads(raw.data)
        config = (((obj.get("spec") or {}).get("conversion") or {}).get("webhook") or {}).get(
            "clientConfig"
        )
        if config is None:
            # cert-controller fails here too: there is no conversion webhook to trust the CA for.
            self._skip_missing(f"{what} spec.conversion.webhook.clientConfig")
            return
        if config.get("caBundle") == bundle:
            return
        ops = [
            {
                "op": "add",
                "path": "/spec/conversion/webhook/clientConfig/caBundle",
                "value": bundle,
            }
        ]
        try:
            self._crds.patch_custom_resource_definition(crd, ops, _content_type=JSON_PATCH, **RAW)
        except ApiException as err:
            if err.status not in (404, 422):  # deleted or changed meanwhile: the next pass
                raise
            return
        log.info("CA injected into the conversion webhook of %s", what)

    def inject(self, ca_pem: bytes) -> None:
        """Make every caBundle we own equal to `ca_pem`."""
        bundle = base64.b64encode(ca_pem).decode()
        self._inject_webhooks(bundle)
        for crd in self.conversion_crds:
            self._inject_conversion(crd, bundle)

    # ------------------------------------------------------------------ passes

    def sync(self, now: datetime.datetime | None = None) -> tuple[bytes, bytes]:
        """One pass: a valid Secret, the CA injected; the serving certificate and key."""
        data = self.ensure_secret(now)
        self.inject(data[CA_CERT])
        return data[TLS_CERT], data[TLS_KEY]

    async def run(self, install: Install, stop: asyncio.Event, resync: float = RESYNC) -> None:
        """Pass after pass until `stop`; `install` gets each new certificate and key.

        A failed pass (API server unreachable, RBAC, conflicts that do not settle) is logged and
        retried after 1, 2, 4 ... seconds, at most `resync`.
        """
        installed: tuple[bytes, bytes] | None = None
        backoff = 1.0
        while not stop.is_set():
            wait = resync
            try:
                pair = await asyncio.to_thread(self.sync)
                if pair != installed:
                    install(*pair)
                    installed = pair
                    log.info("webhooks serve the certificate of Secret %s", self.secret_name)
                backoff = 1.0
            except Exception as err:  # the loop must outlive any one failed pass
                log.warning("webhook certificate pass failed: %s", err, exc_info=True)
                wait = min(backoff, resync)
                backoff *= 2
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
