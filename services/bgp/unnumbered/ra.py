"""Router Solicitation and Router Advertisement, the ICMPv6 messages of RFC 4861 §4.1-4.2.

Theory of operation: frozen dataclasses with pure `encode()` / `decode()` over the ICMPv6
message (type, code, checksum and body; the IPv6 header is the socket's). The checksum is
written as zero: a raw ICMPv6 socket has the kernel fill it in on send and verify it on receipt
(RFC 3542 §3.1), so it is neither computed nor checked here. A message that is not valid raises
`RADropError` with a named `RADrop` reason that the adapter counts; the validity rules that need
the IPv6 header (hop limit 255, link-local source: RFC 4861 §6.1.1-6.1.2) are in
`check_source`.

Options (§4.6) are kept as (type, value) pairs; only the Source Link-Layer Address (type 1) is
typed, the one an unnumbered BGP speaker sends and reads. An option of length 0 makes the whole
message invalid (§4.6).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import Enum
from ipaddress import IPv6Address
from typing import ClassVar, Self

ROUTER_SOLICITATION = 133
ROUTER_ADVERTISEMENT = 134
#: §4.6.1: Source Link-Layer Address.
OPT_SOURCE_LLADDR = 1
#: §6.1.1-6.1.2: ND messages arrive with hop limit 255 (they cannot have crossed a router).
ND_HOP_LIMIT = 255
ALL_NODES = IPv6Address("ff02::1")
ALL_ROUTERS = IPv6Address("ff02::2")

_RA_FIXED = struct.Struct("!BBHBBHII")  # type, code, checksum, hop limit, flags, lifetime, ...
_RS_FIXED = struct.Struct("!BBHI")  # type, code, checksum, reserved


class RADrop(Enum):
    """Why a received message was not used (the adapter's drop counter's label)."""

    TOO_SHORT = "too_short"
    UNKNOWN_TYPE = "unknown_type"
    BAD_CODE = "bad_code"
    BAD_OPTION_LENGTH = "bad_option_length"
    BAD_HOP_LIMIT = "bad_hop_limit"
    SOURCE_NOT_LINK_LOCAL = "source_not_link_local"
    UNSPECIFIED_SOURCE_WITH_LLADDR = "unspecified_source_with_lladdr"


class RADropError(ValueError):
    def __init__(self, reason: RADrop, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason


Option = tuple[int, bytes]  # (type, value without the type and length octets)


def _encode_options(options: tuple[Option, ...]) -> bytes:
    out = b""
    for kind, value in options:
        total = 2 + len(value)
        if total % 8:
            raise ValueError(f"option {kind}: {total} octets is not a multiple of 8 (§4.6)")
        if total > 255 * 8:
            raise ValueError(f"option {kind}: {total} octets is too long")
        out += bytes((kind, total // 8)) + value
    return out


def _decode_options(data: bytes) -> tuple[Option, ...]:
    out: list[Option] = []
    at = 0
    while at < len(data):
        if len(data) - at < 2:
            raise RADropError(RADrop.BAD_OPTION_LENGTH, "an option header runs past the message")
        kind, units = data[at], data[at + 1]
        if units == 0:  # §4.6: a zero length must make the whole message be discarded
            raise RADropError(RADrop.BAD_OPTION_LENGTH, f"option {kind} has length 0")
        end = at + 8 * units
        if end > len(data):
            raise RADropError(RADrop.BAD_OPTION_LENGTH, f"option {kind} runs past the message")
        out.append((kind, data[at + 2 : end]))
        at = end
    return tuple(out)


def lladdr_option(mac: bytes) -> Option:
    """A Source Link-Layer Address option for an Ethernet address (§4.6.1, RFC 2464 §6)."""
    return (OPT_SOURCE_LLADDR, mac)


def _lladdr(options: tuple[Option, ...]) -> bytes | None:
    return next((value for kind, value in options if kind == OPT_SOURCE_LLADDR), None)


@dataclass(frozen=True)
class RouterSolicitation:
    """§4.1."""

    TYPE: ClassVar[int] = ROUTER_SOLICITATION
    options: tuple[Option, ...] = ()

    @property
    def source_lladdr(self) -> bytes | None:
        return _lladdr(self.options)

    def encode(self) -> bytes:
        return _RS_FIXED.pack(self.TYPE, 0, 0, 0) + _encode_options(self.options)

    @classmethod
    def decode_body(cls, data: bytes) -> Self:
        if len(data) < _RS_FIXED.size:
            raise RADropError(RADrop.TOO_SHORT, f"{len(data)} octets < 8")
        return cls(_decode_options(data[_RS_FIXED.size :]))


@dataclass(frozen=True)
class RouterAdvertisement:
    """§4.2. Our own say: no default router (lifetime 0), no hop limit, no timers; only the
    source link-local address (the IPv6 header's) and link-layer address matter to a peer."""

    TYPE: ClassVar[int] = ROUTER_ADVERTISEMENT
    cur_hop_limit: int = 0
    managed: bool = False
    other: bool = False
    router_lifetime: int = 0
    reachable_time: int = 0
    retrans_timer: int = 0
    options: tuple[Option, ...] = ()

    @property
    def source_lladdr(self) -> bytes | None:
        return _lladdr(self.options)

    def encode(self) -> bytes:
        flags = (0x80 if self.managed else 0) | (0x40 if self.other else 0)
        fixed = _RA_FIXED.pack(
            self.TYPE,
            0,
            0,
            self.cur_hop_limit,
            flags,
            self.router_lifetime,
            self.reachable_time,
            self.retrans_timer,
        )
        return fixed + _encode_options(self.options)

    @classmethod
    def decode_body(cls, data: bytes) -> Self:
        if len(data) < _RA_FIXED.size:
            raise RADropError(RADrop.TOO_SHORT, f"{len(data)} octets < 16")
        _, _, _, hop, flags, lifetime, reachable, retrans = _RA_FIXED.unpack_from(data)
        return cls(
            cur_hop_limit=hop,
            managed=bool(flags & 0x80),
            other=bool(flags & 0x40),
            router_lifetime=lifetime,
            reachable_time=reachable,
            retrans_timer=retrans,
            options=_decode_options(data[_RA_FIXED.size :]),
        )


NDMessage = RouterSolicitation | RouterAdvertisement


def decode(data: bytes) -> NDMessage:
    """An RS or RA (§6.1.1-6.1.2: ICMP code 0, length, options), or `RADropError`."""
    if len(data) < 4:
        raise RADropError(RADrop.TOO_SHORT, f"{len(data)} octets")
    kind, code = data[0], data[1]
    if code != 0:
        raise RADropError(RADrop.BAD_CODE, f"ICMP code {code}")
    if kind == ROUTER_ADVERTISEMENT:
        return RouterAdvertisement.decode_body(data)
    if kind == ROUTER_SOLICITATION:
        return RouterSolicitation.decode_body(data)
    raise RADropError(RADrop.UNKNOWN_TYPE, f"ICMPv6 type {kind}")


def check_source(message: NDMessage, source: IPv6Address, hop_limit: int) -> None:
    """The IPv6 header's part of §6.1.1-6.1.2: hop limit 255; an RA from a link-local address;
    an RS from the unspecified address carries no link-layer address option."""
    if hop_limit != ND_HOP_LIMIT:
        raise RADropError(RADrop.BAD_HOP_LIMIT, f"hop limit {hop_limit}")
    if isinstance(message, RouterAdvertisement) and not source.is_link_local:
        raise RADropError(RADrop.SOURCE_NOT_LINK_LOCAL, f"source {source}")
    if (
        isinstance(message, RouterSolicitation)
        and source.is_unspecified
        and message.source_lladdr is not None
    ):
        raise RADropError(RADrop.UNSPECIFIED_SOURCE_WITH_LLADDR, "from ::")


__all__ = [
    "ALL_NODES",
    "ALL_ROUTERS",
    "ND_HOP_LIMIT",
    "NDMessage",
    "RADrop",
    "RADropError",
    "RouterAdvertisement",
    "RouterSolicitation",
    "check_source",
    "decode",
    "lladdr_option",
]
