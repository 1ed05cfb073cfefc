"""Named reasons for discarding a received BFD packet.

Theory of operation
-------------------
Every rule that makes a receiver discard a packet (RFC 5880 §6.8.6, RFC 5881 §5, RFC 5883,
and our own echo checks) has one `DropReason`. Parsers raise `PacketDecodeError(reason)`; the
session and session-table entry points catch it and turn it into a `PacketDropped` event plus a
per-reason counter, so a malformed datagram never escapes as an exception. The enum values are
stable snake_case strings meant to be used directly as metric labels.
"""

from __future__ import annotations

import enum

__all__ = ["DropReason", "PacketDecodeError"]


class DropReason(enum.Enum):
    """Why a received packet was discarded. The value is the metric label."""

    # --- codec (RFC 5880 §6.8.6, layout) ---
    TRUNCATED = "truncated"  # shorter than the 24-byte mandatory section
    BAD_VERSION = "bad_version"
    LENGTH_TOO_SMALL = "length_too_small"  # Length < 24, or < 26 with the A bit
    LENGTH_EXCEEDS_PAYLOAD = "length_exceeds_payload"
    AUTH_SECTION_MALFORMED = "auth_section_malformed"
    # --- reception rules needing no session (RFC 5880 §6.8.6) ---
    DETECT_MULT_ZERO = "detect_mult_zero"
    MULTIPOINT_SET = "multipoint_set"
    MY_DISCRIMINATOR_ZERO = "my_discriminator_zero"
    YOUR_DISCRIMINATOR_ZERO_NOT_DOWN = "your_discriminator_zero_not_down"
    # --- session selection (RFC 5880 §6.8.6) ---
    UNKNOWN_YOUR_DISCRIMINATOR = "unknown_your_discriminator"
    # A known Your Discriminator from an address other than the session's peer: a guessed or
    # sniffed discriminator must not let another host drive the session (issue 15).
    SOURCE_NOT_SESSION_PEER = "source_not_session_peer"
    NO_SESSION_FOR_PEER = "no_session_for_peer"
    # --- rules needing the session ---
    AUTH_NOT_IN_USE = "auth_not_in_use"  # A bit set while bfd.AuthType is zero
    TTL_NOT_255 = "ttl_not_255"  # RFC 5881 §5, single hop (GTSM)
    TTL_BELOW_MINIMUM = "ttl_below_minimum"  # RFC 5883, multihop minimum TTL
    SESSION_ADMIN_DOWN = "session_admin_down"  # RFC 5880 §6.8.6: discard in AdminDown
    WRONG_PORT = "wrong_port"  # a single-hop session's packet on 4784 or a multihop's on 3784
    # --- echo (our own format, RFC 5880 §6.4) ---
    ECHO_MALFORMED = "echo_malformed"
    ECHO_NOT_OURS = "echo_not_ours"  # another session's or another system's echo
    ECHO_NOT_ACTIVE = "echo_not_active"  # echo function not running for this session


class PacketDecodeError(ValueError):
    """A received packet broke the protocol; `reason` says which rule."""

    def __init__(self, reason: DropReason) -> None:
        super().__init__(reason.value)
        self.reason = reason
