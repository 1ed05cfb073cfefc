"""BFD control packet codec (RFC 5880 §4).

Theory of operation
-------------------
A BFD control packet is a fixed 24-byte mandatory section (§4.1), optionally followed by an
authentication section (§4.2–§4.4) when the A bit is set. `ControlPacket` is a frozen dataclass
holding every field with its wire meaning (intervals stay in microseconds, as on the wire);
`encode()` and `decode()` are pure functions over bytes.

`decode()` only checks what it needs to know the packet's layout: the version (a different version
could have a different layout), the Length field against the minimum and the datagram, and the
shape of the authentication section. It raises `PacketDecodeError` carrying a `DropReason`, and
never any other exception. The semantic reception rules of §6.8.6 that need no session (detect
multiplier zero, M bit, discriminators) live in `validate.py`; the rules that need a session live
in `session.py`.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from services.bfd.core.drop import DropReason, PacketDecodeError

__all__ = [
    "BFD_VERSION",
    "CONTROL_PACKET_LEN",
    "AuthSection",
    "AuthType",
    "ControlPacket",
    "Diagnostic",
    "KeyedHashAuth",
    "SimplePasswordAuth",
    "State",
    "UnknownAuth",
    "decode",
    "encode",
]

BFD_VERSION = 1  # RFC 5880 §4.1: "This document defines protocol version 1."
CONTROL_PACKET_LEN = 24  # RFC 5880 §4.1: mandatory section without authentication
_MIN_LEN_WITH_AUTH = 26  # RFC 5880 §6.8.6: 26 if the A bit is set
_HEADER = struct.Struct("!BBBBIIIII")


class State(enum.IntEnum):
    """Session state (RFC 5880 §4.1 "Sta" field; §6.2)."""

    ADMIN_DOWN = 0
    DOWN = 1
    INIT = 2
    UP = 3


class Diagnostic(enum.IntEnum):
    """Diagnostic codes (RFC 5880 §4.1 "Diag" field). Values 9–31 are reserved."""

    NO_DIAGNOSTIC = 0
    CONTROL_DETECTION_TIME_EXPIRED = 1
    ECHO_FUNCTION_FAILED = 2
    NEIGHBOR_SIGNALED_SESSION_DOWN = 3
    FORWARDING_PLANE_RESET = 4
    PATH_DOWN = 5
    CONCATENATED_PATH_DOWN = 6
    ADMINISTRATIVELY_DOWN = 7
    REVERSE_CONCATENATED_PATH_DOWN = 8


class AuthType(enum.IntEnum):
    """Authentication types (RFC 5880 §4.1 "Auth Type")."""

    RESERVED = 0
    SIMPLE_PASSWORD = 1
    KEYED_MD5 = 2
    METICULOUS_KEYED_MD5 = 3
    KEYED_SHA1 = 4
    METICULOUS_KEYED_SHA1 = 5


_DIGEST_LEN = {
    AuthType.KEYED_MD5: 16,  # RFC 5880 §4.3: Auth Len 24, 16-byte digest
    AuthType.METICULOUS_KEYED_MD5: 16,
    AuthType.KEYED_SHA1: 20,  # RFC 5880 §4.4: Auth Len 28, 20-byte hash
    AuthType.METICULOUS_KEYED_SHA1: 20,
}


@dataclass(frozen=True, slots=True)
class SimplePasswordAuth:
    """RFC 5880 §4.2: Auth Key ID and a password of 1 to 16 bytes."""

    key_id: int
    password: bytes

    @property
    def auth_type(self) -> AuthType:
        return AuthType.SIMPLE_PASSWORD


@dataclass(frozen=True, slots=True)
class KeyedHashAuth:
    """RFC 5880 §4.3 (Keyed MD5, Meticulous Keyed MD5) and §4.4 (Keyed SHA1, Meticulous).

    `digest` is the 16-byte MD5 digest or the 20-byte SHA1 hash, as carried on the wire.
    """

    auth_type: AuthType
    key_id: int
    sequence: int
    digest: bytes


@dataclass(frozen=True, slots=True)
class UnknownAuth:
    """An authentication section of a type this codec does not know (0 or 6–255)."""

    type_code: int
    data: bytes  # everything after the Auth Type and Auth Len bytes


AuthSection = SimplePasswordAuth | KeyedHashAuth | UnknownAuth


@dataclass(frozen=True, slots=True)
class ControlPacket:
    """A BFD control packet, RFC 5880 §4.1. Intervals are in microseconds."""

    state: State
    my_discriminator: int
    your_discriminator: int
    detect_mult: int
    desired_min_tx: int
    required_min_rx: int
    required_min_echo_rx: int = 0
    diag: int = Diagnostic.NO_DIAGNOSTIC  # 5 bits; reserved codes are kept as plain ints
    poll: bool = False
    final: bool = False
    control_plane_independent: bool = False
    demand: bool = False
    multipoint: bool = False
    auth: AuthSection | None = None

    @property
    def diagnostic(self) -> Diagnostic | None:
        """The diagnostic as an enum, or None for a reserved code (9–31)."""
        try:
            return Diagnostic(self.diag)
        except ValueError:
            return None


def _encode_auth(auth: AuthSection) -> bytes:
    if isinstance(auth, SimplePasswordAuth):
        body = bytes([auth.key_id]) + auth.password
        return bytes([AuthType.SIMPLE_PASSWORD, 2 + len(body)]) + body
    if isinstance(auth, KeyedHashAuth):
        body = struct.pack("!BBI", auth.key_id, 0, auth.sequence) + auth.digest
        return bytes([auth.auth_type, 2 + len(body)]) + body
    return bytes([auth.type_code, 2 + len(auth.data)]) + auth.data


def encode(packet: ControlPacket) -> bytes:
    """Serialise a control packet (RFC 5880 §4.1). The A bit and Length follow `auth`.

    A field too wide for the wire is the caller's error (ValueError / struct.error), not a drop.
    """
    if not 0 <= packet.diag <= 0x1F:
        raise ValueError(f"diag {packet.diag} does not fit in 5 bits")
    auth = b"" if packet.auth is None else _encode_auth(packet.auth)
    flags = (
        (packet.poll << 5)
        | (packet.final << 4)
        | (packet.control_plane_independent << 3)
        | ((packet.auth is not None) << 2)
        | (packet.demand << 1)
        | packet.multipoint
    )
    header = _HEADER.pack(
        (BFD_VERSION << 5) | (packet.diag & 0x1F),
        (int(packet.state) << 6) | flags,
        packet.detect_mult,
        CONTROL_PACKET_LEN + len(auth),
        packet.my_discriminator,
        packet.your_discriminator,
        packet.desired_min_tx,
        packet.required_min_rx,
        packet.required_min_echo_rx,
    )
    return header + auth


def _decode_auth(section: bytes) -> AuthSection:
    """Decode the authentication section (RFC 5880 §4.2–§4.4); `section` is exactly Auth Len."""
    type_code = section[0]
    body = section[2:]
    if type_code == AuthType.SIMPLE_PASSWORD:
        # RFC 5880 §4.2: the password is 1 to 16 bytes, so Auth Len is 4 to 19.
        if not 4 <= len(section) <= 19:
            raise PacketDecodeError(DropReason.AUTH_SECTION_MALFORMED)
        return SimplePasswordAuth(key_id=body[0], password=bytes(body[1:]))
    if type_code in _DIGEST_LEN:
        kind = AuthType(type_code)
        # RFC 5880 §4.3/§4.4: fixed Auth Len (24 for MD5, 28 for SHA1).
        if len(section) != 8 + _DIGEST_LEN[kind]:
            raise PacketDecodeError(DropReason.AUTH_SECTION_MALFORMED)
        key_id, _reserved, sequence = struct.unpack_from("!BBI", body)
        return KeyedHashAuth(kind, key_id, sequence, bytes(body[6:]))
    return UnknownAuth(type_code, bytes(body))


def decode(data: bytes) -> ControlPacket:
    """Parse a control packet; raise `PacketDecodeError` (and nothing else) if it is malformed."""
    if len(data) < CONTROL_PACKET_LEN:
        raise PacketDecodeError(DropReason.TRUNCATED)
    (vers_diag, sta_flags, detect_mult, length, my_disc, your_disc, tx, rx, echo_rx) = (
        _HEADER.unpack_from(data)
    )
    # RFC 5880 §6.8.6: "If the version number is not correct (1), the packet MUST be discarded."
    if vers_diag >> 5 != BFD_VERSION:
        raise PacketDecodeError(DropReason.BAD_VERSION)
    has_auth = bool(sta_flags & 0x04)
    # RFC 5880 §6.8.6: Length less than 24 (A clear) or 26 (A set) MUST be discarded.
    if length < (_MIN_LEN_WITH_AUTH if has_auth else CONTROL_PACKET_LEN):
        raise PacketDecodeError(DropReason.LENGTH_TOO_SMALL)
    # RFC 5880 §6.8.6: Length greater than the encapsulating payload MUST be discarded.
    if length > len(data):
        raise PacketDecodeError(DropReason.LENGTH_EXCEEDS_PAYLOAD)
    auth: AuthSection | None = None
    if has_auth:
        section = data[CONTROL_PACKET_LEN:length]
        # RFC 5880 §4.1: Auth Len covers the whole section, including Type and Len.
        if section[1] != len(section):
            raise PacketDecodeError(DropReason.AUTH_SECTION_MALFORMED)
        auth = _decode_auth(section)
    return ControlPacket(
        state=State(sta_flags >> 6),
        my_discriminator=my_disc,
        your_discriminator=your_disc,
        detect_mult=detect_mult,
        desired_min_tx=tx,
        required_min_rx=rx,
        required_min_echo_rx=echo_rx,
        diag=vers_diag & 0x1F,
        poll=bool(sta_flags & 0x20),
        final=bool(sta_flags & 0x10),
        control_plane_independent=bool(sta_flags & 0x08),
        demand=bool(sta_flags & 0x02),
        multipoint=bool(sta_flags & 0x01),
        auth=auth,
    )
