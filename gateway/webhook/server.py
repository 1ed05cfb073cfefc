"""The webhook HTTPS server: AdmissionReview and ConversionReview over TLS (reference §2.4).

It serves the six validation paths and `/convert`, like MetalLB's controller on :9443. It runs
in its own threads; the objects it validates against come from the gateway's source.

The certificate is held in memory and can be replaced while serving: `set_certificate()` builds
a new TLS context and every connection accepted afterwards uses it (connections already open
finish with the old one), so a rotation needs no restart. The socket is bound at construction,
before any certificate is known, so a busy port fails the process at start; until the first
`set_certificate()` connections are closed at once. Where the certificate comes from is the
caller's business: the controller's rotator (gateway/kube/webhook_certs.py) hands it over from
the Secret it keeps, and `watch_cert_dir()` reloads `tls.crt`/`tls.key` from a folder (the
mounted Secret, when rotation is disabled and e.g. cert-manager fills it).
"""

import asyncio
import contextlib
import json
import logging
import os
import socket
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from gateway.webhook.admission import Obj, convert_bgppeer, review
from metallb_runtime.interceptors import bounded

log = logging.getLogger(__name__)

Existing = Callable[[], Mapping[str, Sequence[Obj]]]

# A client that connects and sends nothing must not hold a handler thread for ever.
HANDSHAKE_TIMEOUT = 10.0
#: Largest request body read: an AdmissionReview carries at most two objects, which etcd bounds
#: at 1.5 MiB each; anything larger is refused (413) before it is read.
MAX_BODY_BYTES = 4 << 20
#: Connections handled at once (one thread each); more are closed at once. The API server
#: retries a webhook call, and its own concurrency toward one webhook is far below this. With
#: the accept thread and the main thread, the server stays within 16 threads (issue 15;
#: bench/limits.py measures it under 200 idle connections).
MAX_CONNECTIONS = 12


@contextlib.contextmanager
def _pem_path(pem: bytes) -> Iterator[str]:
    """A path to read `pem` from, for `load_cert_chain` (which takes paths only).

    On Linux an anonymous memory file (memfd), so the private key never touches a file system;
    elsewhere a private temporary folder, removed at once.
    """
    if sys.platform == "linux" and os.path.isdir("/proc/self/fd"):
        fd = os.memfd_create("metallb-webhook-cert", os.MFD_CLOEXEC)
        try:
            os.write(fd, pem)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    with tempfile.TemporaryDirectory(prefix="metallb-webhook-") as folder:
        path = Path(folder) / "tls.pem"
        path.touch(mode=0o600)
        path.write_bytes(pem)
        yield str(path)


