"""Malformed input raises the NOTIFICATION the RFCs prescribe: code, subcode and data."""

from __future__ import annotations

import pytest

from services.bgp.codec import (
    BGPEncodeError,
    BGPNotificationError,
    ErrorCode,
    HeaderSubcode,
    Negotiated,
    Notification,
    OpenSubcode,
    Update,
    UpdateSubcode,
    decode_message,
)
from services.bgp.codec.attributes import ErrorAction, Origin, OriginType
from services.bgp.codec.header import MARKER
from services.bgp.codec.prefixes import parse_prefix

from .strategies import CTX2, CTX4

HDR, OPN, UPD = (
    ErrorCode.MESSAGE_HEADER_ERROR,
    ErrorCode.OPEN_MESSAGE_ERROR,
    ErrorCode.UPDATE_MESSAGE_ERROR,
)
ORIGIN = "40010100"
AS_PATH = "40020602010000fde9"  # 4-octet: SEQ [65001]
NEXT_HOP = "4003040a000001"


def message(kind: int, body: bytes, length: int | None = None) -> bytes:
    total = 19 + len(body) if length is None else length
    return MARKER + total.to_bytes(2, "big") + bytes([kind]) + body


def update(attrs_hex: str, nlri_hex: str = "", withdrawn_hex: str = "") -> bytes:
    attrs, nlri, withdrawn = (bytes.fromhex(x) for x in (attrs_hex, nlri_hex, withdrawn_hex))
    body = len(withdrawn).to_bytes(2, "big") + withdrawn + len(attrs).to_bytes(2, "big")
    return message(2, body + attrs + nlri)


def error_of(raw: bytes, ctx: Negotiated = CTX4) -> tuple[int, int, bytes]:
    with pytest.raises(BGPNotificationError) as caught:
        decode_message(raw, ctx)
    return caught.value.code, caught.value.subcode, caught.value.data


# ---- message header, RFC 4271 §6.1 ---------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"\x00" * 16 + b"\x00\x13\x04", (HDR, HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED, b"")),
        (MARKER + b"\x00\x12\x04", (HDR, HeaderSubcode.BAD_MESSAGE_LENGTH, b"\x00\x12")),
        (
            MARKER + b"\x10\x01\x02" + bytes(4078),
            (HDR, HeaderSubcode.BAD_MESSAGE_LENGTH, b"\x10\x01"),
        ),
        (message(9, b""), (HDR, HeaderSubcode.BAD_MESSAGE_TYPE, b"\x09")),
        (message(0, b""), (HDR, HeaderSubcode.BAD_MESSAGE_TYPE, b"\x00")),
        (message(4, b"\x00"), (HDR, HeaderSubcode.BAD_MESSAGE_LENGTH, b"\x00\x14")),
        (message(1, bytes(9)), (HDR, HeaderSubcode.BAD_MESSAGE_LENGTH, b"\x00\x1c")),
        (message(2, bytes(3)), (HDR, HeaderSubcode.BAD_MESSAGE_LENGTH, b"\x00\x16")),
        (message(3, b"\x06"), (HDR, HeaderSubcode.BAD_MESSAGE_LENGTH, b"\x00\x14")),
        (message(5, bytes(3)), (HDR, HeaderSubcode.BAD_MESSAGE_LENGTH, b"\x00\x16")),
        (message(4, b"", length=20), (HDR, HeaderSubcode.BAD_MESSAGE_LENGTH, b"\x00\x14")),
    ],
    ids=[
        "marker",
        "length<19",
        "length>4096",
        "type 9",
        "type 0",
        "keepalive 20",
        "open 28",
        "update 22",
        "notification 20",
        "route-refresh 22",
        "truncated",
    ],
)
def test_header_errors(raw: bytes, expected: tuple[int, int, bytes]) -> None:
    assert error_of(raw) == expected


def test_route_refresh_with_a_long_body() -> None:
    """RFC 7313 §5: ROUTE-REFRESH Message Error / Invalid Message Length, data = message."""
    raw = message(5, bytes.fromhex("0001000100"))
    assert error_of(raw) == (ErrorCode.ROUTE_REFRESH_MESSAGE_ERROR, 1, raw)


