"""The webhook HTTPS server: AdmissionReview and ConversionReview over TLS (reference §2.4).

It serves the six validation paths and `/convert`, like MetalLB's controller on :9443, with the
certificate and key from `--webhook-cert-dir` (`tls.crt`, `tls.key`, as the Secret mounts them).
It runs in its own threads; the objects it validates against come from the gateway's source.
"""

import json
import logging
import ssl
import threading
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from gateway.webhook.admission import Obj, convert_bgppeer, review

log = logging.getLogger(__name__)

Existing = Callable[[], Mapping[str, Sequence[Obj]]]


class WebhookServer:
    def __init__(self, listen: str, cert_dir: Path, existing: Existing, namespace: str) -> None:
        host, _, port = listen.rpartition(":")
        self._existing = existing
        self._namespace = namespace
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                log.debug(format, *args)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                    reply = outer.handle(self.path, body)
                    code = 200
                except (ValueError, KeyError) as err:
                    reply, code = {"error": str(err)}, 400
                data = json.dumps(reply).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer((host.strip("[]") or "0.0.0.0", int(port)), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert_dir / "tls.crt", cert_dir / "tls.key")
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        port: int = self._httpd.server_address[1]
        return port

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
