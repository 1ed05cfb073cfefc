"""BGP error codes, and the one exception a decoder raises.

Theory of operation: a peer that breaks the protocol is answered with a NOTIFICATION and the
session is closed (RFC 4271 §6). So every decode failure in this package is a
`BGPNotificationError` that already *is* that NOTIFICATION: code, subcode and data, ready for
`Notification.from_error()`. Nothing else (IndexError, struct.error, ValueError) may escape a
decoder. A caller that hands the encoder an impossible value (a 5-octet AS number, a 300-byte
optional parameter list) has misused the API, which is `BGPEncodeError`: our bug, not the
peer's, and never sent on the wire.
"""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    """NOTIFICATION error codes (RFC 4271 §4.5, RFC 4486, RFC 7313)."""

    MESSAGE_HEADER_ERROR = 1
    OPEN_MESSAGE_ERROR = 2
    UPDATE_MESSAGE_ERROR = 3
    HOLD_TIMER_EXPIRED = 4
    FSM_ERROR = 5
    CEASE = 6
    ROUTE_REFRESH_MESSAGE_ERROR = 7


class HeaderSubcode(IntEnum):
    """Message Header Error subcodes (RFC 4271 §6.1)."""

    UNSPECIFIC = 0
    CONNECTION_NOT_SYNCHRONIZED = 1
    BAD_MESSAGE_LENGTH = 2
    BAD_MESSAGE_TYPE = 3


class OpenSubcode(IntEnum):
    """OPEN Message Error subcodes (RFC 4271 §6.2, RFC 5492 §5)."""

    UNSPECIFIC = 0
    UNSUPPORTED_VERSION_NUMBER = 1
    BAD_PEER_AS = 2
    BAD_BGP_IDENTIFIER = 3
    UNSUPPORTED_OPTIONAL_PARAMETER = 4
    UNACCEPTABLE_HOLD_TIME = 6
    UNSUPPORTED_CAPABILITY = 7


class UpdateSubcode(IntEnum):
    """UPDATE Message Error subcodes (RFC 4271 §6.3)."""

    UNSPECIFIC = 0
    MALFORMED_ATTRIBUTE_LIST = 1
    UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE = 2
    MISSING_WELL_KNOWN_ATTRIBUTE = 3
    ATTRIBUTE_FLAGS_ERROR = 4
    ATTRIBUTE_LENGTH_ERROR = 5
    INVALID_ORIGIN_ATTRIBUTE = 6
    INVALID_NEXT_HOP_ATTRIBUTE = 8
    OPTIONAL_ATTRIBUTE_ERROR = 9
    INVALID_NETWORK_FIELD = 10
    MALFORMED_AS_PATH = 11


class FsmSubcode(IntEnum):
    """Finite State Machine Error subcodes (RFC 6608 §3)."""

    UNSPECIFIED = 0
    UNEXPECTED_MESSAGE_IN_OPENSENT = 1
    UNEXPECTED_MESSAGE_IN_OPENCONFIRM = 2
    UNEXPECTED_MESSAGE_IN_ESTABLISHED = 3


class CeaseSubcode(IntEnum):
    """Cease subcodes (RFC 4486 §4, RFC 8203 for the shutdown communication)."""

    UNSPECIFIC = 0
    MAXIMUM_NUMBER_OF_PREFIXES_REACHED = 1
    ADMINISTRATIVE_SHUTDOWN = 2
    PEER_DECONFIGURED = 3
    ADMINISTRATIVE_RESET = 4
    CONNECTION_REJECTED = 5
    OTHER_CONFIGURATION_CHANGE = 6
    CONNECTION_COLLISION_RESOLUTION = 7
    OUT_OF_RESOURCES = 8


class RouteRefreshSubcode(IntEnum):
    """ROUTE-REFRESH Message Error subcodes (RFC 7313 §5)."""

    RESERVED = 0
    INVALID_MESSAGE_LENGTH = 1


SubcodeEnum = (
    HeaderSubcode | OpenSubcode | UpdateSubcode | FsmSubcode | CeaseSubcode | RouteRefreshSubcode
)

_SUBCODES: dict[int, type[IntEnum]] = {
    ErrorCode.MESSAGE_HEADER_ERROR: HeaderSubcode,
    ErrorCode.OPEN_MESSAGE_ERROR: OpenSubcode,
    ErrorCode.UPDATE_MESSAGE_ERROR: UpdateSubcode,
    ErrorCode.FSM_ERROR: FsmSubcode,
    ErrorCode.CEASE: CeaseSubcode,
    ErrorCode.ROUTE_REFRESH_MESSAGE_ERROR: RouteRefreshSubcode,
}


def describe(code: int, subcode: int) -> str:
    """Human-readable "Code/Subcode" name; unknown numbers are shown as numbers."""
    try:
        code_name = ErrorCode(code).name
    except ValueError:
        return f"{code}/{subcode}"
    enum = _SUBCODES.get(code)
    if enum is None:
        return f"{code_name}/{subcode}"
    try:
        return f"{code_name}/{enum(subcode).name}"
    except ValueError:
        return f"{code_name}/{subcode}"


class BGPNotificationError(Exception):
    """The peer broke the protocol: send this NOTIFICATION and close (RFC 4271 §6).

    `code`/`subcode` are plain ints on purpose so that a NOTIFICATION *received* with an
    unknown code can be represented too; the enums above are IntEnums and compare equal.
    """

    def __init__(self, code: int, subcode: int, data: bytes = b"", reason: str = "") -> None:
        self.code = int(code)
        self.subcode = int(subcode)
        self.data = bytes(data)
        self.reason = reason
        super().__init__(f"{describe(code, subcode)}: {reason or 'no detail'} data={data.hex()}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BGPNotificationError):
            return NotImplemented
        return (self.code, self.subcode, self.data) == (other.code, other.subcode, other.data)

    def __hash__(self) -> int:
        return hash((self.code, self.subcode, self.data))


class BGPEncodeError(ValueError):
    """Our caller asked for something that cannot be put on the wire (API misuse)."""


def header_error(
    subcode: HeaderSubcode, data: bytes = b"", reason: str = ""
) -> BGPNotificationError:
    return BGPNotificationError(ErrorCode.MESSAGE_HEADER_ERROR, subcode, data, reason)


def open_error(subcode: OpenSubcode, data: bytes = b"", reason: str = "") -> BGPNotificationError:
    return BGPNotificationError(ErrorCode.OPEN_MESSAGE_ERROR, subcode, data, reason)


def update_error(
    subcode: UpdateSubcode, data: bytes = b"", reason: str = ""
) -> BGPNotificationError:
    return BGPNotificationError(ErrorCode.UPDATE_MESSAGE_ERROR, subcode, data, reason)
