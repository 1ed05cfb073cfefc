"""BGP messages, one module per type, registered by type code (RFC 4271 §4, RFC 2918).

Theory of operation: `decode_message(data, ctx)` checks the header (header.py, RFC 4271 §6.1),
then hands the body to the module registered for the type. Every failure is a
`BGPNotificationError`. `encode_message` is `message.encode(ctx)`.
"""

from __future__ import annotations

from ..errors import HeaderSubcode, header_error
from ..header import HEADER_LEN, MessageType, check_header
from ..negotiated import Negotiated
from .base import Message
from .keepalive import Keepalive
from .notification import Notification
from .open import Open
from .route_refresh import RouteRefresh
from .update import Update

AnyMessage = Open | Update | Notification | Keepalive | RouteRefresh

REGISTRY: dict[MessageType, type[AnyMessage]] = {
    cls.TYPE: cls for cls in (Open, Update, Notification, Keepalive, RouteRefresh)
}


def decode_body(kind: MessageType, body: bytes, ctx: Negotiated) -> AnyMessage:
    return REGISTRY[kind].decode_body(body, ctx)


def decode_message(data: bytes, ctx: Negotiated) -> AnyMessage:
    """Decode exactly one whole message (header included)."""
    length, kind = check_header(data[:HEADER_LEN], ctx.max_message_size)
    if length != len(data):
        raise header_error(
            HeaderSubcode.BAD_MESSAGE_LENGTH, bytes(data[16:18]), f"{len(data)} octets given"
        )
    return decode_body(kind, bytes(data[HEADER_LEN:]), ctx)


def encode_message(message: Message, ctx: Negotiated) -> bytes:
    return message.encode(ctx)


__all__ = [
    "REGISTRY",
    "AnyMessage",
    "Keepalive",
    "Message",
    "Notification",
    "Open",
    "RouteRefresh",
    "Update",
    "decode_body",
    "decode_message",
    "encode_message",
]
