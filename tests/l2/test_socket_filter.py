"""The kernel filter of the responder's sockets (services/l2/rawsock.py), run by a classic BPF
interpreter of the four instructions it uses: which frames reach userspace."""

import struct
from ipaddress import IPv4Address, IPv6Address

import pytest

from services.l2.core.frames import (
    BROADCAST_MAC,
    ArpFrame,
    ArpOperation,
    NeighborSolicitation,
    gratuitous_arp,
    unsolicited_na,
)
from services.l2.rawsock import bpf_program

MAC = bytes.fromhex("02000000000b")
VIP4 = IPv4Address("10.77.1.10")
VIP6 = IPv6Address("fd77:1::10")


def run(program: list[tuple[int, int, int, int]], frame: bytes) -> bool:
    """Accepted or not (BPF_LD|H/B|ABS, BPF_JMP|JEQ|K, BPF_RET|K, as linux/filter.h)."""
    a, pc = 0, 0
    while True:
        code, jt, jf, k = program[pc]
        if code == 0x28:
            a = struct.unpack_from("!H", frame, k)[0]
        elif code == 0x30:
            a = frame[k]
        elif code == 0x15:
            pc += jt if a == k else jf
        elif code == 0x06:
            return k != 0
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")
        pc += 1


REQUEST = ArpFrame(BROADCAST_MAC, MAC, ArpOperation.REQUEST, MAC, VIP4, b"\0" * 6, VIP4).encode()
ANNOUNCE_REQUEST, ANNOUNCE_REPLY = (f.encode() for f in gratuitous_arp(MAC, VIP4))
SOLICITATION = NeighborSolicitation(
    b"\x33\x33\xff\x00\x00\x10", MAC, IPv6Address("fe80::b"), VIP6, VIP6, MAC
).encode()
ADVERTISEMENT = unsolicited_na(MAC, VIP6).encode()
OTHER_IPV4 = bytes(12) + b"\x08\x00" + bytes(46)


@pytest.mark.parametrize(
    ("arp", "ndp", "accepted"),
    [
        (True, True, {"request", "announce", "ns", "na"}),
        (True, False, {"request", "announce"}),
        (False, True, {"ns", "na"}),
        (False, False, set()),
    ],
)
def test_only_arp_requests_and_neighbor_discovery_reach_userspace(
    arp: bool, ndp: bool, accepted: set[str]
) -> None:
    program = bpf_program(arp, ndp)
    frames = {
        "request": REQUEST,
        "announce": ANNOUNCE_REQUEST,
        "reply": ANNOUNCE_REPLY,
        "ns": SOLICITATION,
        "na": ADVERTISEMENT,
        "ipv4": OTHER_IPV4,
    }
    assert {name for name, frame in frames.items() if run(program, frame)} == accepted