# ---- OPEN, RFC 4271 §6.2 -------------------------------------------------------------------
def open_body(
    version: int = 4, my_as: int = 65001, hold: int = 90, bgp_id: str = "0a000001", params: str = ""
) -> bytes:
    p = bytes.fromhex(params)
    return (
        bytes([version])
        + my_as.to_bytes(2, "big")
        + hold.to_bytes(2, "big")
        + bytes.fromhex(bgp_id)
        + bytes([len(p)])
        + p
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (open_body(version=3), (OPN, OpenSubcode.UNSUPPORTED_VERSION_NUMBER, b"\x00\x04")),
        (open_body(version=5), (OPN, OpenSubcode.UNSUPPORTED_VERSION_NUMBER, b"\x00\x04")),
        (open_body(hold=1), (OPN, OpenSubcode.UNACCEPTABLE_HOLD_TIME, b"")),
        (open_body(hold=2), (OPN, OpenSubcode.UNACCEPTABLE_HOLD_TIME, b"")),
        (open_body(bgp_id="00000000"), (OPN, OpenSubcode.BAD_BGP_IDENTIFIER, b"")),
        (open_body(my_as=0), (OPN, OpenSubcode.BAD_PEER_AS, b"")),
        (open_body(params="0206410400000000"), (OPN, OpenSubcode.BAD_PEER_AS, b"")),
        (open_body(params="0100"), (OPN, OpenSubcode.UNSUPPORTED_OPTIONAL_PARAMETER, b"")),
        (open_body(params="ff00"), (OPN, OpenSubcode.UNSUPPORTED_OPTIONAL_PARAMETER, b"")),
        (open_body(params="0205410300"), (OPN, OpenSubcode.UNSPECIFIC, b"")),
        (
            open_body(params="020541030000fd"),
            (OPN, OpenSubcode.UNSPECIFIC, bytes.fromhex("41030000fd")),
        ),
        (open_body(params="02020201"), (OPN, OpenSubcode.UNSPECIFIC, b"")),
        (open_body(params="0203020101"), (OPN, OpenSubcode.UNSPECIFIC, bytes.fromhex("020101"))),
        (open_body(params="020601030001"), (OPN, OpenSubcode.UNSPECIFIC, b"")),
        (open_body() + b"\x00", (OPN, OpenSubcode.UNSPECIFIC, b"")),
    ],
    ids=[
        "version 3",
        "version 5",
        "hold 1",
        "hold 2",
        "bgp id 0",
        "my as 0",
        "4-octet as 0",
        "param type 1",
        "param type 255 (RFC 9072)",
        "param overruns",
        "4-octet AS length 3",
        "capability overruns",
        "route refresh length 1",
        "capability overruns parameter",
        "trailing octet",
    ],
)
def test_open_errors(body: bytes, expected: tuple[int, int, bytes]) -> None:
    assert error_of(message(1, body)) == expected


def test_open_hold_time_zero_and_three_are_fine() -> None:
    for hold in (0, 3):
        decode_message(message(1, open_body(hold=hold)), CTX4)


def test_unknown_capability_is_kept_not_refused() -> None:
    """RFC 5492 §3: an unknown capability is ignored, not an error."""
    decoded = decode_message(message(1, open_body(params="0204fe02abcd")), CTX4)
    assert decoded.encode(CTX4) == message(1, open_body(params="0204fe02abcd"))


# ---- UPDATE, RFC 4271 §6.3 as revised by RFC 7606 ----------------------------------------
TAW, DISCARD = ErrorAction.TREAT_AS_WITHDRAW, ErrorAction.ATTRIBUTE_DISCARD


def issue_of(
    raw: bytes, ctx: Negotiated = CTX4, action: ErrorAction = TAW
) -> tuple[int, int, bytes]:
    """The one RFC 7606 issue of a decoded UPDATE (no reset), checked to have `action`; returns
    the NOTIFICATION RFC 4271 would have sent for it."""
    decoded = decode_message(raw, ctx)
    assert isinstance(decoded, Update)
    assert [i.action for i in decoded.issues] == [action], decoded.issues
    assert decoded.treat_as_withdraw == (action == TAW)
    error = decoded.issues[0].error
    return error.code, error.subcode, error.data


