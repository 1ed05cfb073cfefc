"""The shape every message module follows: a frozen dataclass with `TYPE`, `encode_body(ctx)`
and `decode_body(body, ctx)`; `encode(ctx)` adds the header (RFC 4271 §4.1)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Self

from ..header import MessageType, frame
from ..negotiated import Negotiated


class Message(ABC):
    TYPE: ClassVar[MessageType]

    @abstractmethod
    def encode_body(self, ctx: Negotiated) -> bytes: ...

    @classmethod
    @abstractmethod
    def decode_body(cls, body: bytes, ctx: Negotiated) -> Self: ...

    def encode(self, ctx: Negotiated) -> bytes:
        """The whole message, header included."""
        return frame(self.TYPE, self.encode_body(ctx), ctx.max_message_size)
