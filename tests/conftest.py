"""Shared fixtures: running coroutines with a leak check, and CI-aware prerequisites."""

import asyncio
import os
import shutil
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` in a fresh event loop and fail if it leaves tasks running behind."""

    async def wrapper() -> T:
        result = await coro
        current = asyncio.current_task()
        # Tasks whose work is already over (a gRPC call's status handler whose future is done)
        # may need a few loop turns to finish; a task still pending after 0.5 s is a leak.
        for _ in range(50):
            await asyncio.sleep(0.01)
            leaked = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
            if not leaked:
                break
        assert not leaked, f"leaked tasks: {leaked}"
        return result

    return asyncio.run(wrapper())


@pytest.fixture
def arun() -> Callable[[Coroutine[Any, Any, T]], T]:
    return run_async


def require_root(why: str) -> None:
    """Fail (under CI) or skip (elsewhere) unless running as root, which `why` needs."""
    if os.geteuid() != 0:
        message = f"this test needs root ({why})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def require_binary(name: str) -> str:
    """The path of a required executable. Under CI a missing prerequisite fails the test."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (it comes with the project's test extra)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path
