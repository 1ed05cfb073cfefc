"""IP addresses and pool address entries, parsed exactly as MetalLB parses them.

A pool entry is a CIDR (`10.0.0.0/24`; host bits allowed, as Go's `net.ParseCIDR` allows them;
not trimmed) or a range (`10.0.0.10 - 10.0.0.20`; ends trimmed) that is summarised into the fewest
CIDRs (MetalLB's `ParseCIDR` in internal/config). Errors carry MetalLB's texts.
"""

import ipaddress

from metallb_rules.gotext import quote

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class AddressParseError(ValueError):
    """An entry MetalLB's `ParseCIDR` rejects; the text is MetalLB's."""


def parse_ip(text: str) -> IPAddress:
    """Go's `net.ParseIP` for the forms Kubernetes users write (no zones, no leading zeros)."""
    if "%" in text:
        raise ValueError(text)
    return ipaddress.ip_address(text)


def span(net: IPNetwork) -> tuple[int, int]:
    """The first and last addresses of `net`, as integers. Not `net.broadcast_address`: that is
    cached in a dictionary of the network's own, with an address object, both kept as long as
    the network (IPAM holds every network of two pool sets while SetPools replaces one)."""
    start = int(net.network_address)
    return start, start + (1 << (net.max_prefixlen - net.prefixlen)) - 1


def is_buggy(ip: IPAddress) -> bool:
    """IPv4 addresses ending in .0 or .255 confuse some CPE firmwares (MetalLB §1.5)."""
    return ip.version == 4 and int(ip) & 0xFF in (0, 0xFF)


def _parse_cidr(entry: str) -> list[IPNetwork]:
    # Go's net.ParseCIDR: a "/" is required, surrounding space is not trimmed.
    addr, slash, prefix = entry.partition("/")
    if not slash or not prefix.isdigit() or addr != addr.strip() or not addr:
        raise AddressParseError(f"invalid CIDR {quote(entry)}")
    try:
        parse_ip(addr)
        return [ipaddress.ip_network(entry, strict=False)]
    except ValueError:
        raise AddressParseError(f"invalid CIDR {quote(entry)}") from None


def _parse_range(entry: str) -> list[IPNetwork]:
    first, _, last = entry.partition("-")
    try:
        start = parse_ip(first.strip())
    except ValueError:
        raise AddressParseError(
            f"invalid IP range {quote(entry)}: invalid start IP {quote(first)}"
        ) from None
    try:
        end = parse_ip(last.strip())
    except ValueError:
        raise AddressParseError(
            f"invalid IP range {quote(entry)}: invalid end IP {quote(last)}"
        ) from None
    if start.version != end.version:
        # Go summarises a mixed-family range to nothing; we refuse it (docs/ipam.md).
        raise AddressParseError(f"invalid IP range {quote(entry)}")
    if int(start) > int(end):
        raise AddressParseError(
            f"invalid IP range {quote(entry)}: start IP {quote(start)} is after the end IP "
            f"{quote(end)}"
        )
    return list(ipaddress.summarize_address_range(start, end))


def parse_entry(entry: str) -> list[IPNetwork]:
    """One `spec.addresses` entry to its CIDRs, in address order (MetalLB's `ParseCIDR`)."""
    return _parse_range(entry) if "-" in entry else _parse_cidr(entry)
