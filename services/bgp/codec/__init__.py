"""Sans-I/O BGP-4 codec: messages, capabilities, path attributes, framer and UPDATE packer.

Theory of operation (STYLE.md §1, layers 1 and 2): everything here is a pure function of bytes
and a frozen `Negotiated` context; nothing does I/O, keeps time or imports asyncio / grpc.
- messages/: OPEN, UPDATE, NOTIFICATION, KEEPALIVE, ROUTE-REFRESH as frozen dataclasses with
  `encode(ctx)` and `decode_body(body, ctx)`; `decode_message` checks the header first.
- capabilities/ and attributes/: one module per capability / path attribute, registered by
  code; unknown ones are kept raw.
- framer.py: stream in, messages out, one byte at a time if need be.
- packer.py: many prefixes in, fewest UPDATEs out; End-of-RIB markers.
- errors.py: every malformed input raises `BGPNotificationError`, which is the NOTIFICATION to
  send (`Notification.from_error`). API misuse raises `BGPEncodeError`.
"""

from __future__ import annotations

from .errors import (
    BGPEncodeError,
    BGPNotificationError,
    CeaseSubcode,
    ErrorCode,
    FsmSubcode,
    HeaderSubcode,
    OpenSubcode,
    RouteRefreshSubcode,
    UpdateSubcode,
)
from .framer import Framer
from .header import MessageType
from .messages import (
    AnyMessage,
    Keepalive,
    Message,
    Notification,
    Open,
    RouteRefresh,
    Update,
    decode_message,
    encode_message,
)
from .negotiate import negotiate
from .negotiated import AFI, AS_TRANS, IPV4_UNICAST, IPV6_UNICAST, SAFI, Family, Negotiated
from .packer import end_of_rib, end_of_rib_family, pack_announcements, pack_withdrawals

__all__ = [
    "AFI",
    "AS_TRANS",
    "IPV4_UNICAST",
    "IPV6_UNICAST",
    "SAFI",
    "AnyMessage",
    "BGPEncodeError",
    "BGPNotificationError",
    "CeaseSubcode",
    "ErrorCode",
    "Family",
    "Framer",
    "FsmSubcode",
    "HeaderSubcode",
    "Keepalive",
    "Message",
    "MessageType",
    "Negotiated",
    "Notification",
    "Open",
    "OpenSubcode",
    "RouteRefresh",
    "RouteRefreshSubcode",
    "Update",
    "UpdateSubcode",
    "decode_message",
    "encode_message",
    "end_of_rib",
    "end_of_rib_family",
    "negotiate",
    "pack_announcements",
    "pack_withdrawals",
]
