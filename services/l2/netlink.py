"""Discovering links with pyroute2 and following netlink events.

`read_links` dumps every link and IPv6 address of the current network namespace and returns
the `Link`s the eligibility rules judge. `link_events` subscribes to link and address
notifications (RTMGRP_LINK, RTMGRP_IPV6_IFADDR); each notification makes the caller re-read, so
an interface that appears or comes up is served within milliseconds, not at MetalLB's 10 s
rescan.
"""

import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from ipaddress import IPv6Address
from typing import Any

from pyroute2 import AsyncIPRoute

from metallb_runtime.netlink_events import (
    RTMGRP_IPV6_IFADDR,
    RTMGRP_LINK,
    NetlinkEvents,
)
from services.l2.core.frames import parse_mac
from services.l2.core.interfaces import Link

log = logging.getLogger(__name__)

ARPHRD_ETHER = 1


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
        carrier_ups=msg.get("carrier_up_count") or 0,
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


def link_events(on_change: Callable[[], Awaitable[None]]) -> NetlinkEvents:
    """Calls `on_change` (coalesced) after the notifications this module's reader depends on."""
    return NetlinkEvents(on_change, RTMGRP_LINK | RTMGRP_IPV6_IFADDR, "l2")
