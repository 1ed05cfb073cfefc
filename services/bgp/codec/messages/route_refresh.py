"""ROUTE-REFRESH (RFC 2918 §3): AFI (2), Reserved (1), SAFI (1).

The reserved octet is the Message Subtype of RFC 7313 (0 = normal request); it is kept so that
enhanced route refresh markers decode. A body that is not exactly 4 octets is a ROUTE-REFRESH
Message Error / Invalid Message Length with the whole message as data (RFC 7313 §5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from ..errors import BGPNotificationError, ErrorCode, RouteRefreshSubcode
from ..header import HEADER_LEN, MARKER, MessageType
from ..negotiated import Family, Negotiated
from ..wire import be, u8, u16
from .base import Message


@dataclass(frozen=True)
class RouteRefresh(Message):
    TYPE: ClassVar[MessageType] = MessageType.ROUTE_REFRESH
    family: Family
    subtype: int = 0

    def encode_body(self, ctx: Negotiated) -> bytes:
        return (
            u16(self.family.afi, "AFI") + u8(self.subtype, "subtype") + u8(self.family.safi, "SAFI")
        )

    @classmethod
    def decode_body(cls, body: bytes, ctx: Negotiated) -> Self:
        if len(body) != 4:
            whole = MARKER + (HEADER_LEN + len(body)).to_bytes(2, "big") + bytes([cls.TYPE]) + body
            raise BGPNotificationError(
                ErrorCode.ROUTE_REFRESH_MESSAGE_ERROR,
                RouteRefreshSubcode.INVALID_MESSAGE_LENGTH,
                whole,
                f"ROUTE-REFRESH body of {len(body)} octets",
            )
        return cls(Family(be(body[0:2]), body[3]), body[2])
