"""KEEPALIVE (RFC 4271 §4.4): the header alone, length exactly 19 (checked by the header)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from ..errors import HeaderSubcode, header_error
from ..header import MessageType
from ..negotiated import Negotiated
from .base import Message


@dataclass(frozen=True)
class Keepalive(Message):
    TYPE: ClassVar[MessageType] = MessageType.KEEPALIVE

    def encode_body(self, ctx: Negotiated) -> bytes:
        return b""

    @classmethod
    def decode_body(cls, body: bytes, ctx: Negotiated) -> Self:
        if body:
            # §6.1: a KEEPALIVE whose length is not 19
            raise header_error(
                HeaderSubcode.BAD_MESSAGE_LENGTH, (19 + len(body)).to_bytes(2, "big")
            )
        return cls()
