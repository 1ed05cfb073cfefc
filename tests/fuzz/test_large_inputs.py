"""The wire decoders on inputs up to 64 KiB (issue 15), beyond the small inputs the per-area fuzz
tests use (tests/bgp/test_fuzz.py, tests/bfd/test_codec.py, tests/l2/test_frames.py: up to a few
hundred octets, where the structure is explored). Here the question is size: a peer or a host
on the link sends the largest datagram or stream it can, valid messages with long tails, or many
options or attributes; each decoder decodes or names its error (a NOTIFICATION, a drop reason),
never raises anything else, and keeps up (a quadratic loop would show as minutes).

Any input found crashing goes to tests/fuzz/corpus/<decoder>/ and is replayed first.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from services.bfd.core.drop import DropReason as BfdDrop
from services.bfd.core.drop import PacketDecodeError
from services.bfd.core.packet import ControlPacket, decode, encode
from services.bfd.core.validate import parse_control
from services.bgp.codec import BGPNotificationError, Framer, Update
from services.bgp.codec.attributes import decode_attributes
from services.bgp.codec.header import MARKER
from services.bgp.codec.messages import decode_message
from services.l2.core.drop import DropReason as L2Drop
from services.l2.core.drop import FrameDecodeError
from services.l2.core.frames import (
    ArpFrame,
    NeighborAdvertisement,
    NeighborSolicitation,
    decode_frame,
)
from tests.bfd.test_codec import control_packets
from tests.bgp.strategies import CTX4, update
from tests.fuzz.corpus import corpus_inputs
from tests.fuzz.messages import MAX_INPUT
from tests.l2.test_frames import arp_frames, ns_frames

LARGE = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
big = st.binary(min_size=1024, max_size=MAX_INPUT)


def _tail(data: bytes, fill: bytes) -> bytes:
    """`data` followed by `fill` repeated up to 64 KiB."""
    room = MAX_INPUT - len(data)
    return data + (fill * (room // max(len(fill), 1) + 1))[:room]


# ------------------------------------------------------------------ BGP


def _bgp(data: bytes) -> None:
    try:
        decode_message(data, CTX4)
    except BGPNotificationError as error:
        assert 1 <= error.code <= 7 and 0 <= error.subcode <= 255
    framer = Framer(CTX4)
    try:
        for _ in framer.feed(data):
            pass
    except BGPNotificationError as error:
        assert 1 <= error.code <= 7


def test_bgp_kept_inputs() -> None:
    for data in corpus_inputs("bgp"):
        _bgp(data)


@LARGE
@given(big)
@example(b"\xff" * MAX_INPUT)
@example(bytes(MAX_INPUT))
def test_bgp_any_large_input(data: bytes) -> None:
    _bgp(data)
    _bgp(MARKER + data)
    _bgp(MARKER + struct.pack("!HB", 4096, 2) + data)  # an UPDATE header before it


@LARGE
@given(st.lists(update(), min_size=1, max_size=8), st.binary(max_size=64), st.data())
def test_bgp_a_stream_of_valid_updates_then_mutations_up_to_64k(
    updates: list[Update], fill: bytes, data: st.DataObject
) -> None:
    """The framer over a stream the size of a socket read or more, cut anywhere, with octets
    changed: it frames, decodes or ends the session with a NOTIFICATION."""
    stream = bytearray(_tail(b"".join(u.encode(CTX4) for u in updates), fill or b"\xff"))
    for _ in range(data.draw(st.integers(0, 8))):
        stream[data.draw(st.integers(0, len(stream) - 1))] = data.draw(st.integers(0, 255))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    framer = Framer(CTX4)
    start = 0
    try:
        for cut in [*cuts, len(stream)]:
            for _ in framer.feed(bytes(stream[start:cut])):
                pass
            start = cut
    except BGPNotificationError as error:
        assert 1 <= error.code <= 7


@LARGE
@given(big)
@example(b"\x40\x01\x01\x00" * (MAX_INPUT // 4))  # 16,384 ORIGIN attributes
@example(b"\x90\x02\xff\xff" + b"\x02\xff" * (MAX_INPUT // 2 - 2))
def test_bgp_path_attributes_of_any_length(data: bytes) -> None:
    """Attributes are decoded from the UPDATE's attribute block, which a 4,096-octet message
    bounds; the decoder itself must not rely on that."""
    try:
        decode_attributes(data, CTX4)
    except BGPNotificationError as error:
        assert 1 <= error.code <= 7


# ------------------------------------------------------------------ BFD


def _bfd(data: bytes) -> None:
    try:
        packet = decode(data)
    except PacketDecodeError as err:
        assert isinstance(err.reason, BfdDrop)
    else:
        assert isinstance(packet, ControlPacket)
    assert isinstance(parse_control(data), ControlPacket | BfdDrop)


def test_bfd_kept_inputs() -> None:
    for data in corpus_inputs("bfd"):
        _bfd(data)


@LARGE
@given(big)
@example(bytes(MAX_INPUT))
def test_bfd_any_datagram_up_to_64k(data: bytes) -> None:
    _bfd(data)
    _bfd(bytes([0x20, 0x40, 3, 24]) + data)  # a version-1 header before it


@LARGE
@given(control_packets, st.binary(min_size=1, max_size=64), st.integers(0, 255))
def test_bfd_a_valid_packet_with_a_64k_tail(
    packet: ControlPacket, fill: bytes, length: int
) -> None:
    data = bytearray(_tail(encode(packet), fill))
    _bfd(bytes(data))
    data[3] = length  # the Length field says anything
    _bfd(bytes(data))


# ------------------------------------------------------------------ ARP and NDP


def _l2(data: bytes) -> None:
    try:
        frame = decode_frame(data)
    except FrameDecodeError as err:
        assert isinstance(err.reason, L2Drop)
    else:
        assert isinstance(frame, ArpFrame | NeighborSolicitation | NeighborAdvertisement)


def test_l2_kept_inputs() -> None:
    for data in corpus_inputs("l2"):
        _l2(data)


@LARGE
@given(big, st.sampled_from([b"\x08\x06", b"\x86\xdd", b"\x81\x00"]))
@example(b"\x81\x00" * (MAX_INPUT // 2), b"\x81\x00")  # VLAN tags all the way
def test_l2_any_frame_up_to_64k(payload: bytes, ethertype: bytes) -> None:
    _l2(payload)
    _l2(b"\xff" * 6 + b"\x02" * 6 + ethertype + payload)


@LARGE
@given(arp_frames, st.binary(min_size=1, max_size=64))
def test_l2_an_arp_frame_with_a_64k_tail(frame: ArpFrame, fill: bytes) -> None:
    _l2(_tail(frame.encode(), fill))


@pytest.mark.parametrize("option", [b"\x01\x01", b"\x0e\x01", b"\x01\x00", b"\x02\x02"])
@LARGE
@given(ns_frames, st.binary(max_size=14), st.integers(0, 0xFFFF))
def test_l2_a_solicitation_with_options_up_to_64k(
    option: bytes, frame: NeighborSolicitation, body: bytes, payload_length: int
) -> None:
    """RFC 4861 §4.6 options (type, length in 8-octet units): thousands of them, of length 0
    (invalid, §4.6), or claiming more than is there; the IPv6 payload length says anything."""
    data = bytearray(_tail(frame.encode(), option + body.ljust(6, b"\x00")))
    _l2(bytes(data))
    data[18:20] = payload_length.to_bytes(2, "big")  # the IPv6 header's payload length
    _l2(bytes(data))
