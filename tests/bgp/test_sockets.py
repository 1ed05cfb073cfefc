"""Socket options set before the SYN: TTL, VRF device, source address, TCP MD5 key layout."""

from __future__ import annotations

import socket
import struct
from ipaddress import ip_address

from services.bgp import sockets
from tests.bgp.interop.lab import require_root


def test_md5sig_layout_matches_struct_tcp_md5sig() -> None:
    raw = sockets.md5sig(ip_address("10.77.0.1"), "secret")
    assert len(raw) == 128 + 1 + 1 + 2 + 4 + 80  # sockaddr_storage, flags, prefixlen, keylen...
    assert struct.unpack_from("=H", raw, 0)[0] == socket.AF_INET
    assert raw[4:8] == bytes([10, 77, 0, 1])
    assert struct.unpack_from("=H", raw, 130)[0] == 6 and raw[136:142] == b"secret"
    raw6 = sockets.md5sig(ip_address("fd77::1"), "k")
    assert struct.unpack_from("=H", raw6, 0)[0] == socket.AF_INET6
    assert raw6[8:24] == ip_address("fd77::1").packed


def test_client_socket_options() -> None:
    require_root()  # SO_BINDTODEVICE and TCP_MD5SIG need CAP_NET_ADMIN / CAP_NET_RAW
    for ttl in (1, 255):
        sock = sockets.client_socket(
            ip_address("127.0.0.1"),
            password="secret",
            ttl=ttl,
            source=ip_address("127.0.0.1"),
            vrf="lo",
        )
        with sock:
            assert sock.getsockopt(socket.IPPROTO_IP, socket.IP_TTL) == ttl
            device = sock.getsockopt(socket.SOL_SOCKET, sockets.SO_BINDTODEVICE, 16)
            assert device.rstrip(b"\0") == b"lo"
            assert sock.getsockname()[0] == "127.0.0.1"
    six = sockets.client_socket(ip_address("::1"), password="", ttl=1, source=None, vrf="")
    with six:
        assert six.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS) == 1
