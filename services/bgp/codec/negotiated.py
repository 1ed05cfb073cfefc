"""Address families and the `Negotiated` context every encoder and decoder takes.

Theory of operation: the bytes of an UPDATE mean different things depending on what the two
speakers agreed in their OPEN messages: AS numbers are 2 or 4 octets (RFC 6793), IPv6 routes
travel in MP_REACH_NLRI only if the family was negotiated (RFC 4760), an IPv4 route may carry an
IPv6 next hop only with the extended next hop capability (RFC 8950). That agreement is one frozen
value, `Negotiated`, passed explicitly to every codec function; `negotiate()` (negotiate.py)
computes it from the two OPENs. The default value is what holds before any capability is
agreed: RFC 4271 alone, 2-octet AS numbers, IPv4 unicast.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from .errors import BGPEncodeError

#: Largest BGP message without RFC 8654 extended messages (RFC 4271 §4.1).
MAX_MESSAGE_SIZE = 4096
#: The 2-octet stand-in for a 4-octet-only AS number (RFC 6793 §9).
AS_TRANS = 23456


class AFI(IntEnum):
    """Address Family Identifiers used here (IANA; RFC 4760 §3)."""

    IPV4 = 1
    IPV6 = 2


class SAFI(IntEnum):
    """Subsequent Address Family Identifiers used here (IANA; RFC 4760 §6)."""

    UNICAST = 1


@dataclass(frozen=True, order=True)
class Family:
    """An (AFI, SAFI) pair; plain ints so that unknown families can be named too."""

    afi: int
    safi: int

    def __str__(self) -> str:
        try:
            afi = AFI(self.afi).name.lower()
        except ValueError:
            afi = str(self.afi)
        try:
            safi = SAFI(self.safi).name.lower()
        except ValueError:
            safi = str(self.safi)
        return f"{afi}-{safi}"


IPV4_UNICAST = Family(AFI.IPV4, SAFI.UNICAST)
IPV6_UNICAST = Family(AFI.IPV6, SAFI.UNICAST)
#: Families whose NLRI this codec can decode (unicast prefixes).
SUPPORTED_FAMILIES = frozenset({IPV4_UNICAST, IPV6_UNICAST})


@dataclass(frozen=True)
class Negotiated:
    """What the two speakers agreed in their OPEN messages.

    four_octet_as: both sent the 4-octet AS capability (RFC 6793 §3); AS_PATH and AGGREGATOR
        are then 4-octet and AS4_PATH / AS4_AGGREGATOR are not used.
    families: (AFI, SAFI) pairs both advertised with the multiprotocol capability (RFC 4760
        §8), or IPv4 unicast alone when neither sent one.
    extended_nexthop: NLRI families that may carry an IPv6 next hop (RFC 8950 §4).
    add_path: always False; ADD-PATH (RFC 7911) is not implemented, and the field exists so
        that code reading it does not have to change when it is.
    hold_time: the smaller of the two proposed hold times (RFC 4271 §4.2), 0 = no keepalives.
    route_refresh: both advertised route refresh (RFC 2918 §3).
    max_message_size: 4,096 (RFC 4271 §4.1); RFC 8654 extended messages are not implemented,
        so any other value is refused, like add_path.
    """

    four_octet_as: bool = False
    families: frozenset[Family] = frozenset({IPV4_UNICAST})
    extended_nexthop: frozenset[Family] = frozenset()
    add_path: bool = False
    hold_time: int = 90
    route_refresh: bool = False
    max_message_size: int = MAX_MESSAGE_SIZE

    def __post_init__(self) -> None:
        if self.add_path:
            raise BGPEncodeError("ADD-PATH (RFC 7911) is not implemented by this codec")
        if self.max_message_size != MAX_MESSAGE_SIZE:
            raise BGPEncodeError("extended messages (RFC 8654) are not implemented")
