"""The links of unnumbered peers as netlink shows them (pyroute2), and their changes.

`read(names)` dumps links, IPv6 addresses and the IPv6 neighbour cache of the current network
namespace and returns, per interface name asked for, its `tracker.Link` (None when it does not
exist) and its usable link-local neighbour entries. `Events` subscribes to link, IPv6 address
and neighbour notifications and calls back (coalesced) so the caller reads again: a link flap
or a neighbour entry is seen within milliseconds.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from ipaddress import IPv6Address

from pyroute2 import AsyncIPRoute

from metallb_runtime.netlink_events import (
    RTMGRP_IPV6_IFADDR,
    RTMGRP_LINK,
    RTMGRP_NEIGH,
    NetlinkEvents,
)

from .tracker import Link

log = logging.getLogger(__name__)

IFF_UP = 0x1
IFF_RUNNING = 0x40
IFA_F_DADFAILED = 0x08
IFA_F_TENTATIVE = 0x40
NTF_ROUTER = 0x80
#: NUD states in which an entry names a neighbour that answered (linux/neighbour.h).
NUD_USABLE = 0x02 | 0x04 | 0x08 | 0x10 | 0x80  # REACHABLE, STALE, DELAY, PROBE, PERMANENT


@dataclass(frozen=True)
class LinkState:
    link: Link | None
    #: Usable link-local neighbour entries: address -> router flag.
    neighbours: dict[IPv6Address, bool]


def _mac(text: str | None) -> bytes | None:
    if not text:
        return None
    try:
        raw = bytes.fromhex(text.replace(":", ""))
    except ValueError:
        return None
    return raw if len(raw) == 6 and any(raw) else None


async def read(names: Iterable[str]) -> dict[str, LinkState]:
    wanted = set(names)
    async with AsyncIPRoute() as ipr:
        links = [m async for m in await ipr.get_links()]
        addrs = [m async for m in await ipr.get_addr(family=socket.AF_INET6)]
        neighs = [m async for m in await ipr.get_neighbours(family=socket.AF_INET6)]
    index = {m.get("ifname"): m for m in links if m.get("ifname") in wanted}
    by_index = {m["index"]: name for name, m in index.items()}
    lls: dict[int, list[IPv6Address]] = {}
    globs: dict[int, list[IPv6Address]] = {}
    for m in addrs:
        if m["index"] not in by_index:
            continue
        flags = m.get("flags") or m["flags"]
        if flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED):
            continue
        ip = IPv6Address(m.get("address"))
        if ip.is_link_local:
            lls.setdefault(m["index"], []).append(ip)
        elif m["scope"] == 0:
            globs.setdefault(m["index"], []).append(ip)
    nbrs: dict[int, dict[IPv6Address, bool]] = {}
    for m in neighs:
        dst = m.get("dst")
        if m["ifindex"] not in by_index or not dst or not m["state"] & NUD_USABLE:
            continue
        ip = IPv6Address(dst)
        if ip.is_link_local:
            nbrs.setdefault(m["ifindex"], {})[ip] = bool(m["flags"] & NTF_ROUTER)
    out: dict[str, LinkState] = {}
    for name in wanted:
        msg = index.get(name)
        if msg is None:
            out[name] = LinkState(None, {})
            continue
        i = msg["index"]
        up = bool(msg["flags"] & IFF_UP) and bool(msg["flags"] & IFF_RUNNING)
        link = Link(
            index=i,
            up=up,
            mac=_mac(msg.get("address")),
            link_local=min(lls[i]) if i in lls else None,
            globals=tuple(sorted(globs.get(i, []))),
        )
        out[name] = LinkState(link, nbrs.get(i, {}) if up else {})
    return out


def link_events(on_change: Callable[[], Awaitable[None]]) -> NetlinkEvents:
    """Calls `on_change` (coalesced) after the notifications this module's reader depends on."""
    return NetlinkEvents(
        on_change, RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV6_IFADDR, "bgp-unnumbered"
    )
