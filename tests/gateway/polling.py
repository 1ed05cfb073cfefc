"""Waiting in a test for what other threads or processes bring about (the fake API server's
threads, a role's write threads, files another process writes): polled, since nothing there
can be awaited directly."""

import asyncio
import time
from collections.abc import Callable


async def until(condition: Callable[[], object], timeout: float = 30.0, step: float = 0.05) -> None:
    """Return once `condition()` is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(step)  # a wait on other threads' I/O, not a clock
