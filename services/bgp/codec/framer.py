"""Framer: a TCP byte stream in, whole BGP messages out (RFC 4271 §4.1, §6.1).

Theory of operation: `feed(chunk)` appends to a buffer and returns an iterator over the messages
now complete. As soon as 19 octets of a header are buffered the header is checked, so a
desynchronised or hostile stream fails at once rather than after a 4,096-octet wait. Messages
are decoded lazily, one per `next()`, with whatever `negotiated` holds at that moment: when the
OPEN is read the session can install the new context before the next message (which may already
be in the same chunk) is decoded. Messages not consumed stay buffered for the next call.
After an error the framer is dead: the session must send the NOTIFICATION and close, and every
later call raises the same error.
"""

from __future__ import annotations

from collections.abc import Iterator

from .errors import BGPNotificationError
from .header import HEADER_LEN, MessageType, check_header
from .messages import AnyMessage, decode_body
from .negotiated import Negotiated


class Framer:
    def __init__(self, negotiated: Negotiated | None = None) -> None:
        self.negotiated = negotiated if negotiated is not None else Negotiated()
        self._buffer = bytearray()
        self._error: BGPNotificationError | None = None

    @property
    def buffered(self) -> int:
        """Octets received but not yet returned as a message."""
        return len(self._buffer)

    def feed(self, data: bytes) -> Iterator[AnyMessage]:
        """Buffer `data`; iterate the result to get the messages it completes."""
        if self._error is not None:
            raise self._error
        self._buffer += data
        return self._drain()

    def _drain(self) -> Iterator[AnyMessage]:
        while (message := self.next_message()) is not None:
            yield message

    def next_frame(self) -> tuple[MessageType, bytes] | None:
        """The next whole (type, body), header-checked but not decoded, or None."""
        if self._error is not None:
            raise self._error
        if len(self._buffer) < HEADER_LEN:
            return None
        try:
            length, kind = check_header(
                bytes(self._buffer[:HEADER_LEN]), self.negotiated.max_message_size
            )
        except BGPNotificationError as error:
            self._error = error
            raise
        if len(self._buffer) < length:
            return None
        body = bytes(self._buffer[HEADER_LEN:length])
        del self._buffer[:length]
        return kind, body

    def next_message(self) -> AnyMessage | None:
        """The next whole decoded message, or None if more bytes are needed."""
        frame = self.next_frame()
        if frame is None:
            return None
        try:
            return decode_body(frame[0], frame[1], self.negotiated)
        except BGPNotificationError as error:
            self._error = error
            raise
