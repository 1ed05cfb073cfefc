"""OPEN (RFC 4271 §4.2) with Capabilities optional parameters (RFC 5492 §4).

Body: Version (1) = 4, My Autonomous System (2), Hold Time (2), BGP Identifier (4), Optional
Parameters Length (1), Optional Parameters <type (1), length (1), value>. The only parameter
type in use is 2, Capabilities; a parameter may hold several capabilities and a speaker may send
several parameters (GoBGP sends one per capability, BIRD one for all), so `parameters` keeps that
grouping and re-encoding a received OPEN gives back its bytes; `capabilities` flattens it.
RFC 9072 extended optional parameters are not supported (they are refused as an unsupported
optional parameter, which makes the peer fall back to the classic form).

Checks (RFC 4271 §6.2 unless noted): version 4 else Unsupported Version Number with data = 4;
Hold Time 1 or 2 is Unacceptable Hold Time; BGP Identifier 0 is Bad BGP Identifier (RFC 6286
§2.2); My AS 0 (or 4-octet AS 0) is Bad Peer AS (RFC 7607 §2); unknown parameter types are
Unsupported Optional Parameter. Matching the peer AS and the identifier against configuration
is the session's job, not the codec's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import ClassVar, Self

from ..capabilities import Capability, FourOctetAS, decode_capabilities, encode_capability
from ..errors import BGPEncodeError, OpenSubcode, open_error
from ..header import MessageType
from ..negotiated import AS_TRANS, Negotiated
from ..wire import be, u8, u16
from .base import Message

BGP_VERSION = 4
PARAM_CAPABILITIES = 2  # RFC 5492 §4


@dataclass(frozen=True)
class Open(Message):
    TYPE: ClassVar[MessageType] = MessageType.OPEN
    my_as: int
    hold_time: int
    bgp_id: IPv4Address
    parameters: tuple[tuple[Capability, ...], ...] = ()
    version: int = BGP_VERSION

    @classmethod
    def build(
        cls, asn: int, hold_time: int, bgp_id: IPv4Address, capabilities: Iterable[Capability]
    ) -> Open:
        """An OPEN for `asn`, with AS_TRANS in My AS if it needs 4 octets (RFC 6793 §4.1)."""
        caps = tuple(capabilities)
        if asn > 0xFFFF and not any(isinstance(c, FourOctetAS) for c in caps):
            raise BGPEncodeError(f"AS {asn} needs the 4-octet AS capability")
        return cls(asn if asn <= 0xFFFF else AS_TRANS, hold_time, bgp_id, (caps,) if caps else ())

    @property
    def capabilities(self) -> tuple[Capability, ...]:
        return tuple(c for param in self.parameters for c in param)

    @property
    def asn(self) -> int:
        """The sender's AS: the 4-octet AS capability if present, else My AS (RFC 6793 §4.1)."""
        for cap in self.capabilities:
            if isinstance(cap, FourOctetAS):
                return cap.asn
        return self.my_as

    def encode_body(self, ctx: Negotiated) -> bytes:
        params = bytearray()
        for group in self.parameters:
            value = b"".join(encode_capability(c) for c in group)
            if len(value) > 255:
                raise BGPEncodeError(f"capabilities parameter of {len(value)} > 255 octets")
            params += bytes([PARAM_CAPABILITIES, len(value)]) + value
        if len(params) > 255:
            raise BGPEncodeError(f"optional parameters of {len(params)} > 255 octets (RFC 9072)")
        return (
            u8(self.version, "version")
            + u16(self.my_as, "My AS")
            + u16(self.hold_time, "hold time")
            + self.bgp_id.packed
            + bytes([len(params)])
            + bytes(params)
        )

    @classmethod
    def decode_body(cls, body: bytes, ctx: Negotiated) -> Self:
        if len(body) < 10:
            raise open_error(OpenSubcode.UNSPECIFIC, b"", f"OPEN body of {len(body)} < 10 octets")
        version = body[0]
        if version != BGP_VERSION:
            # §6.2: data = the largest locally supported version (2 octets)
            raise open_error(
                OpenSubcode.UNSUPPORTED_VERSION_NUMBER,
                BGP_VERSION.to_bytes(2, "big"),
                f"v{version}",
            )
        my_as = be(body[1:3])
        hold_time = be(body[3:5])
        if hold_time in (1, 2):  # §6.2: MUST reject 1 or 2 seconds
            raise open_error(OpenSubcode.UNACCEPTABLE_HOLD_TIME, b"", f"hold time {hold_time}")
        bgp_id = IPv4Address(bytes(body[5:9]))
        if int(bgp_id) == 0:  # RFC 6286 §2.2: a non-zero 4-octet value
            raise open_error(OpenSubcode.BAD_BGP_IDENTIFIER, b"", "BGP Identifier 0")
        if my_as == 0:  # RFC 7607 §2
            raise open_error(OpenSubcode.BAD_PEER_AS, b"", "My AS 0")
        opt_len = body[9]
        if 10 + opt_len != len(body):
            raise open_error(
                OpenSubcode.UNSPECIFIC, b"", f"optional parameters length {opt_len} mismatch"
            )
        params: list[tuple[Capability, ...]] = []
        pos = 10
        while pos < len(body):
            if pos + 2 > len(body):
                raise open_error(OpenSubcode.UNSPECIFIC, b"", "truncated optional parameter")
            ptype, plen = body[pos], body[pos + 1]
            if pos + 2 + plen > len(body):
                raise open_error(OpenSubcode.UNSPECIFIC, b"", "optional parameter overruns")
            if ptype != PARAM_CAPABILITIES:
                # §6.2: Unsupported Optional Parameter (also RFC 9072's type 255)
                raise open_error(
                    OpenSubcode.UNSUPPORTED_OPTIONAL_PARAMETER, b"", f"parameter type {ptype}"
                )
            params.append(decode_capabilities(body[pos + 2 : pos + 2 + plen]))
            pos += 2 + plen
        result = cls(my_as, hold_time, bgp_id, tuple(params), version)
        if result.asn == 0:  # RFC 7607 §2: 4-octet AS capability carrying 0
            raise open_error(OpenSubcode.BAD_PEER_AS, b"", "4-octet AS 0")
        return result
