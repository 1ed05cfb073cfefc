"""Every request to the API server has a timeout, and a watch that went silent is restarted.

The issue's finding: no request had a client-side timeout, so a half-open connection stalled a
reflector or a Lease renewal silently. Here a server that accepts and then says nothing stands
for the half-open connection (nothing else can make one on loopback)."""

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from gateway.kube.client import kube_client
from gateway.kube.reflector import ListFunctions, Reflector, jittered
from tests.fakekube.fake import write_kubeconfig
from tests.gateway.test_reflector import Recorder, until


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()


def test_a_request_to_a_silent_server_times_out(silent_server: str, tmp_path: Path) -> None:
    config = write_kubeconfig(tmp_path / "kc", silent_server)
    api = kube_client(str(config), {}, tmp_path, request_timeout=(1.0, 1.0))
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            client.CoreV1Api(api).list_namespace()
        except BaseException as err:
            outcome.append(err)

    thread = threading.Thread(target=call, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(timeout=20)
    assert not thread.is_alive(), "the request never timed out"
    assert outcome and "timed out" in str(outcome[0]).lower()
    assert time.monotonic() - started < 10
    api.close()


class QuietWatch(BaseHTTPRequestHandler):
    """Lists answer at once; a watch gets its headers, then silence (a frozen API server)."""

    watches = 0
    release = threading.Event()

    def do_GET(self) -> None:
        if "watch=true" in self.path:
            type(self).watches += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            self.release.wait(30)
            return
        body = b'{"kind":"NodeList","metadata":{"resourceVersion":"7"},"items":[]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_a_silent_watch_is_restarted(tmp_path: Path) -> None:
    QuietWatch.watches = 0
    QuietWatch.release.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), QuietWatch)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = write_kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{server.server_port}")
    api = kube_client(str(config), {}, tmp_path)
    reflector = Reflector(
        ListFunctions("Node", client.CoreV1Api(api).list_node),
        Recorder(),
        watch_timeout=1,
        stall_margin=0.5,
        max_backoff=0.2,
    )
    reflector.start()
    try:
        # The server ignores timeoutSeconds=1 and never sends a byte: the read timeout (1.5 s)
        # ends the watch and the reflector watches again.
        until(lambda: QuietWatch.watches >= 2, timeout=20)
    finally:
        QuietWatch.release.set()
        reflector.stop()
        server.shutdown()
        server.server_close()
        api.close()


def test_backoff_is_jittered_within_its_bound() -> None:
    waits = [jittered(4.0) for _ in range(200)]
    assert all(2.0 <= w <= 4.0 for w in waits)
    assert len({round(w, 3) for w in waits}) > 50