def server_context(cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    """A TLS server context for this certificate and key; ssl.SSLError if they do not match."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with _pem_path(cert_pem.rstrip(b"\n") + b"\n" + key_pem) as path:
        context.load_cert_chain(path)
    return context


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that wraps each accepted connection with the current TLS context and
    handles at most `MAX_CONNECTIONS` at once (a thread each)."""

    daemon_threads = True
    context: ssl.SSLContext | None = None
    max_connections = MAX_CONNECTIONS

    def server_activate(self) -> None:
        super().server_activate()
        self.limit_connections(self.max_connections)

    def limit_connections(self, limit: int) -> None:
        self.max_connections = limit
        self._slots = threading.BoundedSemaphore(limit)
        self._holding: set[int] = set()
        self._holding_lock = threading.Lock()
        self._last_warning = -10.0

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if not self._slots.acquire(blocking=False):
            now = time.monotonic()
            if now - self._last_warning > 10:  # at most one line per 10 s under a flood
                self._last_warning = now
                log.warning("webhook: %d connections open, refusing more", self.max_connections)
            return False
        with self._holding_lock:
            self._holding.add(id(request))
        return True

    def shutdown_request(self, request: Any) -> None:
        try:
            super().shutdown_request(request)
        finally:
            with self._holding_lock:
                held = id(request) in self._holding
                self._holding.discard(id(request))
            if held:
                self._slots.release()

    def get_request(self) -> tuple[Any, Any]:
        sock, address = self.socket.accept()
        context = self.context
        if context is None:
            sock.close()
            raise OSError("no certificate yet")  # socketserver drops the connection quietly
        # The handshake runs in the handler's thread (setup), not in the accept loop.
        wrapped = context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return wrapped, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("webhook connection from %s failed", client_address, exc_info=True)


class _Server6(_Server):
    address_family = socket.AF_INET6


class WebhookServer:
    def __init__(
        self,
        listen: str,
        existing: Existing,
        namespace: str,
        certificate: tuple[bytes, bytes] | None = None,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        host, _, port = listen.rpartition(":")
        self._existing = existing
        self._namespace = namespace
        outer = self

        class Handler(BaseHTTPRequestHandler):
            timeout = HANDSHAKE_TIMEOUT

            def setup(self) -> None:
                self.request.settimeout(HANDSHAKE_TIMEOUT)
                self.request.do_handshake()
                super().setup()

            def log_message(self, format: str, *args: Any) -> None:
                log.debug(format, *args)

            def do_POST(self) -> None:
                try:
                    length = int(self.headers.get("Content-Length") or -1)
                except ValueError:
                    length = -1
                if length < 0:
                    reply, code = {"error": "a Content-Length is required"}, 411
                elif length > MAX_BODY_BYTES:
                    reply, code = {"error": f"body over {MAX_BODY_BYTES} bytes"}, 413
                    self.close_connection = True
                else:
                    reply, code = outer.respond(self.path, self.rfile.read(length))
                data = json.dumps(reply).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        address = host.strip("[]") or "0.0.0.0"
        server_class = _Server6 if ":" in address else _Server
        self._httpd = server_class((address, int(port)), Handler)
        self._httpd.limit_connections(max_connections)
        self._thread: threading.Thread | None = None
        self.certificate: tuple[bytes, bytes] | None = None
        if certificate is not None:
            self.set_certificate(*certificate)

    @property
    def port(self) -> int:
        port: int = self._httpd.server_address[1]
        return port

    def set_certificate(self, cert_pem: bytes, key_pem: bytes) -> None:
        """Serve this certificate from the next connection on; ssl.SSLError keeps the old one."""
        self._httpd.context = server_context(cert_pem, key_pem)
        self.certificate = (cert_pem, key_pem)

    def respond(self, path: str, raw: bytes) -> tuple[dict[str, Any], int]:
        """The reply to a request body and its HTTP status: 200 with a review's response, or
        400 naming what is malformed (tests/fuzz/test_webhook.py feeds it anything)."""
        try:
            return self.handle(path, json.loads(raw or b"{}")), 200
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as err:
            # RecursionError: JSON nested deeper than the interpreter's stack (`[[[...]]]`).
            return {"error": bounded(f"{type(err).__name__}: {err}")}, 400

    def handle(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        if path == "/convert":
            req = body["request"]
            converted = [convert_bgppeer(o, req["desiredAPIVersion"]) for o in req["objects"]]
            return {
                "apiVersion": body.get("apiVersion", "apiextensions.k8s.io/v1"),
                "kind": "ConversionReview",
                "response": {
                    "uid": req["uid"],
                    "convertedObjects": converted,
                    "result": {"status": "Success"},
                },
            }
        response = review(path, body["request"], self._existing(), self._namespace)
        return {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": response,
        }

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="webhook", daemon=True
        )
        self._thread.start()
        log.info("webhooks on https://%s:%d", *self._httpd.server_address[:2])

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def read_cert_dir(cert_dir: Path) -> tuple[bytes, bytes] | None:
    """`tls.crt` and `tls.key` from `cert_dir`, or None while either is missing or empty."""
    try:
        cert = (cert_dir / "tls.crt").read_bytes()
        key = (cert_dir / "tls.key").read_bytes()
    except OSError:
        return None
    return (cert, key) if cert.strip() and key.strip() else None


async def watch_cert_dir(
    cert_dir: Path, server: WebhookServer, stop: asyncio.Event, interval: float = 10.0
) -> None:
    """Serve the certificate in `cert_dir`, reloading it when the files change, until `stop`.

    kubelet replaces a mounted Secret's files atomically some time after the Secret changes;
    reading them every `interval` seconds (controller-runtime's certwatcher re-reads every 10 s
    as well) picks up a renewal without a restart. A pair that does not load (a key that does
    not match, read half-way through an update) keeps the previous one until the next read.
    """
    complained = False
    while not stop.is_set():
        pair = await asyncio.to_thread(read_cert_dir, cert_dir)
        if pair is None:
            if not complained:
                log.error(
                    "webhooks have no certificate: no tls.crt/tls.key in %s (fill the Secret, "
                    "or let the controller rotate it: drop --disable-cert-rotation)",
                    cert_dir,
                )
                complained = True
        elif pair != server.certificate:
            try:
                server.set_certificate(*pair)
                log.info("webhook certificate loaded from %s", cert_dir)
                complained = False
            except ssl.SSLError as err:
                if not complained:
                    log.error("webhook certificate in %s does not load: %s", cert_dir, err)
                    complained = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
