"""AF_PACKET sockets for the responder, with a kernel BPF filter, and solicited-node groups.

One raw socket per eligible interface (blocking, for the thread that reads it, or non-blocking,
for the event loop). A classic BPF program attached with SO_ATTACH_FILTER before the socket is
bound lets only ARP requests (ar$op = 1) and ICMPv6 Neighbor Solicitations and Advertisements
without extension headers reach userspace, so the kernel drops the rest of the traffic for free;
PACKET_IGNORE_OUTGOING hides our own frames (gratuitous ARP requests included). SO_TIMESTAMPNS
has the kernel stamp each frame on arrival (`recv_stamped`), so a request queued while the
service was frozen is known for what it is (services/l2/core/resume.py). Solicited-node
multicast groups are joined with IPV6_JOIN_GROUP on a plain ICMPv6 socket per interface, as
MetalLB's mdlayher/ndp does: the kernel then both programs the NIC's multicast filter
(33:33:ff:xx:xx:xx) and sends MLD reports, so snooping bridges learn the group
(PACKET_ADD_MEMBERSHIP would program the filter but send no MLD report).
"""

import ctypes
import socket
import struct
from ipaddress import IPv6Address

from services.l2.core.frames import ETH_P_ARP, ETH_P_IPV6

ETH_P_ALL = 0x0003
SO_ATTACH_FILTER = 26
SOL_PACKET = 263
SO_RCVBUFFORCE = 33  # not exported by Python's socket module
PACKET_IGNORE_OUTGOING = 23
SO_TIMESTAMPNS = 35  # not exported by Python's socket module (SO_TIMESTAMPNS_OLD)
_TIMESPEC = struct.Struct("@qq")
_ANCILLARY = socket.CMSG_SPACE(_TIMESPEC.size)
CAP_NET_RAW = 13

# Classic BPF opcodes (linux/filter.h).
_LDH_ABS = 0x28  # BPF_LD | BPF_H | BPF_ABS
_LDB_ABS = 0x30  # BPF_LD | BPF_B | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K
_ACCEPT = 0x40000


def bpf_program(arp: bool, ndp: bool) -> list[tuple[int, int, int, int]]:
    """(code, jt, jf, k) instructions accepting ARP requests if `arp`, and Neighbor
    Solicitations and Advertisements if `ndp`; offsets are from the Ethernet header (no VLAN
    tag). (An Advertisement is never answered: an unsolicited one for an address we answer for
    is another host announcing it, `LinkReplies.announced_elsewhere`.)"""
    return [
        (_LDH_ABS, 0, 0, 12),  # 0: A = ethertype
        (_JEQ_K, 0 if arp else 9, 2, ETH_P_ARP),  # 1: ARP -> 2 (or reject), else -> 4
        (_LDH_ABS, 0, 0, 20),  # 2: A = ar$op
        (_JEQ_K, 6, 7, 1),  # 3: request -> accept, else reject
        (_JEQ_K, 0 if ndp else 6, 6, ETH_P_IPV6),  # 4: IPv6 -> 5 (or reject), else reject
        (_LDB_ABS, 0, 0, 20),  # 5: A = next header
        (_JEQ_K, 0, 4, 58),  # 6: ICMPv6 -> 7, else reject
        (_LDB_ABS, 0, 0, 54),  # 7: A = ICMPv6 type
        (_JEQ_K, 1, 0, 135),  # 8: NS -> accept, else -> 9
        (_JEQ_K, 0, 1, 136),  # 9: NA -> accept, else reject
        (_RET_K, 0, 0, _ACCEPT),  # 10: accept
        (_RET_K, 0, 0, 0),  # 11: reject
    ]


def attach_filter(sock: socket.socket, program: list[tuple[int, int, int, int]]) -> None:
    code = b"".join(struct.pack("HBBI", *insn) for insn in program)
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("HL", len(program), ctypes.addressof(buffer))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


class MissingCapabilityError(PermissionError):
    """The process cannot open raw sockets."""


def has_capability(cap: int) -> bool:
    """Whether the effective capability set holds `cap` (from /proc/self/status)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> cap & 1)
    except OSError:
        pass
    return True  # unknown: let the socket call decide


def _missing_net_raw(detail: str) -> MissingCapabilityError:
    return MissingCapabilityError(
        "the l2 service needs the CAP_NET_RAW capability to open raw AF_PACKET sockets "
        f"(answering ARP/NDP and sending gratuitous packets), and this process lacks it ({detail});"
        " run it as root, or grant it: setcap cap_net_raw+ep, or in Kubernetes "
        "securityContext.capabilities.add: [NET_RAW]"
    )


def check_raw_sockets() -> None:
    """Raise `MissingCapabilityError` naming CAP_NET_RAW if raw sockets cannot be opened."""
    if not has_capability(CAP_NET_RAW):
        raise _missing_net_raw("CapEff has no CAP_NET_RAW")
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()
    except PermissionError as err:
        raise _missing_net_raw(str(err)) from None


def open_responder(
    ifname: str, arp: bool, ndp: bool, *, wait: float | None = None, rcvbuf: int = 16 << 20
) -> socket.socket:
    """A raw socket on `ifname` receiving only what the responder answers: non-blocking (for
    the event loop) if `wait` is None, else blocking, its `recv` giving up after `wait`
    seconds with BlockingIOError (SO_RCVTIMEO: a thread's chance to look whether it should
    stop)."""
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # protocol 0: receives nothing
    except PermissionError as err:
        raise _missing_net_raw(str(err)) from None
    try:
        attach_filter(sock, bpf_program(arp, ndp))
        sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
        except PermissionError:  # without CAP_NET_ADMIN: capped by net.core.rmem_max
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.bind((ifname, ETH_P_ALL))  # filter first, then start receiving
        if wait is None:
            sock.setblocking(False)
        else:
            seconds = int(wait)
            timeval = struct.pack("@ll", seconds, int((wait - seconds) * 1e6))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
    except BaseException:
        sock.close()
        raise
    return sock


def recv_stamped(sock: socket.socket, size: int = 2048) -> tuple[bytes, float | None]:
    """A frame and when the kernel received it (seconds of the wall clock, CLOCK_REALTIME, as
    `time.time()`; None if the frame carried no stamp)."""
    data, ancillary, _, _ = sock.recvmsg(size, _ANCILLARY)
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(value)
            return data, seconds + nanoseconds * 1e-9
    return data, None


class GroupMembership:
    """Solicited-node groups held on one interface (IPV6_JOIN_GROUP / IPV6_LEAVE_GROUP)."""

    def __init__(self, ifindex: int) -> None:
        self.ifindex = ifindex
        self.groups: set[IPv6Address] = set()
        self._sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)

    def _mreq(self, group: IPv6Address) -> bytes:
        return group.packed + struct.pack("@I", self.ifindex)

    def set(self, groups: frozenset[IPv6Address]) -> None:
        for group in sorted(self.groups - groups):
            self._sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_LEAVE_GROUP, self._mreq(group))
            self.groups.discard(group)
        for group in sorted(groups - self.groups):
            self._sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, self._mreq(group))
            self.groups.add(group)

    def report_again(self) -> None:
        """Make the kernel report every group held once more: leaving and joining again sends
        a Done and a Report (MLDv1), or the state-change records (MLDv2)."""
        for group in sorted(self.groups):
            self._sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_LEAVE_GROUP, self._mreq(group))
            self._sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, self._mreq(group))

    def close(self) -> None:
        self._sock.close()  # the kernel leaves every group the socket joined
        self.groups.clear()
