"""Graceful Restart capability, code 64 (RFC 4724 §3, N bit from RFC 8538 §2).

Value: Restart Flags (4 bits: R = restarting, N = graceful notification) and Restart Time in
seconds (12 bits), then per family <AFI (2), SAFI (1), Flags (1; F = forwarding state kept)>.
Reserved bits are sent as zero and ignored on receipt (RFC 4724 §3), so they are not kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from ..errors import BGPEncodeError
from ..negotiated import Family
from ..wire import be, u8, u16
from .base import Capability, CapabilityFaultError

RESTART_FLAG_R = 0x8  # RFC 4724 §3: Restart State
RESTART_FLAG_N = 0x4  # RFC 8538 §2: graceful Notification
FAMILY_FLAG_F = 0x80  # RFC 4724 §3: Forwarding State


@dataclass(frozen=True)
class GracefulRestartFamily:
    family: Family
    forwarding_preserved: bool = False


@dataclass(frozen=True)
class GracefulRestart(Capability):
    CODE: ClassVar[int] = 64
    restart_time: int
    restarting: bool = False
    notification: bool = False
    families: tuple[GracefulRestartFamily, ...] = ()

    def encode_value(self) -> bytes:
        if not 0 <= self.restart_time <= 0xFFF:
            raise BGPEncodeError(f"restart time {self.restart_time} does not fit in 12 bits")
        flags = (RESTART_FLAG_R if self.restarting else 0) | (
            RESTART_FLAG_N if self.notification else 0
        )
        out = bytearray(u16((flags << 12) | self.restart_time, "restart flags/time"))
        for f in self.families:
            out += u16(f.family.afi, "AFI") + u8(f.family.safi, "SAFI")
            out.append(FAMILY_FLAG_F if f.forwarding_preserved else 0)
        return bytes(out)

    @classmethod
    def decode_value(cls, value: bytes) -> Self:
        if len(value) < 2 or (len(value) - 2) % 4:  # RFC 4724 §3: 2 + 4 * families
            raise CapabilityFaultError(f"graceful restart length {len(value)} is not 2 + 4n")
        head = be(value[0:2])
        families = tuple(
            GracefulRestartFamily(
                Family(be(value[i : i + 2]), value[i + 2]), bool(value[i + 3] & FAMILY_FLAG_F)
            )
            for i in range(2, len(value), 4)
        )
        return cls(
            restart_time=head & 0xFFF,
            restarting=bool((head >> 12) & RESTART_FLAG_R),
            notification=bool((head >> 12) & RESTART_FLAG_N),
            families=families,
        )