def attribute_error(
    attrs_hex: str, ctx: Negotiated = CTX4, action: ErrorAction = TAW
) -> tuple[int, int, bytes]:
    return issue_of(update(attrs_hex), ctx, action)


def attribute_reset(attrs_hex: str, ctx: Negotiated = CTX4) -> tuple[int, int, bytes]:
    return error_of(update(attrs_hex), ctx)


@pytest.mark.parametrize(
    "bad",
    [
        "c0010100",  # ORIGIN marked optional
        "00010100",  # ORIGIN not transitive
        "60010100",  # ORIGIN with Partial (well-known: Partial must be 0, §4.3)
        "4004040000000a",  # MED (optional non-transitive) marked well-known
        "c004040000000a",  # MED marked transitive
        "a004040000000a",  # MED with Partial
        "4008040000000a",  # COMMUNITIES without Optional
        "8008040000000a",  # COMMUNITIES not transitive
        "8005040000000a",  # LOCAL_PREF marked optional
    ],
)
def test_attribute_flags_error(bad: str) -> None:
    """§6.3: Attribute Flags Error, data = the attribute (type, length and value); RFC 7606
    §3 c: treat-as-withdraw."""
    assert attribute_error(bad) == (UPD, UpdateSubcode.ATTRIBUTE_FLAGS_ERROR, bytes.fromhex(bad))


def test_partial_is_allowed_on_optional_transitive() -> None:
    decoded = decode_message(update("e008040000000a"), CTX4)
    assert decoded.encode(CTX4) == update("c008040000000a")  # Partial is not kept


def test_extended_length_and_low_bits_do_not_count_as_flag_errors() -> None:
    decode_message(update("50010001004f010100"[:0]), CTX4)  # ORIGIN with Extended Length
    decode_message(update("4f010100"), CTX4)  # unused low bits are ignored (§4.3)


@pytest.mark.parametrize(
    ("bad", "ctx", "action"),
    [
        ("4001020000", CTX4, TAW),  # ORIGIN length 2 (RFC 7606 §7.1)
        ("4003050a00000100", CTX4, TAW),  # NEXT_HOP length 5 (§7.3)
        ("800403000000", CTX4, TAW),  # MED length 3 (§7.4)
        ("4005050000000000", CTX4, TAW),  # LOCAL_PREF length 5 (§7.5)
        ("40060100", CTX4, DISCARD),  # ATOMIC_AGGREGATE length 1 (§7.6)
        ("c00706fde90a000001", CTX4, DISCARD),  # AGGREGATOR: 8 octets between 4-octet (§7.7)
        ("c007080000fde90a000001", CTX2, DISCARD),  # AGGREGATOR: 6 octets, 2-octet peer
        ("c008050000000000", CTX4, TAW),  # COMMUNITIES not a multiple of 4 (§7.8)
        ("c00803000000", CTX4, TAW),  # COMMUNITIES of length 3 (issue #15)
        ("c00800", CTX4, TAW),  # COMMUNITIES empty
        ("c0200d" + "00" * 13, CTX4, TAW),  # LARGE_COMMUNITY not a multiple of 12 (RFC 8092)
    ],
)
def test_attribute_length_error(bad: str, ctx: Negotiated, action: ErrorAction) -> None:
    """§6.3: Attribute Length Error, data = the attribute; RFC 7606 picks the action."""
    assert attribute_error(bad, ctx, action) == (
        UPD,
        UpdateSubcode.ATTRIBUTE_LENGTH_ERROR,
        bytes.fromhex(bad),
    )


def test_invalid_origin() -> None:
    assert attribute_error("40010103") == (
        UPD,
        UpdateSubcode.INVALID_ORIGIN_ATTRIBUTE,
        bytes.fromhex("40010103"),
    )


