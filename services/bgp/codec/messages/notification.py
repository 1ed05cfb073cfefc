"""NOTIFICATION (RFC 4271 §4.5): Error code (1), Error subcode (1), Data (rest).

Decoding never fails on unknown codes (a peer may use newer ones); `from_error` turns the
exception a decoder raised into the message to send. For Cease / Administrative Shutdown or
Reset, the data may be a shutdown communication: a length octet then UTF-8 (RFC 8203 §2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from ..errors import (
    BGPNotificationError,
    CeaseSubcode,
    ErrorCode,
    HeaderSubcode,
    describe,
    header_error,
)
from ..header import HEADER_LEN, MessageType
from ..negotiated import Negotiated
from ..wire import u8
from .base import Message


@dataclass(frozen=True)
class Notification(Message):
    TYPE: ClassVar[MessageType] = MessageType.NOTIFICATION
    code: int
    subcode: int = 0
    data: bytes = b""

    @classmethod
    def from_error(cls, error: BGPNotificationError) -> Notification:
        return cls(error.code, error.subcode, error.data)

    @classmethod
    def shutdown(cls, message: str, subcode: int = CeaseSubcode.ADMINISTRATIVE_SHUTDOWN) -> Self:
        """Cease with a shutdown communication (RFC 8203 §2; at most 128 octets of UTF-8)."""
        raw = message.encode()[:128]
        while raw:
            try:
                raw.decode()
                break
            except UnicodeDecodeError:
                raw = raw[:-1]  # do not cut a character in half
        return cls(ErrorCode.CEASE, subcode, bytes([len(raw)]) + raw)

    def shutdown_message(self) -> str | None:
        """The RFC 8203 shutdown communication, if this carries a well-formed one."""
        admin = (CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, CeaseSubcode.ADMINISTRATIVE_RESET)
        if self.code != ErrorCode.CEASE or self.subcode not in admin or not self.data:
            return None
        if self.data[0] + 1 > len(self.data):
            return None
        try:
            return self.data[1 : 1 + self.data[0]].decode()
        except UnicodeDecodeError:
            return None

    def __str__(self) -> str:
        return f"NOTIFICATION {describe(self.code, self.subcode)} data={self.data.hex()}"

    def encode_body(self, ctx: Negotiated) -> bytes:
        return u8(self.code, "error code") + u8(self.subcode, "error subcode") + self.data

    @classmethod
    def decode_body(cls, body: bytes, ctx: Negotiated) -> Self:
        if len(body) < 2:
            length = (HEADER_LEN + len(body)).to_bytes(2, "big")
            raise header_error(HeaderSubcode.BAD_MESSAGE_LENGTH, length, "NOTIFICATION < 21")
        return cls(body[0], body[1], bytes(body[2:]))
