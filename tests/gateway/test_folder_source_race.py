"""Why the end-to-end world deletes its placeholder only once every reader is idle.

`FolderSource._reload` (gateway/folder.py) lists the manifests, then reads each one
(gateway/manifests.py `load`: `path.read_text()`); a file deleted between the two raises
FileNotFoundError, which is not the ValueError `_reload` catches, so the exception ends the
`_poll` task silently and that process never sees another change in the folder. In the
end-to-end world this froze a node role (no routes, no ARP answers from that node, nothing in
its log) in about one run in eight, when the placeholder was deleted while the controller's
status writes had every reader reloading. This reproduces it in-process, with no namespaces.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from gateway.folder import FolderSource

SERVICE = """apiVersion: v1
kind: Service
metadata: {{name: s{i}, namespace: demo}}
spec: {{type: LoadBalancer, clusterIP: 10.96.1.{i}, ports: [{{port: 80}}]}}
"""


def test_folder_source_keeps_polling_after_files_vanish_while_it_reads(
    arun: Callable[[Coroutine[Any, Any, None]], None], tmp_path: Path
) -> None:
    folder = tmp_path / "manifests"
    folder.mkdir()
    files = [folder / f"svc-{i:03}.yaml" for i in range(1, 201)]
    for i, path in enumerate(files, start=1):
        path.write_text(SERVICE.format(i=i))

    async def scenario() -> None:
        source = FolderSource(folder, interval=0.001)
        await source.start()
        stop = threading.Event()

        def churn() -> None:  # delete and re-create files while the source polls
            while not stop.is_set():
                for i, path in enumerate(files, start=1):
                    path.unlink()
                    path.write_text(SERVICE.format(i=i))

        thread = threading.Thread(target=churn)
        thread.start()
        poll: asyncio.Task[None] | None = getattr(source, "_task", None)
        try:  # churn for 5 s, or until the poll task has ended (the bug: it should never end)
            end = time.monotonic() + 5
            while time.monotonic() < end and not (poll is not None and poll.done()):
                # The race needs real time: files churn while the source polls them.
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.to_thread(thread.join, 10)
        # Quiet again: one new file must show up in the source's view.
        (folder / "late.yaml").write_text(SERVICE.format(i=250).replace("s250", "late"))
        deadline = time.monotonic() + 3
        try:
            while "demo/late" not in source.snapshot().objects.get("Service", {}):
                died = poll.exception() if poll is not None and poll.done() else None
                assert time.monotonic() < deadline, f"the folder source stopped: {died!r}"
                await asyncio.sleep(0.02)  # the source polls files: wait for its next poll
        finally:
            with contextlib.suppress(Exception):  # the dead poll task re-raises its error
                await source.stop()

    arun(scenario())
