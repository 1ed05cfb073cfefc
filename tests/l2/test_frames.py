"""The frame codec against scapy (the oracle), by round trip, and against arbitrary bytes."""

import struct
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet6 import (
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptMTU,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
)
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.utils6 import in6_getnsma, in6_getnsmac

from services.l2.core.drop import DropReason, FrameDecodeError
from services.l2.core.frames import (
    ArpFrame,
    ArpOperation,
    NeighborAdvertisement,
    NeighborSolicitation,
    decode_frame,
    format_mac,
    gratuitous_arp,
    icmpv6_checksum,
    multicast_mac,
    parse_mac,
    solicited_node,
    unsolicited_na,
)

MAC_A = "02:00:00:00:00:0a"
MAC_B = "02:00:00:00:00:0b"

macs = st.binary(min_size=6, max_size=6)
v4 = st.integers(0, 2**32 - 1).map(IPv4Address)
v6 = st.integers(0, 2**128 - 1).map(IPv6Address)
unicast_v6 = v6.filter(lambda ip: not ip.is_multicast)


def _raises(data: bytes) -> DropReason:
    with pytest.raises(FrameDecodeError) as info:
        decode_frame(data)
    return info.value.reason


# --- scapy builds, we decode -------------------------------------------------------------------


def test_arp_request_from_scapy() -> None:
    data = bytes(
        Ether(dst="ff:ff:ff:ff:ff:ff", src=MAC_A)
        / ARP(op=1, hwsrc=MAC_A, psrc="10.77.1.100", pdst="10.77.1.10")
    )
    frame = decode_frame(data)
    assert frame == ArpFrame(
        eth_dst=b"\xff" * 6,
        eth_src=parse_mac(MAC_A),
        operation=ArpOperation.REQUEST,
        sender_mac=parse_mac(MAC_A),
        sender_ip=IPv4Address("10.77.1.100"),
        target_mac=b"\x00" * 6,
        target_ip=IPv4Address("10.77.1.10"),
    )
    # Ethernet padding to 60 bytes (what a NIC delivers) is accepted.
    assert decode_frame(data + b"\x00" * 18) == frame


def test_ns_from_scapy_with_unknown_option_first() -> None:
    data = bytes(
        Ether(dst="33:33:ff:00:00:10", src=MAC_A)
        / IPv6(src="fe80::1", dst="ff02::1:ff00:10", hlim=255)
        / ICMPv6ND_NS(tgt="fd77:1::10")
        / ICMPv6NDOptMTU()
        / ICMPv6NDOptSrcLLAddr(lladdr=MAC_A)
    )
    frame = decode_frame(data)
    assert isinstance(frame, NeighborSolicitation)
    assert frame.target == IPv6Address("fd77:1::10")
    assert frame.source_lla == parse_mac(MAC_A)
    assert frame.ip_src == IPv6Address("fe80::1")


def test_na_from_scapy() -> None:
    data = bytes(
        Ether(dst=MAC_B, src=MAC_A)
        / IPv6(src="fd77:1::10", dst="fe80::2", hlim=255)
        / ICMPv6ND_NA(tgt="fd77:1::10", R=0, S=1, O=1)
        / ICMPv6NDOptDstLLAddr(lladdr=MAC_A)
    )
    frame = decode_frame(data)
    assert isinstance(frame, NeighborAdvertisement)
    assert (frame.solicited, frame.override, frame.router) == (True, True, False)
    assert frame.target_lla == parse_mac(MAC_A)


# --- we build, scapy decodes -------------------------------------------------------------------


def test_arp_reply_parsed_by_scapy() -> None:
    request = ArpFrame(
        b"\xff" * 6,
        parse_mac(MAC_B),
        ArpOperation.REQUEST,
        parse_mac(MAC_B),
        IPv4Address("10.77.1.100"),
        b"\x00" * 6,
        IPv4Address("10.77.1.10"),
    )
    pkt = Ether(request.reply(parse_mac(MAC_A)).encode())
    assert pkt[Ether].dst == MAC_B and pkt[Ether].src == MAC_A
    assert (pkt[ARP].op, pkt[ARP].hwsrc, pkt[ARP].psrc) == (2, MAC_A, "10.77.1.10")
    assert (pkt[ARP].hwdst, pkt[ARP].pdst) == (MAC_B, "10.77.1.100")


