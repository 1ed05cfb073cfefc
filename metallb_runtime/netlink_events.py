"""Following the kernel's link state: a netlink subscription that calls back, coalesced.

Shared by the L2 service (its interfaces) and the BGP service (unnumbered peers' links): both
re-read what they need after any notification of the groups they bind, so a burst of events
causes one re-read, plus one more if events arrive during it.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from pyroute2 import AsyncIPRoute

log = logging.getLogger(__name__)

# rtnetlink multicast groups (linux/rtnetlink.h RTMGRP_*)
RTMGRP_LINK = 0x1
RTMGRP_NEIGH = 0x4
RTMGRP_IPV6_IFADDR = 0x100


class NetlinkEvents:
    """Calls `on_change` (coalesced) after notifications of the netlink `groups`; `name` names
    the tasks and the log line when a re-read fails."""

    def __init__(self, on_change: Callable[[], Awaitable[None]], groups: int, name: str) -> None:
        self._on_change = on_change
        self._groups = groups
        self._name = name
        self._ipr: AsyncIPRoute | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._dirty = asyncio.Event()

    async def start(self) -> None:
        self._ipr = AsyncIPRoute()
        await self._ipr.bind(groups=self._groups)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._listen(), name=f"{self._name}-netlink-listen"),
            loop.create_task(self._apply(), name=f"{self._name}-netlink-apply"),
        ]

    async def _listen(self) -> None:
        assert self._ipr is not None
        while True:
            async for _ in self._ipr.get():
                self._dirty.set()

    async def _apply(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()  # events arriving during the re-read cause one more re-read
            try:
                await self._on_change()
            except Exception:  # keep following: the next event re-reads everything
                log.exception("%s: re-reading after a netlink event failed", self._name)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None
