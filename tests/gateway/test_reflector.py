"""List-then-watch against the fake API server: resumes, relists on 410 Gone, loses nothing."""

import threading
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client

from gateway.kube.reflector import ListFunctions, Obj, Reflector
from tests.fakekube import FakeKube


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.objects: dict[str, Obj] = {}
        self.replaces = 0

    def replace(self, kind: str, objects: list[Obj]) -> None:
        with self.lock:
            self.objects = {o["metadata"]["name"]: o for o in objects}
            self.replaces += 1

    def apply(self, kind: str, event_type: str, obj: Obj) -> None:
        with self.lock:
            if event_type == "DELETED":
                self.objects.pop(obj["metadata"]["name"], None)
            else:
                self.objects[obj["metadata"]["name"]] = obj


def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)  # the reflector's thread talks HTTP to the fake API server


def node(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}


def test_list_then_watch_resume_and_410() -> None:
    with FakeKube() as kube:
        api = kube.api_client()
        kube.create(node("a"))
        rec = Recorder()
        reflector = Reflector(
            ListFunctions("Node", client.CoreV1Api(api).list_node), rec, watch_timeout=30
        )
        reflector.start()
        try:
            until(lambda: "a" in rec.objects and kube.open_watches == 1)
            kube.create(node("b"))
            until(lambda: "b" in rec.objects)
            # The stream ends: the reflector resumes from its resourceVersion, no relist.
            kube.close_watches()
            kube.create(node("c"))
            until(lambda: "c" in rec.objects)
            assert reflector.lists == 1
            # Disconnected (the API refuses watches for a while), the history is compacted:
            # the reflector gets 410 Gone, relists, and is consistent again.
            kube.inject_failure(500, times=2, method="GET", watch=True)
            kube.close_watches()
            kube.delete("nodes", "a")
            kube.create(node("d"))
            kube.compact()
            until(lambda: set(rec.objects) == {"b", "c", "d"})
            until(lambda: reflector.lists >= 2)
        finally:
            reflector.stop()
            api.close()