@pytest.mark.parametrize(
    "value",
    [
        "05010000fde9",  # segment type 5
        "02020000fde9",  # two ASes announced, one present
        "0200",  # empty segment
        "02",  # truncated segment header
        "02010000fd",  # AS number cut short
    ],
)
def test_malformed_as_path(value: str) -> None:
    """§6.3: Malformed AS_PATH; the RFC gives it no data."""
    raw = "4002" + f"{len(value) // 2:02x}" + value
    assert attribute_error(raw) == (UPD, UpdateSubcode.MALFORMED_AS_PATH, b"")  # §7.2: TAW


def test_two_octet_path_read_as_four_octet_is_malformed() -> None:
    assert attribute_error("40020402010001", CTX4)[:2] == (UPD, UpdateSubcode.MALFORMED_AS_PATH)


def test_unrecognized_well_known() -> None:
    """Not revised by RFC 7606: still a session reset."""
    assert attribute_reset("40630100") == (
        UPD,
        UpdateSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
        bytes.fromhex("40630100"),
    )


def test_unknown_optional_is_kept() -> None:
    raw = update(ORIGIN + "c06303abcdef")
    assert decode_message(raw, CTX4).encode(CTX4) == raw


def test_repeated_attribute_is_discarded() -> None:
    """RFC 7606 §3 g: occurrences after the first are discarded, the UPDATE goes on."""
    raw = update(ORIGIN + "40010101")
    assert attribute_error(ORIGIN + "40010101", action=DISCARD) == (
        UPD,
        UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
        b"",
    )
    decoded = decode_message(raw, CTX4)
    assert isinstance(decoded, Update)
    assert decoded.attributes == (Origin(OriginType.IGP),)


@pytest.mark.parametrize("mp", ["800f03000201", "800e0b000101040a00000100080a"])
def test_repeated_mp_attribute_resets(mp: str) -> None:
    """RFC 7606 §3 g: MP_REACH_NLRI / MP_UNREACH_NLRI more than once: Malformed Attribute List."""
    assert attribute_reset(ORIGIN + AS_PATH + mp + mp) == (
        UPD,
        UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
        b"",
    )


def test_attribute_running_past_the_list() -> None:
    """RFC 7606 §4: treat-as-withdraw, the NLRI found through the Total Attribute Length."""
    assert attribute_error("400104000000")[:2] == (UPD, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR)
    assert attribute_error("40")[:2] == (UPD, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST)
    decoded = decode_message(update(ORIGIN + AS_PATH + NEXT_HOP + "c00810", "080a"), CTX4)
    assert isinstance(decoded, Update)
    assert decoded.treat_as_withdraw
    assert decoded.nlri == (parse_prefix("10.0.0.0/8"),)


@pytest.mark.parametrize("mp", ["800e100002", "900e00", "800f05000201"])
def test_mp_attribute_running_past_the_list_resets(mp: str) -> None:
    """RFC 7606 §7.11: an MP_* attribute that cannot be read loses its NLRI: session reset."""
    assert attribute_reset(ORIGIN + AS_PATH + mp)[:2] in {
        (UPD, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR),
        (UPD, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST),
    }


@pytest.mark.parametrize(
    "body",
    [
        "00050000",  # Withdrawn Routes Length past the end
        "00000005400101",  # Total Path Attribute Length past the end
        "ffff0000",  # Withdrawn Routes Length 65535
        "000300000000",  # withdrawn field leaves no room for the attribute length
    ],
)
def test_length_fields_too_large(body: str) -> None:
    """§6.3: Withdrawn Routes Length or Total Attribute Length too large."""
    raw = message(2, bytes.fromhex(body))
    assert error_of(raw) == (UPD, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, b"")


@pytest.mark.parametrize(
    ("nlri", "withdrawn"),
    [("210a00000100", ""), ("180a00", ""), ("", "210a00000100"), ("", "100a")],
)
def test_invalid_network_field(nlri: str, withdrawn: str) -> None:
    raw = update(ORIGIN + AS_PATH + NEXT_HOP, nlri, withdrawn)
    assert error_of(raw) == (UPD, UpdateSubcode.INVALID_NETWORK_FIELD, b"")


