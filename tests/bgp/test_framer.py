"""The framer: a TCP byte stream in any chunking gives the same messages."""

from __future__ import annotations

import itertools
from ipaddress import IPv4Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.bgp.codec import (
    BGPNotificationError,
    ErrorCode,
    Framer,
    HeaderSubcode,
    Keepalive,
    Negotiated,
    Notification,
    Open,
    Update,
    negotiate,
)
from services.bgp.codec.attributes import AsPath, NextHop, Origin
from services.bgp.codec.capabilities import FourOctetAS
from services.bgp.codec.header import MARKER
from services.bgp.codec.messages import AnyMessage
from services.bgp.codec.prefixes import parse_prefix

from .strategies import CTX4, FAST, keepalive, notification, open_message, route_refresh, update

messages = st.lists(
    st.one_of(open_message, notification, route_refresh, keepalive, update()), max_size=6
)


def _feed_in(framer: Framer, data: bytes, cuts: list[int]) -> list[AnyMessage]:
    out: list[AnyMessage] = []
    bounds = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for start, end in itertools.pairwise(bounds):
        out += framer.feed(data[start:end])
    return out


@FAST
@given(messages)
def test_one_byte_at_a_time(sent: list[AnyMessage]) -> None:
    stream = b"".join(m.encode(CTX4) for m in sent)
    framer = Framer(CTX4)
    received: list[AnyMessage] = []
    for i in range(len(stream)):
        received += framer.feed(stream[i : i + 1])
    assert received == sent
    assert framer.buffered == 0


@FAST
@given(messages, st.lists(st.integers(0, 10_000), max_size=20))
def test_random_chunking(sent: list[AnyMessage], cuts: list[int]) -> None:
    stream = b"".join(m.encode(CTX4) for m in sent)
    assert _feed_in(Framer(CTX4), stream, cuts) == sent


def test_partial_message_stays_buffered() -> None:
    raw = Keepalive().encode(CTX4)
    framer = Framer(CTX4)
    assert list(framer.feed(raw[:10])) == []
    assert framer.buffered == 10
    assert list(framer.feed(raw[10:] + raw[:5])) == [Keepalive()]
    assert framer.buffered == 5


def test_bad_marker_fails_as_soon_as_the_header_is_in() -> None:
    framer = Framer(CTX4)
    assert list(framer.feed(b"\x00" * 18)) == []
    with pytest.raises(BGPNotificationError) as caught:
        list(framer.feed(b"\x00"))
    assert (caught.value.code, caught.value.subcode) == (
        ErrorCode.MESSAGE_HEADER_ERROR,
        HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED,
    )
    with pytest.raises(BGPNotificationError):  # the framer stays dead
        list(framer.feed(Keepalive().encode(CTX4)))


def test_oversized_length_fails_before_the_body_arrives() -> None:
    framer = Framer(CTX4)
    with pytest.raises(BGPNotificationError) as caught:
        list(framer.feed(MARKER + (4097).to_bytes(2, "big") + b"\x02"))
    assert caught.value.subcode == HeaderSubcode.BAD_MESSAGE_LENGTH
    assert caught.value.data == b"\x10\x01"


def test_context_can_change_between_messages_of_one_chunk() -> None:
    """OPEN and the first UPDATE may share a segment: decode lazily, install the context."""
    asn = 4_200_000_000
    theirs = Open.build(asn, 90, IPv4Address("10.0.0.1"), [FourOctetAS(asn)])
    ours = Open.build(65000, 90, IPv4Address("10.0.0.2"), [FourOctetAS(65000)])
    ctx = negotiate(ours, theirs)
    assert ctx.four_octet_as
    route = Update(
        attributes=(Origin(), AsPath.sequence(asn), NextHop(IPv4Address("10.0.0.1"))),
        nlri=(parse_prefix("10.1.0.0/24"),),
    )
    stream = theirs.encode(Negotiated()) + Keepalive().encode(ctx) + route.encode(ctx)
    framer = Framer()
    got: list[AnyMessage] = []
    for message in framer.feed(stream):
        got.append(message)
        if isinstance(message, Open):
            framer.negotiated = negotiate(ours, message)
    assert got == [theirs, Keepalive(), route]


def test_notification_error_maps_to_message() -> None:
    framer = Framer(CTX4)
    with pytest.raises(BGPNotificationError) as caught:
        list(framer.feed(MARKER + b"\x00\x13\x09"))
    sent = Notification.from_error(caught.value)
    assert sent == Notification(1, 3, b"\x09")
    assert sent.encode(CTX4) == MARKER + b"\x00\x16\x03\x01\x03\x09"
