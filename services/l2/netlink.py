"""Discovering links with pyroute2 and following netlink events.

`read_links` dumps every link and IPv6 address of the current network namespace and returns
the `Link`s the eligibility rules judge. `LinkEvents` subscribes to link and address
notifications (RTMGRP_LINK, RTMGRP_IPV6_IFADDR); each notification makes the caller re-read, so
an interface that appears or comes up is served within milliseconds, not at MetalLB's 10 s
rescan.
"""

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from ipaddress import IPv6Address
from typing import Any

from pyroute2 import AsyncIPRoute

from services.l2.core.frames import parse_mac
from services.l2.core.interfaces import Link

log = logging.getLogger(__name__)

ARPHRD_ETHER = 1
RTMGRP_LINK = 0x1
RTMGRP_IPV6_IFADDR = 0x100


def _link(msg: Any, link_locals: dict[int, IPv6Address]) -> Link:
    address = msg.get("address")
    mac = None
    if msg["ifi_type"] == ARPHRD_ETHER and address:
        with contextlib.suppress(ValueError):
            mac = parse_mac(address)
    master = msg.get("master")
    return Link(
        index=msg["index"],
        name=msg.get("ifname"),
        flags=msg["flags"],
        mac=mac,
        master=master or None,
        link_local=link_locals.get(msg["index"]),
    )


async def read_links() -> list[Link]:
    async with AsyncIPRoute() as ipr:
        addrs = [a async for a in await ipr.get_addr(family=socket.AF_INET6)]
        links = [msg async for msg in await ipr.get_links()]
    link_locals: dict[int, IPv6Address] = {}
    for msg in addrs:
        ip = IPv6Address(msg.get("address"))
        if ip.is_link_local:
            link_locals.setdefault(msg["index"], ip)
    return sorted((_link(msg, link_locals) for msg in links), key=lambda link: link.index)


class LinkEvents:
    """Calls `on_change` (coalesced) after netlink link/address notifications."""

    def __init__(self, on_change: Callable[[], Awaitable[None]]) -> None:
        self._on_change = on_change
        self._ipr: AsyncIPRoute | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._dirty = asyncio.Event()

    async def start(self) -> None:
        self._ipr = AsyncIPRoute()
        await self._ipr.bind(groups=RTMGRP_LINK | RTMGRP_IPV6_IFADDR)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._listen(), name="l2-netlink-listen"),
            loop.create_task(self._apply(), name="l2-netlink-apply"),
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
                log.exception("re-reading links after a netlink event failed")

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
