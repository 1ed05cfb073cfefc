"""NLRI prefixes: <length in bits, the fewest octets that hold them> (RFC 4271 §4.3, RFC 4760 §5).

Theory of operation: one length octet, then ceil(length / 8) octets of address; the trailing
bits of the last octet are irrelevant (RFC 4271 §4.3) and are cleared on decode, so decoding is
total over well-formed input and encoding is canonical. What error a bad prefix becomes depends
on where it sits (Invalid Network Field in the NLRI field, Optional Attribute Error inside
MP_REACH_NLRI), so the caller passes the exception to raise.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network
from typing import Any

from .errors import BGPEncodeError
from .negotiated import AFI

Prefix = IPv4Network | IPv6Network

_new_v4_address, _new_v6_address = IPv4Address.__new__, IPv6Address.__new__
_new_v4_network, _new_v6_network = IPv4Network.__new__, IPv6Network.__new__
_v4_netmask: Any = IPv4Network._make_netmask  # type: ignore[attr-defined]
_v6_netmask: Any = IPv6Network._make_netmask  # type: ignore[attr-defined]


def parse_prefix(text: str) -> Prefix:
    """`ip_network(text)` (strict: no host bits), several times faster for the forms a caller
    sends ("192.0.2.1/32", "2001:db8::/64"): the address is parsed by inet_pton and the network
    built from its parts without ipaddress parsing them again. This relies on ipaddress's
    attributes (`_ip`, `_scope_id`, `network_address`, `netmask`, `_prefixlen`);
    tests/bgp/test_prefixes.py holds the result equal to ip_network's. Anything else (no length,
    a scope, a malformed address) goes to `ip_network`, which accepts it or raises ValueError."""
    address, slash, length = text.partition("/")
    if slash and length.isascii() and length.isdigit() and len(length) <= 3:
        bits = int(length)
        v6 = ":" in address
        width = 128 if v6 else 32
        try:
            packed = socket.inet_pton(socket.AF_INET6 if v6 else socket.AF_INET, address)
        except OSError:
            packed = b""
        value = int.from_bytes(packed, "big")
        if packed and bits <= width and not value & ((1 << (width - bits)) - 1):
            net: Any
            if v6:
                addr: Any = _new_v6_address(IPv6Address)
                addr._ip, addr._scope_id = value, None
                net = _new_v6_network(IPv6Network)
                net.netmask = _v6_netmask(bits)[0]
            else:
                addr = _new_v4_address(IPv4Address)
                addr._ip = value
                net = _new_v4_network(IPv4Network)
                net.netmask = _v4_netmask(bits)[0]
            net.network_address, net._prefixlen = addr, bits
            result: Prefix = net
            return result
    return ip_network(text)


def prefix_size(prefix: Prefix) -> int:
    """Octets `prefix` takes on the wire."""
    return 1 + (prefix.prefixlen + 7) // 8


def encode_prefix(prefix: Prefix) -> bytes:
    octets = (prefix.prefixlen + 7) // 8
    return bytes([prefix.prefixlen]) + prefix.network_address.packed[:octets]


def encode_prefixes(prefixes: tuple[Prefix, ...] | list[Prefix], afi: int) -> bytes:
    want, width = (IPv4Network, 4) if afi == AFI.IPV4 else (IPv6Network, 16)
    out = bytearray()
    for prefix in prefixes:
        if not isinstance(prefix, want):
            raise BGPEncodeError(f"{prefix} is not an AFI {afi} prefix")
        bits = prefix.prefixlen
        octets = (bits + 7) // 8
        # the address as an int, shifted so that only its first `octets` octets remain
        value = int(prefix.network_address) >> (8 * (width - octets))
        out.append(bits)
        out += value.to_bytes(octets, "big")
    return bytes(out)


def decode_prefixes(data: bytes, afi: int, error: Callable[[str], Exception]) -> tuple[Prefix, ...]:
    """All prefixes in `data` (a whole NLRI / withdrawn routes field) for `afi`."""
    width = 4 if afi == AFI.IPV4 else 16
    out: list[Prefix] = []
    pos = 0
    while pos < len(data):
        bits = data[pos]
        octets = (bits + 7) // 8
        if bits > width * 8:
            raise error(f"prefix length {bits} exceeds {width * 8}")
        if pos + 1 + octets > len(data):
            raise error("prefix runs past the end of its field")
        raw = bytearray(data[pos + 1 : pos + 1 + octets])
        if bits % 8:
            raw[-1] &= (0xFF << (8 - bits % 8)) & 0xFF  # trailing bits are irrelevant (§4.3)
        addr = bytes(raw) + bytes(width - octets)
        if width == 4:
            out.append(IPv4Network((IPv4Address(addr), bits)))
        else:
            out.append(IPv6Network((IPv6Address(addr), bits)))
        pos += 1 + octets
    return tuple(out)
