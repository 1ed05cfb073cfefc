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
        assert six.getsockopt(socket.IPPROTO_IPV6, sockets.IPV6_MINHOPCOUNT) == 0


def test_gtsm_sets_the_minimum_ttl_before_the_syn() -> None:
    """RFC 5082: IP_MINTTL / IPV6_MINHOPCOUNT 255 (values from linux/in.h, linux/in6.h)."""
    assert (sockets.IP_MINTTL, sockets.IPV6_MINHOPCOUNT) == (21, 73)
    for addr, level, option in (
        ("127.0.0.1", socket.IPPROTO_IP, sockets.IP_MINTTL),
        ("::1", socket.IPPROTO_IPV6, sockets.IPV6_MINHOPCOUNT),
    ):
        sock = sockets.client_socket(
            ip_address(addr), password="", ttl=255, source=None, vrf="", min_ttl=255
        )
        with sock:
            assert sock.getsockopt(level, option) == 255


def _connects(listener: socket.socket, family: int, ttl: int) -> bool:
    """Whether a connection sent with `ttl` from loopback reaches `listener` (loopback keeps the
    TTL: no router decrements it)."""
    addr = listener.getsockname()[:2]
    with socket.socket(family, socket.SOCK_STREAM) as client:
        sockets.set_ttl(client, family, ttl)
        client.settimeout(1.5)  # a dropped SYN is only seen as silence
        try:
            client.connect(addr)
        except (TimeoutError, OSError):
            return False
        return True


def test_gtsm_filter_drops_a_gtsm_peers_segments_below_ttl_255() -> None:
    """RFC 5082 on a shared listener: the BPF filter drops the SYN of a GTSM peer's address
    sent with TTL 254, accepts it with 255, and leaves other addresses alone."""
    for family, loop, other in (
        (socket.AF_INET, "127.0.0.1", "127.0.0.2"),
        (socket.AF_INET6, "::1", "fd00::99"),
    ):
        with socket.socket(family, socket.SOCK_STREAM) as listener:
            listener.bind((loop, 0))
            listener.listen(8)
            sockets.set_gtsm_filter(listener, family, [ip_address(other), ip_address(loop)])
            assert _connects(listener, family, 255)
            assert not _connects(listener, family, 254)
            sockets.set_gtsm_filter(listener, family, [ip_address(other)])  # loop: not GTSM
            assert _connects(listener, family, 254)
            sockets.set_gtsm_filter(listener, family, [])  # detached
            assert _connects(listener, family, 1)
