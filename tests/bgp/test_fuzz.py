"""Arbitrary bytes decode or raise the NOTIFICATION error, for every registered decoder.

Nothing else may escape a decoder (no IndexError, struct.error, ValueError...): a peer must not
be able to crash the session task by sending garbage (STYLE.md §2, §3).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.bgp.codec import BGPNotificationError, Framer, MessageType, Negotiated, Update
from services.bgp.codec.attributes import REGISTRY as ATTRIBUTES
from services.bgp.codec.attributes import decode_attribute, decode_attributes
from services.bgp.codec.capabilities import REGISTRY as CAPABILITIES
from services.bgp.codec.capabilities import decode_capabilities, decode_capability
from services.bgp.codec.header import MARKER
from services.bgp.codec.messages import REGISTRY as MESSAGES
from services.bgp.codec.messages import decode_body, decode_message

from .strategies import CONTEXTS, CTX4, FAST, FUZZ, update


def _code_ok(error: BGPNotificationError) -> None:
    assert 1 <= error.code <= 7
    assert 0 <= error.subcode <= 255


@pytest.mark.parametrize("ctx", CONTEXTS, ids=["4-octet", "2-octet"])
@pytest.mark.parametrize("kind", sorted(MESSAGES), ids=lambda k: MessageType(k).name)
@FUZZ
@given(body=st.binary(max_size=200))
def test_message_body_decodes_or_raises(kind: MessageType, ctx: Negotiated, body: bytes) -> None:
    try:
        decode_body(kind, body, ctx)
    except BGPNotificationError as error:
        _code_ok(error)


@pytest.mark.parametrize("code", sorted(CAPABILITIES))
@FUZZ
@given(value=st.binary(max_size=40))
def test_capability_decodes_or_raises(code: int, value: bytes) -> None:
    try:
        decode_capability(code, value)
    except BGPNotificationError as error:
        _code_ok(error)


@FUZZ
@given(data=st.binary(max_size=100))
def test_capability_list_decodes_or_raises(data: bytes) -> None:
    try:
        decode_capabilities(data)
    except BGPNotificationError as error:
        _code_ok(error)


@pytest.mark.parametrize("ctx", CONTEXTS, ids=["4-octet", "2-octet"])
@pytest.mark.parametrize("type_code", [*sorted(ATTRIBUTES), 99])
@FUZZ
@given(flags=st.integers(0, 255), value=st.binary(max_size=60))
def test_attribute_decodes_or_raises(
    type_code: int, ctx: Negotiated, flags: int, value: bytes
) -> None:
    raw = bytes([flags & ~0x10, type_code, len(value)]) + value
    try:
        decode_attribute(flags, type_code, value, raw, ctx)
    except BGPNotificationError as error:
        _code_ok(error)


@pytest.mark.parametrize("ctx", CONTEXTS, ids=["4-octet", "2-octet"])
@FUZZ
@given(data=st.binary(max_size=120))
def test_attribute_list_decodes_or_raises(ctx: Negotiated, data: bytes) -> None:
    try:
        decode_attributes(data, ctx)
    except BGPNotificationError as error:
        _code_ok(error)


@FUZZ
@given(data=st.binary(max_size=120))
def test_whole_message_decodes_or_raises(data: bytes) -> None:
    for raw in (data, MARKER + data):
        try:
            decode_message(raw, CTX4)
        except BGPNotificationError as error:
            _code_ok(error)


@FAST
@given(message=update(), data=st.data())
def test_mutated_update_decodes_or_raises(message: Update, data: st.DataObject) -> None:
    """Valid UPDATEs with a few octets changed: reaches the deep decoders, not just the first
    length check."""
    raw = bytearray(message.encode(CTX4))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(19, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    try:
        decode_message(bytes(raw), CTX4)
    except BGPNotificationError as error:
        _code_ok(error)


@FUZZ
@given(data=st.binary(max_size=300))
def test_framer_on_garbage_yields_or_raises(data: bytes) -> None:
    framer = Framer(CTX4)
    try:
        list(framer.feed(MARKER + data))
    except BGPNotificationError as error:
        _code_ok(error)
