"""Fixed-width integer packing with range checks that raise `BGPEncodeError`.

`struct.pack` raises `struct.error` for out-of-range values; the encoders use these helpers so
that misuse surfaces as one named exception (STYLE.md §2). Decoders read with
`int.from_bytes` on slices whose length they have already checked.
"""

from __future__ import annotations

from .errors import BGPEncodeError


def uint(value: int, octets: int, what: str) -> bytes:
    if not 0 <= value < 1 << (8 * octets):
        raise BGPEncodeError(f"{what}={value} does not fit in {octets} octet(s)")
    return value.to_bytes(octets, "big")


def u8(value: int, what: str) -> bytes:
    return uint(value, 1, what)


def u16(value: int, what: str) -> bytes:
    return uint(value, 2, what)


def u32(value: int, what: str) -> bytes:
    return uint(value, 4, what)


def be(data: bytes) -> int:
    return int.from_bytes(data, "big")
