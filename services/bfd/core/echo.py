"""Our BFD Echo packet payload (RFC 5880 §6.4, RFC 5881 §4).

Theory of operation
-------------------
An Echo packet is sent to the peer with our own address as destination, so the peer's
forwarding plane loops it straight back to us; the peer never parses it (RFC 5880 §6.4: "the
payload of a transmitted Echo packet is a local matter"). We therefore define the format:

    0       4       5       8              12             16                      24
    +-------+-------+-------+--------------+--------------+-----------------------+
    | "MLBE"| ver 1 | zero  | discriminator|   sequence   | timestamp (µs, u64)   |
    +-------+-------+-------+--------------+--------------+-----------------------+

The discriminator is the sending session's bfd.LocalDiscr, which lets the session table hand a
returning packet to its session; the sequence number and the transmit timestamp (the core's
`now` in microseconds, modulo 2**64) let the session measure the round trip.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from services.bfd.core.drop import DropReason, PacketDecodeError

__all__ = ["ECHO_MAGIC", "ECHO_PACKET_LEN", "EchoPacket", "decode_echo", "encode_echo"]

ECHO_MAGIC = b"MLBE"
_ECHO_VERSION = 1
_ECHO = struct.Struct("!4sB3xIIQ")
ECHO_PACKET_LEN = _ECHO.size  # 24


@dataclass(frozen=True, slots=True)
class EchoPacket:
    discriminator: int
    sequence: int
    timestamp_us: int


def encode_echo(packet: EchoPacket) -> bytes:
    return _ECHO.pack(
        ECHO_MAGIC, _ECHO_VERSION, packet.discriminator, packet.sequence, packet.timestamp_us
    )


def decode_echo(data: bytes) -> EchoPacket:
    """Parse our echo payload; raise `PacketDecodeError` for anything that is not one."""
    if len(data) != ECHO_PACKET_LEN:
        raise PacketDecodeError(DropReason.ECHO_MALFORMED)
    magic, version, discriminator, sequence, timestamp_us = _ECHO.unpack(data)
    if magic != ECHO_MAGIC or version != _ECHO_VERSION:
        raise PacketDecodeError(DropReason.ECHO_MALFORMED)
    return EchoPacket(discriminator, sequence, timestamp_us)
