"""Prefixes as the speaker holds them, and their NLRI encoding (RFC 4271 §4.3, RFC 4760 §5).

Theory of operation: on the wire a prefix is one length octet, then ceil(length / 8) octets of
address; the trailing bits of the last octet are irrelevant (RFC 4271 §4.3). The speaker holds a
prefix as exactly those bytes behind one octet naming its family (its AFI: 1 IPv4, 2
IPv6): a `Prefix` is a plain `bytes` value, canonical (trailing bits zero, so equal
prefixes are equal values), hashable and ordered (IPv4 before IPv6, then by length, then by
address). Encoding an UPDATE is then joining the values without their first octet, and 200,000
routes in a dict cost no `ipaddress` object, no Python-level hash and no conversion.

Building one: `parse_prefix` from text (what `ipaddress.ip_network` accepts, strict: host bits
set are refused with its ValueError), `make_prefix` from an int, `prefix_from_network` from an
`ipaddress` network, `split_nlri` from a packed NLRI field a client sends (strict); `prefix_text`
and `prefix_to_network` give them back. Decoding from the wire clears the trailing bits; what
error a bad prefix there becomes depends on where it sits (Invalid Network Field in the NLRI
field, Optional Attribute Error inside MP_REACH_NLRI), so the caller passes the exception to
raise.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network
from operator import itemgetter
from typing import NewType, cast

from .errors import BGPEncodeError
from .negotiated import AFI

#: One prefix: its AFI in one octet, then its NLRI encoding (see the module docstring).
Prefix = NewType("Prefix", bytes)
Network = IPv4Network | IPv6Network

#: Address width in bits, per family octet (the AFI: both fit one octet).
WIDTH = {int(AFI.IPV4): 32, int(AFI.IPV6): 128}
_V4, _V6 = int(AFI.IPV4), int(AFI.IPV6)
_nlri = itemgetter(slice(1, None))


def _lengths(family: int) -> dict[str, tuple[bytes, int, int]]:
    """Per canonical length text ("0".."width"): (family and length octets, address octets
    kept, mask of the host bits)."""
    width = WIDTH[family]
    return {
        str(bits): (bytes([family, bits]), (bits + 7) // 8, (1 << (width - bits)) - 1)
        for bits in range(width + 1)
    }


_LENGTHS = {socket.AF_INET: _lengths(_V4), socket.AF_INET6: _lengths(_V6)}
_LENGTHS4, _LENGTHS6 = _LENGTHS[socket.AF_INET], _LENGTHS[socket.AF_INET6]


def make_prefix(family: int, network: int, length: int) -> Prefix:
    """The prefix `network`/`length` of `family` (AFI.IPV4 or AFI.IPV6); ValueError for a
    length or address out of range, or host bits set."""
    width = WIDTH.get(family)
    if width is None:
        raise ValueError(f"family {family} is not IPv4 or IPv6")
    if not 0 <= length <= width or not 0 <= network < 1 << width:
        raise ValueError(f"{network}/{length} is not an IPv{4 if width == 32 else 6} prefix")
    if network & ((1 << (width - length)) - 1):
        raise ValueError(f"{network}/{length} has host bits set")
    octets = (length + 7) // 8
    value = network >> (width - 8 * octets)
    return Prefix(bytes([family, length]) + value.to_bytes(octets, "big"))


def prefix_from_network(network: Network) -> Prefix:
    afi = AFI.IPV4 if network.version == 4 else AFI.IPV6
    return make_prefix(afi, int(network.network_address), network.prefixlen)


def parse_prefix(text: str) -> Prefix:
    """`ip_network(text)` (strict: no host bits) as a Prefix, or its ValueError.

    The forms a caller sends ("192.0.2.1/32", "2001:db8::/64": an address inet_pton reads and a
    length in canonical decimal) take one pass: inet_pton, the host-bit check, two octets put
    in front. Anything else (no length, "032", a netmask, a scope, a malformed address, host
    bits set) goes to `ip_network`, which accepts it or raises; so both accept exactly the same
    texts (tests/bgp/test_prefixes.py). An IPv6 zone ("fe80::%eth0/64") is dropped: a route
    has none, nor has the wire."""
    address, _, length = text.partition("/")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    entry = _LENGTHS[family].get(length)
    if entry is not None:
        try:
            packed = socket.inet_pton(family, address)
        except OSError:
            pass
        else:
            head, octets, host = entry
            if not host or not int.from_bytes(packed, "big") & host:
                return Prefix(head + packed[:octets])
    return prefix_from_network(ip_network(text))


def parse_prefixes(texts: Iterable[str]) -> list[Prefix]:
    """`parse_prefix` over many texts (the API's hot path: 200,000 in one call), its one pass
    written out in the loop; ValueError at the first text it refuses (the caller finds which).
    A text off the one pass (no length entry: TypeError unpacking None; a bad address: OSError;
    host bits: ValueError) goes to `parse_prefix`, which decides."""
    out: list[bytes] = []
    append, pton, from_bytes = out.append, socket.inet_pton, int.from_bytes
    v4, v6, lengths4, lengths6 = socket.AF_INET, socket.AF_INET6, _LENGTHS4, _LENGTHS6
    for text in texts:
        address, _, length = text.partition("/")
        try:
            if ":" in address:
                head, octets, host = lengths6.get(length)  # type: ignore[misc]
                packed = pton(v6, address)
            else:
                head, octets, host = lengths4.get(length)  # type: ignore[misc]
                packed = pton(v4, address)
            if host:  # shorter than the address: the host bits must be zero
                if from_bytes(packed, "big") & host:
                    raise ValueError(text)
                packed = packed[:octets]
            append(head + packed)
        except (TypeError, OSError, ValueError):
            append(parse_prefix(text))
    return cast(list[Prefix], out)


def prefix_family(prefix: Prefix) -> int:
    """The prefix's AFI (AFI.IPV4 or AFI.IPV6)."""
    return AFI.IPV4 if prefix[0] == _V4 else AFI.IPV6


def prefix_length(prefix: Prefix) -> int:
    return prefix[1]


def prefix_network(prefix: Prefix) -> int:
    """The network address as an int."""
    width = WIDTH[prefix[0]]
    return int.from_bytes(prefix[2:], "big") << (width - 8 * (len(prefix) - 2))


def prefix_to_network(prefix: Prefix) -> Network:
    length, network = prefix[1], prefix_network(prefix)
    if prefix[0] == _V4:
        return IPv4Network((IPv4Address(network), length))
    return IPv6Network((IPv6Address(network), length))


def prefix_text(prefix: Prefix) -> str:
    """What `str(ip_network(...))` gives: "192.0.2.0/24", "2001:db8::/32"."""
    return str(prefix_to_network(prefix))


def prefix_size(prefix: Prefix) -> int:
    """Octets `prefix` takes on the wire."""
    return len(prefix) - 1


def encode_prefix(prefix: Prefix) -> bytes:
    """Its NLRI encoding (RFC 4271 §4.3)."""
    return prefix[1:]


def encode_prefixes(prefixes: tuple[Prefix, ...] | list[Prefix], afi: int) -> bytes:
    """The NLRI field holding `prefixes`, all of family `afi` (BGPEncodeError otherwise)."""
    if not prefixes:
        return b""
    # The family octet comes first, so the least and the greatest value bound every family.
    if min(prefixes)[0] != afi or max(prefixes)[0] != afi:
        wrong = next(p for p in prefixes if p[0] != afi)
        raise BGPEncodeError(f"{wrong!r} is not an AFI {afi} prefix")
    return b"".join(map(_nlri, prefixes))


def decode_prefixes(data: bytes, afi: int, error: Callable[[str], Exception]) -> tuple[Prefix, ...]:
    """All prefixes in `data` (a whole NLRI / withdrawn routes field) for `afi`."""
    width = WIDTH[afi]
    tag = bytes([afi])
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        bits = data[pos]
        octets = (bits + 7) // 8
        if bits > width:
            raise error(f"prefix length {bits} exceeds {width}")
        end = pos + 1 + octets
        if end > len(data):
            raise error("prefix runs past the end of its field")
        if bits % 8 and data[end - 1] & (0xFF >> (bits % 8)):
            raw = bytearray(data[pos:end])
            raw[-1] &= (0xFF << (8 - bits % 8)) & 0xFF  # trailing bits are irrelevant (§4.3)
            out.append(tag + raw)
        else:
            out.append(tag + data[pos:end])
        pos = end
    return cast(tuple[Prefix, ...], tuple(out))


class PackedPrefixError(ValueError):
    """A packed NLRI field refused by `split_nlri`: what is wrong, and the byte offset of the
    prefix's length octet."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"prefix at byte {offset}: {message}")
        self.offset = offset


def _trailing_tables() -> dict[int, bytes]:
    """Per length % 8 (1..7): a bytes.translate table mapping an octet to its bits past that
    length (zero when the octet ends a prefix properly)."""
    return {r: bytes(b & (0xFF >> r) for b in range(256)) for r in range(1, 8)}


_TRAILING = _trailing_tables()


def split_nlri(data: bytes, afi: int) -> list[Prefix]:
    """The prefixes of a packed NLRI field (RFC 4271 §4.3, RFC 4760 §5: a length octet, then
    ceil(length / 8) octets, repeated) that a client sends, all of family `afi`; strict, unlike
    `decode_prefixes` (a peer's): a length over the width, a truncated last prefix or a bit set
    past the length is PackedPrefixError with the prefix's offset.

    All prefixes of one length (the usual: service addresses are /32 and /128) take C loops
    only: every length octet compared at once (a strided slice), the family octet interleaved
    by slice assignment, the values cut by one struct.unpack. Mixed lengths walk the length
    octets in a Python loop."""
    if not data:
        return []
    width = WIDTH[afi]
    bits = data[0]
    stride = 1 + (bits + 7) // 8
    count, rest = divmod(len(data), stride)
    if (
        bits <= width
        and not rest
        and data[::stride] == bytes([bits]) * count
        and (
            not bits % 8
            or data[stride - 1 :: stride].translate(_TRAILING[bits % 8]).count(0) == count
        )
    ):
        out = bytearray(count * (stride + 1))
        out[:: stride + 1] = bytes([afi]) * count
        for k in range(stride):
            out[k + 1 :: stride + 1] = data[k::stride]
        return cast(list[Prefix], list(struct.unpack(f"{stride + 1}s" * count, out)))
    return _split_mixed(data, afi, width)


def count_nlri(data: bytes, at_most: int) -> int:
    """How many prefixes a packed NLRI field holds (as `split_nlri` would cut it), checked
    against a request's bound before anything is split: C loops when all lengths are one, else
    a walk over the length octets that stops past `at_most` (it then answers `at_most` + 1).
    A malformed field is counted as far as it goes; `split_nlri` refuses it."""
    if not data:
        return 0
    stride = 1 + (data[0] + 7) // 8
    count, rest = divmod(len(data), stride)
    if not rest and data[::stride] == data[:1] * count:
        return count
    pos = found = 0
    while pos < len(data) and found <= at_most:
        pos += 1 + (data[pos] + 7) // 8
        found += 1
    return found


def _split_mixed(data: bytes, afi: int, width: int) -> list[Prefix]:
    tag = bytes([afi])
    out: list[bytes] = []
    append, pos, size = out.append, 0, len(data)
    while pos < size:
        bits = data[pos]
        end = pos + 1 + (bits + 7) // 8
        if bits > width:
            raise PackedPrefixError(f"length {bits} exceeds {width}", pos)
        if end > size:
            raise PackedPrefixError(
                f"/{bits} needs {end - pos - 1} octets, {size - pos - 1} left", pos
            )
        if bits % 8 and data[end - 1] & (0xFF >> (bits % 8)):
            raise PackedPrefixError(f"bits set past its length /{bits}", pos)
        append(tag + data[pos:end])
        pos = end
    return cast(list[Prefix], out)
