"""Control packet and echo payload codecs (RFC 5880 §4): round trips, malformed input."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.bfd.core.drop import DropReason, PacketDecodeError
from services.bfd.core.echo import EchoPacket, decode_echo, encode_echo
from services.bfd.core.packet import (
    AuthSection,
    AuthType,
    ControlPacket,
    Diagnostic,
    KeyedHashAuth,
    SimplePasswordAuth,
    State,
    UnknownAuth,
    decode,
    encode,
)
from services.bfd.core.validate import parse_control

u8 = st.integers(0, 0xFF)
u32 = st.integers(0, 0xFFFFFFFF)


@st.composite
def auth_sections(draw: st.DrawFn) -> AuthSection:
    kind = draw(st.sampled_from(["simple", "hash", "unknown"]))
    if kind == "simple":
        return SimplePasswordAuth(draw(u8), draw(st.binary(min_size=1, max_size=16)))
    if kind == "hash":
        auth_type = draw(
            st.sampled_from(
                [
                    AuthType.KEYED_MD5,
                    AuthType.METICULOUS_KEYED_MD5,
                    AuthType.KEYED_SHA1,
                    AuthType.METICULOUS_KEYED_SHA1,
                ]
            )
        )
        size = 16 if auth_type in (AuthType.KEYED_MD5, AuthType.METICULOUS_KEYED_MD5) else 20
        return KeyedHashAuth(
            auth_type, draw(u8), draw(u32), draw(st.binary(min_size=size, max_size=size))
        )
    type_code = draw(st.sampled_from([0, *range(6, 256)]))
    return UnknownAuth(type_code, draw(st.binary(max_size=200)))


control_packets = st.builds(
    ControlPacket,
    state=st.sampled_from(State),
    my_discriminator=u32,
    your_discriminator=u32,
    detect_mult=u8,
    desired_min_tx=u32,
    required_min_rx=u32,
    required_min_echo_rx=u32,
    diag=st.integers(0, 31),
    poll=st.booleans(),
    final=st.booleans(),
    control_plane_independent=st.booleans(),
    demand=st.booleans(),
    multipoint=st.booleans(),
    auth=st.none() | auth_sections(),
)


@given(control_packets)
def test_control_round_trip(packet: ControlPacket) -> None:
    data = encode(packet)
    assert decode(data) == packet
    assert data[3] == len(data)  # Length covers the whole packet, auth included
    assert encode(decode(data)) == data


@given(control_packets, st.binary(max_size=40))
def test_trailing_bytes_after_length_are_ignored(packet: ControlPacket, tail: bytes) -> None:
    assert decode(encode(packet) + tail) == packet


@given(st.binary(max_size=300))
def test_arbitrary_bytes_decode_or_raise_a_drop_reason(data: bytes) -> None:
    try:
        packet = decode(data)
    except PacketDecodeError as err:
        assert isinstance(err.reason, DropReason)
    else:
        assert isinstance(packet, ControlPacket)
    result = parse_control(data)
    assert isinstance(result, ControlPacket | DropReason)


@given(control_packets, st.integers(0, 60), st.integers(0, 255))
def test_mutated_packets_never_raise(packet: ControlPacket, index: int, value: int) -> None:
    data = bytearray(encode(packet))
    data[index % len(data)] = value
    result = parse_control(bytes(data))
    assert isinstance(result, ControlPacket | DropReason)


def _header(**overrides: int) -> bytes:
    fields = {"vers_diag": 0x20, "sta_flags": 0x40, "mult": 3, "length": 24}
    fields.update(overrides)
    return struct.pack(
        "!BBBBIIIII",
        fields["vers_diag"],
        fields["sta_flags"],
        fields["mult"],
        fields["length"],
        1,
        0,
        1_000_000,
        1_000_000,
        0,
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", DropReason.TRUNCATED),
        (_header()[:23], DropReason.TRUNCATED),
        (_header(vers_diag=0x40), DropReason.BAD_VERSION),  # version 2
        (_header(vers_diag=0x00), DropReason.BAD_VERSION),  # version 0
        (_header(length=23), DropReason.LENGTH_TOO_SMALL),
        (_header(sta_flags=0x44, length=25) + b"\x01", DropReason.LENGTH_TOO_SMALL),  # A bit
        (_header(length=25), DropReason.LENGTH_EXCEEDS_PAYLOAD),
        (_header(sta_flags=0x44, length=28) + b"\x01\x05\x01a", DropReason.AUTH_SECTION_MALFORMED),
        (_header(sta_flags=0x44, length=26) + b"\x01\x02", DropReason.AUTH_SECTION_MALFORMED),
        (
            _header(sta_flags=0x44, length=28) + b"\x02\x04\x00\x00",
            DropReason.AUTH_SECTION_MALFORMED,
        ),
    ],
)
def test_layout_errors(data: bytes, reason: DropReason) -> None:
    with pytest.raises(PacketDecodeError) as info:
        decode(data)
    assert info.value.reason is reason
    assert parse_control(data) is reason


def test_field_layout_matches_rfc_figure() -> None:
    packet = ControlPacket(
        state=State.UP,
        my_discriminator=0x01020304,
        your_discriminator=0x05060708,
        detect_mult=5,
        desired_min_tx=300_000,
        required_min_rx=200_000,
        required_min_echo_rx=50_000,
        diag=Diagnostic.NEIGHBOR_SIGNALED_SESSION_DOWN,
        poll=True,
    )
    assert encode(packet).hex() == (
        "23"  # version 1, diag 3
        "e0"  # state 3 (Up), P bit
        "05"
        "18"  # detect mult, length
        "01020304"
        "05060708"
        "000493e0"
        "00030d40"
        "0000c350"
    )
    assert packet.diagnostic is Diagnostic.NEIGHBOR_SIGNALED_SESSION_DOWN
    assert ControlPacket(State.UP, 1, 1, 3, 1, 1, diag=20).diagnostic is None


def test_encode_rejects_a_diag_too_wide() -> None:
    with pytest.raises(ValueError, match="5 bits"):
        encode(ControlPacket(State.UP, 1, 1, 3, 1, 1, diag=32))


def test_auth_sections_layout() -> None:
    simple = ControlPacket(State.DOWN, 1, 0, 3, 1, 1, auth=SimplePasswordAuth(7, b"secret"))
    data = encode(simple)
    assert data[1] & 0x04  # A bit
    assert data[24:] == bytes([1, 9, 7]) + b"secret"
    md5 = KeyedHashAuth(AuthType.KEYED_MD5, 2, 0xDEADBEEF, bytes(range(16)))
    data = encode(ControlPacket(State.DOWN, 1, 0, 3, 1, 1, auth=md5))
    assert data[3] == 48 and data[24:32] == bytes.fromhex("021802 00 deadbeef".replace(" ", ""))
    sha1 = KeyedHashAuth(AuthType.METICULOUS_KEYED_SHA1, 2, 1, bytes(20))
    assert encode(ControlPacket(State.DOWN, 1, 0, 3, 1, 1, auth=sha1))[25] == 28


@given(u32, u32, st.integers(0, 2**64 - 1))
def test_echo_round_trip(discriminator: int, sequence: int, stamp: int) -> None:
    echo = EchoPacket(discriminator, sequence, stamp)
    data = encode_echo(echo)
    assert len(data) == 24 and data.startswith(b"MLBE")
    assert decode_echo(data) == echo


@given(st.binary(max_size=64))
def test_arbitrary_echo_bytes_decode_or_raise_a_drop_reason(data: bytes) -> None:
    try:
        decode_echo(data)
    except PacketDecodeError as err:
        assert err.reason is DropReason.ECHO_MALFORMED


def test_echo_rejects_foreign_payloads() -> None:
    good = encode_echo(EchoPacket(1, 2, 3))
    for bad in (good[:-1], b"XXXX" + good[4:], good[:4] + b"\x02" + good[5:]):
        with pytest.raises(PacketDecodeError) as info:
            decode_echo(bad)
        assert info.value.reason is DropReason.ECHO_MALFORMED
