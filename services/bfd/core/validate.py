"""Datagram validation for BFD control packets (the "framer" layer for a datagram protocol).

Theory of operation
-------------------
RFC 5880 §6.8.6 lists, in order, the checks a receiver applies before a packet may touch a
session. They split into three groups:

1. layout (version, Length, authentication section shape) — done by `packet.decode`;
2. rules that need no session — `check_control()` here: Detect Mult, the M bit, My
   Discriminator, and Your Discriminator zero outside Down/AdminDown;
3. rules that need the session — TTL (RFC 5881 §5 single hop, RFC 5883 multihop),
   authentication, AdminDown — see `check_ttl()` here and `session.Session`.

`parse_control()` runs groups 1 and 2 and returns either a `ControlPacket` or a `DropReason`; it
never raises, whatever the bytes.
"""

from __future__ import annotations

from services.bfd.core.drop import DropReason, PacketDecodeError
from services.bfd.core.packet import ControlPacket, State, decode

__all__ = ["SINGLE_HOP_TTL", "check_control", "check_ttl", "parse_control"]

SINGLE_HOP_TTL = 255  # RFC 5881 §5: single-hop packets are sent and accepted with TTL 255


def check_control(packet: ControlPacket) -> DropReason | None:
    """The RFC 5880 §6.8.6 rules that need no session, in the RFC's order."""
    # RFC 5880 §6.8.6: "If the Detect Mult field is zero, the packet MUST be discarded."
    if packet.detect_mult == 0:
        return DropReason.DETECT_MULT_ZERO
    # RFC 5880 §6.8.6: "If the Multipoint (M) bit is nonzero, the packet MUST be discarded."
    if packet.multipoint:
        return DropReason.MULTIPOINT_SET
    # RFC 5880 §6.8.6: "If the My Discriminator field is zero, the packet MUST be discarded."
    if packet.my_discriminator == 0:
        return DropReason.MY_DISCRIMINATOR_ZERO
    # RFC 5880 §6.8.6: "If the Your Discriminator field is zero and the State field is not Down
    # or AdminDown, the packet MUST be discarded."
    if packet.your_discriminator == 0 and packet.state not in (State.DOWN, State.ADMIN_DOWN):
        return DropReason.YOUR_DISCRIMINATOR_ZERO_NOT_DOWN
    return None


def parse_control(data: bytes) -> ControlPacket | DropReason:
    """Decode and apply the session-less reception rules; never raises."""
    try:
        packet = decode(data)
    except PacketDecodeError as err:
        return err.reason
    reason = check_control(packet)
    return packet if reason is None else reason


def check_ttl(ttl: int, *, multihop: bool, minimum_ttl: int) -> DropReason | None:
    """TTL / Hop Limit rules for the received IP header."""
    if multihop:
        # RFC 5883: multihop packets cannot use GTSM's 255; a configured minimum TTL bounds
        # how far away the sender may be (MetalLB's BFDProfile.minimumTtl).
        return DropReason.TTL_BELOW_MINIMUM if ttl < minimum_ttl else None
    # RFC 5881 §5: "If the received TTL/Hop Limit is not 255, the packet MUST be discarded"
    # (when authentication is not in use, which is always the case here).
    return DropReason.TTL_NOT_255 if ttl != SINGLE_HOP_TTL else None
