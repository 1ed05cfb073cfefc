"""Which links may answer ARP and NDP: MetalLB's interface rules as one pure function.

Theory of operation
-------------------
MetalLB's speaker rescans the node's interfaces every 10 s (`updateInterfaces`, behaviour
reference §3.3) and keeps a responder on each that qualifies. Here the adapter feeds the links it
discovers with pyroute2 (and re-reads on every netlink link or address event) into
`eligibility`, which returns for each protocol either `None` (eligible) or the first rule that
excludes it, in MetalLB's order: exclude regex, not UP, enslaved (a `master`), NOARP; then
broadcast-capable for ARP and an IPv6 link-local address for NDP. One rule is ours: a link
without an Ethernet (ARPHRD_ETHER) address cannot be answered for and is `NOT_ETHERNET`.
"""

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv6Address

__all__ = [
    "DEFAULT_EXCLUDES",
    "Eligibility",
    "Ineligible",
    "Link",
    "LinkFlag",
    "carrier_returns",
    "compile_excludes",
    "eligibility",
]

# config/native/exclude-l2-config.yaml (`announcedInterfacesToExclude`), in MetalLB's order.
DEFAULT_EXCLUDES: tuple[str, ...] = (
    "^docker.*",
    "^cbr.*",
    "^dummy.*",
    "^virbr.*",
    "^lxcbr.*",
    "^veth.*",
    "^lo$",
    "^cali.*",
    "^tunl.*",
    "^flannel.*",
    "^kube-ipvs.*",
    "^cni.*",
    "^nodelocaldns.*",
    "^lxc.*",
)


class LinkFlag(enum.IntFlag):
    """The `ifi_flags` bits the rules read (linux/if.h)."""

    UP = 0x1
    BROADCAST = 0x2
    LOOPBACK = 0x8
    RUNNING = 0x40  # operationally up (RFC 2863): it has carrier, frames can pass
    NOARP = 0x80


class Ineligible(enum.Enum):
    """Why a link does not answer for a protocol. The value is what ListInterfaces shows."""

    EXCLUDED = "excluded"  # the name matches the exclude list
    DOWN = "down"  # IFF_UP is clear
    ENSLAVED = "enslaved"  # has a master: a bridge or bond port
    NOARP = "noarp"  # IFF_NOARP
    NOT_ETHERNET = "not_ethernet"  # no Ethernet hardware address (ours, see module doc)
    NOT_BROADCAST = "not_broadcast"  # ARP needs IFF_BROADCAST
    NO_IPV6_LINK_LOCAL = "no_ipv6_link_local"  # NDP needs an fe80::/10 address


@dataclass(frozen=True, slots=True)
class Link:
    """A network interface as discovered: what the rules and the responder need."""

    index: int
    name: str
    flags: int
    mac: bytes | None  # None unless ARPHRD_ETHER with a 6-byte address
    master: int | None = None
    link_local: IPv6Address | None = None
    # Times the link has regained carrier (IFLA_CARRIER_UP_COUNT): a flap shorter than the
    # kernel's link-event delay shows in no flag, only here.
    carrier_ups: int = 0


@dataclass(frozen=True, slots=True)
class Eligibility:
    arp: Ineligible | None
    ndp: Ineligible | None


def compile_excludes(patterns: Sequence[str]) -> re.Pattern[str] | None:
    """MetalLB joins the exclude regexes as `(a)|(b)|...` and matches anywhere in the name."""
    if not patterns:
        return None
    return re.compile("|".join(f"({p})" for p in patterns))


def eligibility(link: Link, exclude: re.Pattern[str] | None) -> Eligibility:
    """Whether `link` answers ARP and NDP, and if not, the first rule that says no."""
    common: Ineligible | None = None
    if exclude is not None and exclude.search(link.name):
        common = Ineligible.EXCLUDED
    elif not link.flags & LinkFlag.UP:
        common = Ineligible.DOWN
    elif link.master is not None:
        common = Ineligible.ENSLAVED
    elif link.flags & LinkFlag.NOARP:
        common = Ineligible.NOARP
    elif link.mac is None:
        common = Ineligible.NOT_ETHERNET
    if common is not None:
        return Eligibility(common, common)
    arp = None if link.flags & LinkFlag.BROADCAST else Ineligible.NOT_BROADCAST
    ndp = None if link.link_local is not None else Ineligible.NO_IPV6_LINK_LOCAL
    return Eligibility(arp, ndp)


def carrier_returns(
    links: Iterable[Link], before: Mapping[int, int]
) -> tuple[list[int], dict[int, int]]:
    """The links that came back since `before` (operationally up now, and down then or with
    carrier regained since: a flap too short for any flag to show), and the new `before`:
    each running link's count of carrier returns. A switch forgot the groups of such a link's
    port, so they must be reported again (RFC 3810 §6.1, services/l2/engine.py)."""
    now = {link.index: link.carrier_ups for link in links if link.flags & LinkFlag.RUNNING}
    return [index for index, ups in now.items() if before.get(index) != ups], now