@pytest.mark.parametrize(
    ("attrs", "missing"),
    [(AS_PATH + NEXT_HOP, 1), (ORIGIN + NEXT_HOP, 2), (ORIGIN + AS_PATH, 3)],
)
def test_missing_well_known(attrs: str, missing: int) -> None:
    """§6.3: Missing Well-known Attribute, data = the missing type code; RFC 7606 §3 d: TAW."""
    raw = update(attrs, "080a")
    assert issue_of(raw) == (UPD, UpdateSubcode.MISSING_WELL_KNOWN_ATTRIBUTE, bytes([missing]))


def test_mp_reach_only_needs_no_next_hop() -> None:
    """RFC 4760 §3: NEXT_HOP is not required when all NLRI are in MP_REACH_NLRI."""
    mp = "900e001600020110fd7700000000000000000000000000010000"
    decoded = decode_message(update(ORIGIN + AS_PATH + mp), CTX4)
    assert isinstance(decoded, Update) and not decoded.issues
    assert issue_of(update(AS_PATH + mp)) == (
        UPD,
        UpdateSubcode.MISSING_WELL_KNOWN_ATTRIBUTE,
        b"\x01",
    )


@pytest.mark.parametrize(
    ("mp", "ctx"),
    [
        (
            "800e1600020110fd7700000000000000000000000000010000",
            Negotiated(four_octet_as=True),
        ),  # v6 not negotiated
        ("800e150002010ffd77000000000000000000000000000000", CTX4),  # 15-octet next hop
        ("800e0b000101040a00000100210a", CTX4),  # prefix /33
        ("800e0400020110", CTX4),  # next hop runs past the attribute
        ("800e03000201", CTX4),  # too short
        (
            "800e1600010110fd7700000000000000000000000000010000",
            Negotiated(four_octet_as=True, families=CTX4.families),
        ),  # IPv4 with IPv6 next hop without RFC 8950
        ("800e0a000180040a0000010000", CTX4),  # SAFI 128 not supported
        ("800f020002", CTX4),  # MP_UNREACH too short
        ("800f050002014120", CTX4),  # MP_UNREACH prefix runs past the end
    ],
)
def test_mp_attribute_errors(mp: str, ctx: Negotiated) -> None:
    """RFC 4760 §7 / RFC 4271 §6.3: Optional Attribute Error, data = the attribute; RFC 7606
    §7.11 keeps the session reset (AFI/SAFI disable is not implemented)."""
    assert attribute_reset(ORIGIN + AS_PATH + mp, ctx) == (
        UPD,
        UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR,
        bytes.fromhex(mp),
    )


# ---- NOTIFICATION and encode-side misuse ---------------------------------------------------
def test_notification_of_unknown_code_decodes() -> None:
    assert decode_message(message(3, b"\x63\x07abc"), CTX4) == Notification(99, 7, b"abc")


def test_shutdown_communication() -> None:
    """RFC 8203 §2: a length octet then UTF-8, at most 128 octets."""
    sent = Notification.shutdown("maintenance ✓")
    assert sent.shutdown_message() == "maintenance ✓"
    long = Notification.shutdown("é" * 100)
    assert len(long.data) <= 129
    assert long.shutdown_message() == "é" * 64


def test_encoding_impossible_values_is_a_caller_error() -> None:
    from ipaddress import IPv4Address

    from services.bgp.codec import Open
    from services.bgp.codec.attributes import Communities, encode_attribute
    from services.bgp.codec.capabilities import UnknownCapability

    with pytest.raises(BGPEncodeError):
        encode_attribute(Communities((2**32,)), CTX4)
    with pytest.raises(BGPEncodeError):
        Open(65001, 90, IPv4Address("10.0.0.1"), ((UnknownCapability(200, bytes(254)),),)).encode(
            CTX4
        )
    with pytest.raises(BGPEncodeError):
        Open.build(4_200_000_000, 90, IPv4Address("10.0.0.1"), [])
