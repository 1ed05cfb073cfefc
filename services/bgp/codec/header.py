"""The 19-octet message header (RFC 4271 §4.1) and its checks (RFC 4271 §6.1).

Header: Marker (16 octets, all ones), Length (2 octets, whole message, 19..4096), Type (1).
`check_header` applies §6.1 in order: marker, length bounds, known type, the per-type minimum
(KEEPALIVE exactly 19). It runs as soon as 19 octets are in hand, so the framer rejects a
bad stream before waiting for a body that may never come.
"""

from __future__ import annotations

from enum import IntEnum

from .errors import BGPEncodeError, HeaderSubcode, header_error
from .negotiated import MAX_MESSAGE_SIZE

MARKER = b"\xff" * 16
HEADER_LEN = 19


class MessageType(IntEnum):
    OPEN = 1  # RFC 4271 §4.2
    UPDATE = 2  # RFC 4271 §4.3
    NOTIFICATION = 3  # RFC 4271 §4.5
    KEEPALIVE = 4  # RFC 4271 §4.4
    ROUTE_REFRESH = 5  # RFC 2918 §3


#: Smallest valid total length per type (RFC 4271 §4.2-§4.5, RFC 2918 §3).
MIN_LENGTH = {
    MessageType.OPEN: 29,
    MessageType.UPDATE: 23,
    MessageType.NOTIFICATION: 21,
    MessageType.KEEPALIVE: 19,
    MessageType.ROUTE_REFRESH: 23,
}


def check_header(header: bytes, max_size: int = MAX_MESSAGE_SIZE) -> tuple[int, MessageType]:
    """(length, type) of a message whose first 19 octets are `header`, or the §6.1 error."""
    if len(header) < HEADER_LEN:
        raise header_error(HeaderSubcode.BAD_MESSAGE_LENGTH, b"", "shorter than a header")
    if header[:16] != MARKER:
        # §6.1: marker not all ones -> Connection Not Synchronized
        raise header_error(HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED, b"", "bad marker")
    length_field = bytes(header[16:18])
    length = int.from_bytes(length_field, "big")
    if not HEADER_LEN <= length <= max_size:
        # §6.1: Bad Message Length, data = the erroneous Length field
        raise header_error(HeaderSubcode.BAD_MESSAGE_LENGTH, length_field, f"length {length}")
    try:
        kind = MessageType(header[18])
    except ValueError:
        # §6.1: Bad Message Type, data = the erroneous Type field
        raise header_error(
            HeaderSubcode.BAD_MESSAGE_TYPE, bytes([header[18]]), f"type {header[18]}"
        ) from None
    if length < MIN_LENGTH[kind] or (kind == MessageType.KEEPALIVE and length != HEADER_LEN):
        # §6.1: per-type minimum, KEEPALIVE exactly 19
        raise header_error(
            HeaderSubcode.BAD_MESSAGE_LENGTH, length_field, f"length {length} for {kind.name}"
        )
    return length, kind


def frame(kind: MessageType, body: bytes, max_size: int = MAX_MESSAGE_SIZE) -> bytes:
    """Prefix `body` with a header."""
    length = HEADER_LEN + len(body)
    if length > max_size:
        raise BGPEncodeError(f"{kind.name} of {length} octets exceeds {max_size}")
    return MARKER + length.to_bytes(2, "big") + bytes([kind]) + body