def test_gratuitous_pair_parsed_by_scapy() -> None:
    request, reply = gratuitous_arp(parse_mac(MAC_A), IPv4Address("10.77.1.20"))
    for frame, op in ((request, 1), (reply, 2)):
        pkt = Ether(frame.encode())
        assert pkt[Ether].dst == "ff:ff:ff:ff:ff:ff"
        assert pkt[ARP].op == op
        assert pkt[ARP].psrc == pkt[ARP].pdst == "10.77.1.20"  # RFC 5227 §3
        assert pkt[ARP].hwsrc == MAC_A and pkt[ARP].hwdst == "ff:ff:ff:ff:ff:ff"


def test_unsolicited_na_parsed_by_scapy_with_valid_checksum() -> None:
    frame = unsolicited_na(parse_mac(MAC_A), IPv6Address("fd77:1::20"))
    data = frame.encode()
    pkt = Ether(data)
    assert pkt[Ether].dst == "33:33:00:00:00:01"
    assert pkt[IPv6].dst == "ff02::1" and pkt[IPv6].hlim == 255
    na = pkt[ICMPv6ND_NA]
    assert (na.S, na.O, na.R, na.tgt) == (0, 1, 0, "fd77:1::20")
    assert pkt[ICMPv6NDOptDstLLAddr].lladdr == MAC_A
    rebuilt = Ether(data)
    del rebuilt[ICMPv6ND_NA].cksum  # scapy recomputes it: it must equal ours
    assert bytes(rebuilt) == data


@given(unicast_v6)
def test_solicited_node_matches_scapy(ip: IPv6Address) -> None:
    group = solicited_node(ip)
    assert group.packed == in6_getnsma(ip.packed)
    assert format_mac(multicast_mac(group)) == in6_getnsmac(group.packed)


# --- round trips -------------------------------------------------------------------------------


arp_frames = st.builds(ArpFrame, macs, macs, st.sampled_from([1, 2, 3, 9]), macs, v4, macs, v4)
ns_frames = st.builds(
    NeighborSolicitation,
    macs,
    macs,
    unicast_v6.filter(lambda ip: ip != IPv6Address("::")),
    v6,
    unicast_v6,
    macs,
)
na_frames = st.builds(
    NeighborAdvertisement,
    macs,
    macs,
    v6,
    unicast_v6,
    unicast_v6,
    st.none() | macs,
    router=st.booleans(),
    solicited=st.just(True),
    override=st.booleans(),
)


@given(arp_frames)
def test_arp_round_trip(frame: ArpFrame) -> None:
    assert decode_frame(frame.encode()) == frame


@given(ns_frames)
def test_ns_round_trip(frame: NeighborSolicitation) -> None:
    assert decode_frame(frame.encode()) == frame
    assert IPv6Address(Ether(frame.encode())[ICMPv6ND_NS].tgt) == frame.target


@given(na_frames)
def test_na_round_trip(frame: NeighborAdvertisement) -> None:
    assert decode_frame(frame.encode()) == frame


# --- rejections, each with its reason ----------------------------------------------------------


@given(st.binary(max_size=120))
def test_arbitrary_bytes_decode_or_name_a_reason(data: bytes) -> None:
    try:
        frame = decode_frame(data)
    except FrameDecodeError as err:
        assert isinstance(err.reason, DropReason)
    else:
        assert isinstance(frame, ArpFrame | NeighborSolicitation | NeighborAdvertisement)


@given(st.binary(max_size=80), st.sampled_from([b"\x08\x06", b"\x86\xdd"]))
def test_arbitrary_arp_and_ipv6_payloads_decode_or_name_a_reason(
    payload: bytes, ethertype: bytes
) -> None:
    data = b"\xff" * 6 + b"\x02" * 6 + ethertype + payload
    try:
        decode_frame(data)
    except FrameDecodeError as err:
        assert isinstance(err.reason, DropReason)


