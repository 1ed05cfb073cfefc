"""4-octet AS numbers with a 2-octet peer: AS_TRANS, AS4_PATH, AS4_AGGREGATOR (RFC 6793)."""

from __future__ import annotations

from ipaddress import IPv4Address

from services.bgp.codec import AS_TRANS, Update, decode_message
from services.bgp.codec.attributes import (
    Aggregator,
    AsPath,
    AsPathSegment,
    NextHop,
    Origin,
    SegmentType,
    decode_attributes,
    encode_attributes,
)
from services.bgp.codec.prefixes import parse_prefix

from .strategies import CTX2, CTX4

BIG = 4_200_000_000  # 0xFA56EA00
SEQ = SegmentType.AS_SEQUENCE
ADDR = IPv4Address("192.0.2.1")


def attr(flags: int, type_code: int, value: bytes) -> bytes:
    return bytes([flags, type_code, len(value)]) + value


def test_two_octet_peer_gets_as_trans_and_as4_path() -> None:
    """RFC 6793 §4.2.2: AS_TRANS in AS_PATH, the real path in AS4_PATH (type 17)."""
    wire = encode_attributes([Origin(), AsPath.sequence(65001, BIG)], CTX2)
    assert wire == (
        attr(0x40, 1, b"\x00")
        + attr(0x40, 2, bytes.fromhex("0202fde95ba0"))
        + attr(0xC0, 17, bytes.fromhex("02020000fde9fa56ea00"))
    )


def test_no_as4_path_when_every_as_fits_two_octets() -> None:
    """RFC 6793 §4.2.2: SHOULD NOT send AS4_PATH when the path is all 2-octet."""
    wire = encode_attributes([AsPath.sequence(65001, 65002)], CTX2)
    assert wire == attr(0x40, 2, bytes.fromhex("0202fde9fdea"))


def test_four_octet_peer_gets_four_octet_path_and_no_as4() -> None:
    wire = encode_attributes([AsPath.sequence(65001, BIG)], CTX4)
    assert wire == attr(0x40, 2, bytes.fromhex("02020000fde9fa56ea00"))


def test_aggregator_for_two_octet_peer() -> None:
    """RFC 6793 §4.2.2: AGGREGATOR carries AS_TRANS, AS4_AGGREGATOR (type 18) the real AS."""
    wire = encode_attributes([Aggregator(BIG, ADDR)], CTX2)
    assert wire == attr(0xC0, 7, bytes.fromhex("5ba0c0000201")) + attr(
        0xC0, 18, bytes.fromhex("fa56ea00c0000201")
    )
    assert decode_attributes(wire, CTX2) == (Aggregator(BIG, ADDR),)


def test_merge_when_an_old_speaker_prepended() -> None:
    """RFC 6793 §4.2.3: leading ASes of AS_PATH, then AS4_PATH, to AS_PATH's length."""
    wire = attr(0x40, 2, bytes.fromhex("0203006400c85ba0")) + attr(
        0xC0, 17, bytes.fromhex("0202000000c8fa56ea00")
    )
    assert decode_attributes(wire, CTX2) == (AsPath.sequence(100, 200, BIG),)


def test_as_set_counts_as_one() -> None:
    # AS_PATH: SEQ[100] SET[23456, 300] (length 2); AS4_PATH: SET[BIG, 300] (length 1)
    wire = attr(0x40, 2, bytes.fromhex("0201006401025ba0012c")) + attr(
        0xC0, 17, bytes.fromhex("0102fa56ea000000012c")
    )
    assert decode_attributes(wire, CTX2) == (
        AsPath(
            (AsPathSegment(SEQ, (100,)), AsPathSegment(SegmentType.AS_SET, (BIG, 300))),
        ),
    )


def test_longer_as4_path_is_ignored() -> None:
    """RFC 6793 §4.2.3: AS4_PATH longer than AS_PATH is ignored."""
    wire = attr(0x40, 2, bytes.fromhex("02015ba0")) + attr(
        0xC0, 17, bytes.fromhex("020200000001fa56ea00")
    )
    assert decode_attributes(wire, CTX2) == (AsPath.sequence(AS_TRANS),)


def test_real_aggregator_as_means_as4_attributes_are_ignored() -> None:
    """RFC 6793 §4.2.3: AGGREGATOR with an AS other than AS_TRANS: ignore AS4_*."""
    wire = (
        attr(0x40, 2, bytes.fromhex("02015ba0"))
        + attr(0xC0, 7, bytes.fromhex("0064c0000201"))
        + attr(0xC0, 17, bytes.fromhex("0201fa56ea00"))
        + attr(0xC0, 18, bytes.fromhex("fa56ea00c0000201"))
    )
    assert decode_attributes(wire, CTX2) == (AsPath.sequence(AS_TRANS), Aggregator(100, ADDR))


def test_malformed_as4_path_is_discarded_not_fatal() -> None:
    """RFC 6793 §6: attribute discard for a malformed AS4_PATH."""
    wire = attr(0x40, 2, bytes.fromhex("02015ba0")) + attr(0xC0, 17, bytes.fromhex("0203fa56"))
    assert decode_attributes(wire, CTX2) == (AsPath.sequence(AS_TRANS),)


def test_as4_path_from_a_four_octet_peer_is_discarded() -> None:
    """RFC 6793 §6: AS4_PATH / AS4_AGGREGATOR between NEW speakers are discarded."""
    wire = attr(0x40, 2, bytes.fromhex("02010000fde9")) + attr(
        0xC0, 17, bytes.fromhex("0201fa56ea00")
    )
    assert decode_attributes(wire, CTX4) == (AsPath.sequence(65001),)


def test_confederation_segments_in_as4_path_are_dropped() -> None:
    """RFC 6793 §6: AS_CONFED_* segments in AS4_PATH are discarded."""
    wire = attr(0x40, 2, bytes.fromhex("02015ba0")) + attr(
        0xC0, 17, bytes.fromhex("03010000fde80201fa56ea00")
    )
    assert decode_attributes(wire, CTX2) == (AsPath.sequence(BIG),)


def test_confederation_path_keeps_its_segments_with_a_two_octet_peer() -> None:
    path = AsPath(
        (AsPathSegment(SegmentType.AS_CONFED_SEQUENCE, (65010, 65011)), AsPathSegment(SEQ, (BIG,)))
    )
    update = Update(attributes=(Origin(), path, NextHop(ADDR)), nlri=(parse_prefix("10.0.0.0/8"),))
    assert decode_message(update.encode(CTX2), CTX2) == update
