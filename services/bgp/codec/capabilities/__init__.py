"""Capabilities (RFC 5492): one module per capability, registered here by code.

Theory of operation: the Capabilities optional parameter of an OPEN is a sequence of
<code, length, value> triples. `decode_capabilities` walks it, looks each code up in
`REGISTRY` and hands the value to that module's `decode_value`; codes not in the registry become
`UnknownCapability` (kept raw: RFC 5492 §3 says an unrecognised capability is ignored, and
keeping it lets us log and re-encode it). A malformed value of a *known* capability is an OPEN
Message Error (RFC 4271 §6.2, no more specific subcode exists) whose data is the capability.
"""

from __future__ import annotations

from ..errors import BGPEncodeError, OpenSubcode, open_error
from ..wire import u8
from .base import Capability, CapabilityFaultError
from .extended_nexthop import ExtendedNextHop, NextHopEntry
from .four_octet_as import FourOctetAS
from .graceful_restart import GracefulRestart, GracefulRestartFamily
from .multiprotocol import Multiprotocol
from .route_refresh import RouteRefreshCapability
from .unknown import UnknownCapability

REGISTRY: dict[int, type[Capability]] = {
    cls.CODE: cls
    for cls in (
        Multiprotocol,
        RouteRefreshCapability,
        ExtendedNextHop,
        GracefulRestart,
        FourOctetAS,
    )
}


def encode_capability(cap: Capability) -> bytes:
    value = cap.encode_value()
    if len(value) > 255:
        raise BGPEncodeError(f"capability {cap!r} value is {len(value)} > 255 octets")
    return u8(cap.wire_code(), "capability code") + bytes([len(value)]) + value


def decode_capability(code: int, value: bytes) -> Capability:
    """Decode one capability value; unknown codes are kept raw."""
    cls = REGISTRY.get(code)
    if cls is None:
        return UnknownCapability(code, bytes(value))
    try:
        return cls.decode_value(value)
    except CapabilityFaultError as fault:
        raise open_error(
            OpenSubcode.UNSPECIFIC, bytes([code, len(value)]) + value, str(fault)
        ) from None


def decode_capabilities(data: bytes) -> tuple[Capability, ...]:
    """All capabilities in one Capabilities optional parameter value (RFC 5492 §4)."""
    out: list[Capability] = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise open_error(OpenSubcode.UNSPECIFIC, b"", "truncated capability header")
        code, length = data[pos], data[pos + 1]
        if pos + 2 + length > len(data):
            raise open_error(OpenSubcode.UNSPECIFIC, b"", "capability runs past its parameter")
        out.append(decode_capability(code, data[pos + 2 : pos + 2 + length]))
        pos += 2 + length
    return tuple(out)


__all__ = [
    "REGISTRY",
    "Capability",
    "ExtendedNextHop",
    "FourOctetAS",
    "GracefulRestart",
    "GracefulRestartFamily",
    "Multiprotocol",
    "NextHopEntry",
    "RouteRefreshCapability",
    "UnknownCapability",
    "decode_capabilities",
    "decode_capability",
    "encode_capability",
]