def _short_ns() -> bytes:
    """An NS cut to 16 octets (RFC 4861 §7.1.1 wants 24 or more) with a valid checksum."""
    src, dst = IPv6Address("fe80::1"), IPv6Address("ff02::1:ff00:10")
    message = bytes([135, 0, 0, 0]) + b"\x00" * 4 + IPv6Address("fd77:1::10").packed[:8]
    checksum = icmpv6_checksum(src, dst, message)
    message = message[:2] + checksum.to_bytes(2, "big") + message[4:]
    header = struct.pack("!IHBB", 6 << 28, len(message), 58, 255) + src.packed + dst.packed
    return bytes(Ether(type=0x86DD)) + header + message


def _ns(**kw: object) -> bytes:
    ip: dict[str, Any] = {"src": "fe80::1", "dst": "ff02::1:ff00:10", "hlim": 255}
    ip.update({k: v for k, v in kw.items() if k in ip})
    pkt = (
        Ether(dst="33:33:ff:00:00:10", src=MAC_A)
        / IPv6(**ip)
        / ICMPv6ND_NS(tgt=kw.get("tgt", "fd77:1::10"), code=kw.get("code", 0))
    )
    if kw.get("slla", True):
        pkt = pkt / ICMPv6NDOptSrcLLAddr(lladdr=MAC_A)
    return bytes(pkt)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00" * 13, DropReason.TRUNCATED),
        (bytes(Ether() / ARP())[:30], DropReason.TRUNCATED),
        (bytes(Ether(type=0x0800) / (b"\x00" * 40)), DropReason.UNSUPPORTED_ETHERTYPE),
        (bytes(Ether() / Dot1Q() / ARP()), DropReason.UNSUPPORTED_ETHERTYPE),
        (bytes(Ether() / ARP(hwtype=6, hwlen=6, plen=4)), DropReason.ARP_NOT_ETHERNET_IPV4),
        (bytes(Ether() / ARP(ptype=0x86DD, hwlen=6, plen=4)), DropReason.ARP_NOT_ETHERNET_IPV4),
        (_ns()[:14] + b"\x40" + _ns()[15:], DropReason.IPV6_BAD_VERSION),
        (_ns()[:-1], DropReason.IPV6_BAD_LENGTH),
        (bytes(Ether() / IPv6(nh=17) / (b"\x00" * 8)), DropReason.NOT_ICMPV6),
        (bytes(Ether() / IPv6() / ICMPv6EchoRequest()), DropReason.NOT_NEIGHBOR_DISCOVERY),
        (_ns(hlim=64), DropReason.NDP_BAD_HOP_LIMIT),
        (_ns()[:-9] + b"\xff" + _ns()[-8:], DropReason.ICMPV6_BAD_CHECKSUM),
        (_ns(code=1), DropReason.NDP_BAD_CODE),
        (_ns(tgt="ff02::1"), DropReason.NDP_MULTICAST_TARGET),
        (_ns(src="::"), DropReason.NS_UNSPECIFIED_SOURCE_WITH_SLLA),
        (
            _ns(src="::", dst="ff02::1", slla=False),
            DropReason.NS_UNSPECIFIED_SOURCE_NOT_SOLICITED_NODE,
        ),
        (
            bytes(
                Ether()
                / IPv6(src="fe80::1", dst="ff02::1", hlim=255)
                / ICMPv6ND_NA(tgt="fd77::1", S=1)
            ),
            DropReason.NA_SOLICITED_TO_MULTICAST,
        ),
        (
            bytes(
                Ether()
                / IPv6(src="fe80::1", dst="ff02::1:ff00:10", hlim=255)
                / ICMPv6ND_NS(tgt="fd77:1::10")
                / ICMPv6NDOptSrcLLAddr(len=0)
            ),
            DropReason.NDP_BAD_OPTION,
        ),
        (_short_ns(), DropReason.NDP_TOO_SHORT),
    ],
    ids=lambda v: v.value if isinstance(v, DropReason) else "frame",
)
def test_rejected_with_reason(data: bytes, reason: DropReason) -> None:
    assert _raises(data) == reason


def test_dad_probe_decodes_without_slla() -> None:
    frame = decode_frame(_ns(src="::", slla=False))
    assert isinstance(frame, NeighborSolicitation) and frame.source_lla is None
