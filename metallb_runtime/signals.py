"""SIGTERM and SIGINT end a process cleanly at any moment of its life.

Before an event loop serves, a signal raises `SystemExit(0)`: startup unwinds through its
`finally` blocks and the process exits 0 (the default action would kill it with -15, which a
supervisor reports as a crash). While a loop serves, the signal sets the stop event that loop
registered (`stop_on_signals`), and the loop drains and stops gracefully.

Python-level handlers are used instead of `loop.add_signal_handler`, because asyncio puts the
default action back when its loop closes, which reopens the window during shutdown. A signal
interrupts the loop's `select` (EINTR), the handler runs, and `call_soon_threadsafe` wakes it.

This module imports nothing heavy, so the CLI installs the handler before importing grpc.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio
    from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGINT)

_stops: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []


def _live() -> list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]:
    _stops[:] = [(loop, stop) for loop, stop in _stops if not loop.is_closed()]
    return _stops


def _handle(signum: int, frame: FrameType | None) -> None:
    live = list(_live())
    if not live:
        raise SystemExit(0)
    for loop, stop in live:
        loop.call_soon_threadsafe(stop.set)


def end_cleanly_on_signals() -> None:
    """Install the handler (main thread only; idempotent)."""
    for sig in SIGNALS:
        signal.signal(sig, _handle)


def register_stop(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """From now on SIGTERM/SIGINT set `stop` (in `loop`) instead of exiting."""
    end_cleanly_on_signals()
    _live().append((loop, stop))
