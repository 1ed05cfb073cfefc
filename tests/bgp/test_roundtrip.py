"""encode -> decode gives back the same value, for every message, capability and attribute."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.bgp.codec import Negotiated, Open, Update, decode_message
from services.bgp.codec.attributes import (
    PathAttribute,
    decode_attribute,
    encode_attribute,
    split_attributes,
)
from services.bgp.codec.capabilities import (
    Capability,
    decode_capabilities,
    encode_capability,
)
from services.bgp.codec.messages import AnyMessage

from .strategies import (
    CTX2,
    CTX4,
    FAST,
    asn2,
    asn4,
    attribute,
    capability,
    keepalive,
    notification,
    open_message,
    route_refresh,
    update,
)


def _attribute_roundtrip(attr: PathAttribute, ctx: Negotiated) -> PathAttribute:
    raw = encode_attribute(attr, ctx)
    ((flags, type_code, value, whole),) = split_attributes(raw)
    assert whole == raw
    return decode_attribute(flags, type_code, value, raw, ctx)


@FAST
@given(capability)
def test_capability_roundtrip(cap: Capability) -> None:
    assert decode_capabilities(encode_capability(cap)) == (cap,)


@FAST
@given(attribute(asn4))
def test_attribute_roundtrip_four_octet(attr: PathAttribute) -> None:
    assert _attribute_roundtrip(attr, CTX4) == attr


@FAST
@given(attribute(asn2))
def test_attribute_roundtrip_two_octet(attr: PathAttribute) -> None:
    assert _attribute_roundtrip(attr, CTX2) == attr


@FAST
@given(st.one_of(open_message, notification, route_refresh, keepalive))
def test_message_roundtrip(message: AnyMessage) -> None:
    for ctx in (CTX4, CTX2):
        assert decode_message(message.encode(ctx), ctx) == message


@FAST
@given(update())
def test_update_roundtrip_four_octet(message: Update) -> None:
    assert decode_message(message.encode(CTX4), CTX4) == message


@FAST
@given(update(two_octet=True))
def test_update_roundtrip_two_octet_peer_with_as4(message: Update) -> None:
    """RFC 6793 §4.2.2/§4.2.3: 4-octet AS numbers survive a 2-octet session via AS4_*."""
    assert decode_message(message.encode(CTX2), CTX2) == message


@FAST
@given(open_message)
def test_open_reencodes_to_same_bytes(message: Open) -> None:
    raw = message.encode(CTX4)
    assert decode_message(raw, CTX4).encode(CTX4) == raw


@pytest.mark.parametrize("ctx", [CTX4, CTX2])
def test_update_extended_length_is_preserved(ctx: Negotiated) -> None:
    # ORIGIN IGP, sent with Extended Length although one octet would do (FRR does this)
    body = bytes.fromhex("000000055001000100")
    raw = b"\xff" * 16 + (19 + len(body)).to_bytes(2, "big") + b"\x02" + body
    message = decode_message(raw, ctx)
    assert isinstance(message, Update)
    assert message.extended_length == frozenset({1})
    assert message.encode(ctx) == raw
    assert message == Update(attributes=message.attributes)  # a wire detail, not compared
