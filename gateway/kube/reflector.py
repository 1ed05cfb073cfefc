"""List-then-watch of one resource kind with the official client, kept as plain JSON objects.

A `Reflector` lists the kind (remembering the list's resourceVersion), hands every object to its
consumer as a full snapshot, then watches from that resourceVersion. A watch that ends is resumed
from the last resourceVersion seen; a 410 Gone (history compacted) relists; any other failure
backs off (0.2 s doubling to 10 s, jittered so that many reflectors do not retry in step) and
retries. Each watch asks the server to end it after a jittered `timeoutSeconds` (client-go's
reflector does the same) and reads with a timeout a little longer than that, so a connection that
went silent (half-open, a frozen API server) is noticed and the watch restarted. It runs in its
own thread because the client is synchronous; the consumer's callbacks are called from that
thread and must hand over to their own loop (`ChangeSink` does this for asyncio).

The client is used with functions that carry no docstring, so that `Watch.stream` yields the raw
JSON (`raw_object`) instead of building model objects: 10,000 Services stay cheap.
"""

import contextlib
import json
import logging
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from kubernetes import watch
from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)

Obj = Mapping[str, Any]


def jittered(delay: float) -> float:
    """A wait between half and all of `delay` ("equal jitter"): bounded by `delay`, and
    reflectors that failed together do not retry together."""
    return delay / 2 + random.uniform(0, delay / 2)


class ReflectorConsumer(Protocol):
    def replace(self, kind: str, objects: list[Obj]) -> None:
        """A full list: every object of the kind (the previous view is dropped)."""

    def apply(self, kind: str, event_type: str, obj: Obj) -> None:
        """ADDED, MODIFIED or DELETED."""


@dataclass(frozen=True)
class ListFunctions:
    """How to list one kind: `list_fn(**kwargs)` returns an urllib3 response when called with
    `_preload_content=False`, and accepts `watch=True` for watching."""

    kind: str
    list_fn: Callable[..., Any]


class Reflector:
    def __init__(
        self,
        functions: ListFunctions,
        consumer: ReflectorConsumer,
        *,
        watch_timeout: int = 300,
        max_backoff: float = 10.0,
        stall_margin: float = 30.0,
        connect_timeout: float = 5.0,
    ) -> None:
        self._fn = functions
        self._consumer = consumer
        self._watch_timeout = watch_timeout
        self._max_backoff = max_backoff
        self._stall_margin = stall_margin
        self._connect_timeout = connect_timeout
        self.watches = 0
        self._stop = threading.Event()
        self._watch: watch.Watch | None = None
        self._thread: threading.Thread | None = None
        self.synced = threading.Event()
        self.lists = 0
        self.resource_version = ""

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"reflector-{self._fn.kind}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.stop()
            # Unblock a read waiting for the next event: close the streaming response.
            response = getattr(self._watch, "_resp", None)
            if response is not None:
                with contextlib.suppress(Exception):
                    response.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _list(self) -> None:
        response = self._fn.list_fn(_preload_content=False)
        body = json.loads(response.data)
        self.resource_version = str((body.get("metadata") or {}).get("resourceVersion") or "")
        self._consumer.replace(self._fn.kind, list(body.get("items") or []))
        self.lists += 1
        self.synced.set()

    def _watch_once(self) -> None:
        def list_fn(**kwargs: Any) -> Any:  # no docstring: raw JSON events
            return self._fn.list_fn(**kwargs)

        self._watch = watch.Watch()
        timeout = max(1, round(self._watch_timeout * random.uniform(0.5, 1.0)))
        self.watches += 1
        for event in self._watch.stream(
            list_fn,
            resource_version=self.resource_version,
            timeout_seconds=timeout,
            allow_watch_bookmarks=True,
            _request_timeout=(self._connect_timeout, timeout + self._stall_margin),
        ):
            if self._stop.is_set():
                return
            obj = event["raw_object"]
            rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
            if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                self._consumer.apply(self._fn.kind, event["type"], obj)
            if rv:
                self.resource_version = rv

    def _run(self) -> None:
        backoff = 0.2
        need_list = True
        while not self._stop.is_set():
            try:
                if need_list:
                    self._list()
                    need_list = False
                self._watch_once()
                backoff = 0.2
            except ApiException as err:
                if err.status == 410:
                    log.info("%s: watch history expired (410 Gone), relisting", self._fn.kind)
                    need_list = True
                    continue
                log.warning(
                    "%s: API error %s, retrying in about %.1f s", self._fn.kind, err.status, backoff
                )
                self._stop.wait(jittered(backoff))
                backoff = min(backoff * 2, self._max_backoff)
            except Exception as err:  # connection refused, reset, timeouts
                if self._stop.is_set():
                    return
                log.warning("%s: %s, retrying in about %.1f s", self._fn.kind, err, backoff)
                self._stop.wait(jittered(backoff))
                backoff = min(backoff * 2, self._max_backoff)
                need_list = True
