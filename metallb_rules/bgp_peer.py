"""A BGPPeer's session settings and MetalLB's rules for them (behaviour reference §2.2 "Peers").

Theory of operation: `validate_peer(PeerFields) -> PeerSettings` is the one place a BGPPeer's
session fields are checked; the gateway (CRs, webhook) and the BGP service (programmatic
AddPeer/UpdatePeer) both call it. A failure raises `PeerError` with MetalLB's text (without the
`parsing peer %s` prefix, which each caller adds) and the CR field at fault (`peerAddress`,
`holdTime`...); the caller renames the field for its own request shape.

Timers follow MetalLB's `parseTimers`: hold alone gives keepalive = hold/3, keepalive alone
gives hold = 3 × keepalive, neither leaves both unset (the speaker then uses 90 s / 30 s,
MetalLB's native default); hold is truncated to whole seconds and must be 0 or >= 3 s; keepalive
may not exceed it. Durations are Go durations in nanoseconds, printed as Go prints them.

An `interface` peer (unnumbered BGP, MetalLB 0.15+, FRR's `neighbor IFACE interface`) has no
address: its IPv6 link-local address is learned on that interface by the BGP service.

Beyond MetalLB (each would otherwise surface later, on one node, as a refused AddPeer): AS
numbers are uint32; the source address must be of the peer address's family (IPv6 for an
`interface` peer, whose session runs over IPv6 link-local); an `interface` is a name Linux
accepts (1..15 octets, not `.` or `..`, no `/`, `:` or white space: `dev_valid_name`), where
MetalLB takes any string and the session just never comes up; the port is 0..65535 (0: 179); a
TCP MD5 key is at most 80 octets; connectTime is 1..65535 s, as MetalLB's CRD says.
"""

from dataclasses import dataclass, field
from enum import Enum
from ipaddress import IPv4Address, IPv6Address

from metallb_rules.addresses import parse_ip
from metallb_rules.durations import format_duration
from metallb_rules.gotext import quote

IPAddress = IPv4Address | IPv6Address

SECOND = 1_000_000_000
#: MetalLB native's hold time when a BGPPeer sets none (keepalive: a third of it).
DEFAULT_HOLD_TIME = 90
DEFAULT_PORT = 179
#: TCP_MD5SIG_MAXKEYLEN (linux/tcp.h).
MAX_PASSWORD_OCTETS = 80
#: IFNAMSIZ - 1 (linux/if.h): the longest interface name.
MAX_INTERFACE_OCTETS = 15


class PeerError(ValueError):
    """A BGPPeer MetalLB (or our speaker) would reject. `field` is the CR field name."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class DynamicASN(Enum):
    NONE = ""
    INTERNAL = "internal"
    EXTERNAL = "external"


@dataclass(frozen=True)
class PeerFields:
    """A BGPPeer's session fields as a caller holds them (CR spec or API request)."""

    name: str
    my_asn: int
    peer_asn: int = 0
    dynamic_asn: str = ""
    local_asn: int = 0
    address: str = ""
    interface: str = ""
    port: int = 0
    source_address: str = ""
    router_id: str = ""
    password: str = field(default="", repr=False)  # a secret: never in a repr
    hold_time_ns: int | None = None
    keepalive_time_ns: int | None = None
    connect_time_ns: int | None = None
    ebgp_multihop: bool = False


@dataclass(frozen=True)
class PeerSettings:
    """The validated, typed session fields. Times are whole seconds; None: not set."""

    name: str
    my_asn: int
    peer_asn: int
    dynamic_asn: DynamicASN
    local_asn: int
    #: None for an `interface` peer (its address is learned on the link).
    address: IPAddress | None
    interface: str
    port: int
    source_address: IPAddress | None
    router_id: IPv4Address | None
    password: str = field(repr=False)  # a secret: never in a repr
    hold_time: int | None
    keepalive_time: int | None
    connect_time: int | None
    ebgp_multihop: bool


def parse_timers(hold_ns: int | None, keepalive_ns: int | None) -> tuple[int | None, int | None]:
    """MetalLB's `parseTimers`: (hold, keepalive) in whole seconds, or (None, None)."""
    if hold_ns is None and keepalive_ns is None:
        return None, None
    if keepalive_ns is None:
        assert hold_ns is not None
        keepalive_ns = hold_ns // 3
    elif hold_ns is None:
        hold_ns = keepalive_ns * 3
    rounded = hold_ns // SECOND * SECOND
    if rounded != 0 and rounded < 3 * SECOND:
        raise PeerError(
            f"invalid BGPPeer timers: invalid hold time {quote(format_duration(hold_ns))}: "
            "must be 0 or >=3s",
            "holdTime",
        )
    if keepalive_ns > rounded:
        raise PeerError(
            "invalid BGPPeer timers: invalid keepaliveTime "
            f"{quote(format_duration(keepalive_ns))}, must be lower than holdTime "
            f"{quote(format_duration(hold_ns))}",
            "keepaliveTime",
        )
    return rounded // SECOND, keepalive_ns // SECOND


def effective_timers(hold: int | None, keepalive: int | None) -> tuple[int, int]:
    """The (hold, keepalive) seconds a session uses: the BGPPeer's, or MetalLB native's."""
    if hold is None or keepalive is None:
        return DEFAULT_HOLD_TIME, DEFAULT_HOLD_TIME // 3
    return hold, keepalive


def _ip(text: str, field: str, message: str) -> IPAddress:
    try:
        return parse_ip(text)
    except ValueError:
        raise PeerError(message.format(quote(text)), field) from None


def _dynamic(fields: PeerFields) -> DynamicASN:
    if fields.my_asn == 0:
        raise PeerError("missing local ASN", "myASN")
    if fields.peer_asn == 0 and not fields.dynamic_asn:
        raise PeerError("missing peer ASN and dynamicASN", "peerASN")
    if fields.peer_asn != 0 and fields.dynamic_asn:
        raise PeerError("both peer ASN and dynamicASN specified", "dynamicASN")
    try:
        return DynamicASN(fields.dynamic_asn)
    except ValueError:
        raise PeerError(f"invalid dynamicASN {fields.dynamic_asn}", "dynamicASN") from None


def check_interface_name(name: str) -> None:
    """A name Linux accepts for a network interface (net/core/dev.c `dev_valid_name`)."""
    raw = name.encode()
    if (
        not 1 <= len(raw) <= MAX_INTERFACE_OCTETS
        or name in (".", "..")
        or any(c in "/:" or c.isspace() for c in name)
    ):
        raise PeerError(
            f"invalid interface name {quote(name)}: 1 to 15 octets, not . or .., "
            "no /, : or white space",
            "interface",
        )


def _address(fields: PeerFields) -> IPAddress | None:
    if not fields.address and not fields.interface:
        raise PeerError("peer has no Address or Interface specified", "peerAddress")
    if fields.address and fields.interface:
        raise PeerError("peer has both Address and Interface specified", "interface")
    if fields.interface:
        check_interface_name(fields.interface)
        return None
    return _ip(fields.address, "peerAddress", "invalid BGPPeer address {}")


def check_password(password: str) -> None:
    """A TCP MD5 key (RFC 2385) the kernel accepts."""
    if len(password.encode()) > MAX_PASSWORD_OCTETS:
        raise PeerError("password longer than 80 octets (TCP MD5 key limit)", "password")


def validate_peer(fields: PeerFields) -> PeerSettings:
    """The `PeerSettings` for these fields, or the first rule they break (§2.2 order)."""
    if not fields.name:
        raise PeerError("missing peer name", "name")
    dynamic = _dynamic(fields)
    for value, name in (
        (fields.my_asn, "myASN"),
        (fields.peer_asn, "peerASN"),
        (fields.local_asn, "localASN"),
    ):
        if not 0 <= value <= 0xFFFFFFFF:
            raise PeerError(f"invalid AS number {value}", name)
    if fields.peer_asn == fields.my_asn and fields.ebgp_multihop:
        raise PeerError("invalid ebgp-multihop parameter set for an ibgp peer", "ebgpMultiHop")
    address = _address(fields)
    hold, keepalive = parse_timers(fields.hold_time_ns, fields.keepalive_time_ns)
    router_id: IPv4Address | None = None
    if fields.router_id:
        rid = _ip(fields.router_id, "routerID", "invalid router ID {}")
        if not isinstance(rid, IPv4Address):
            raise PeerError(f"invalid router ID {quote(fields.router_id)}", "routerID")
        router_id = rid
    source: IPAddress | None = None
    if fields.source_address:
        source = _ip(fields.source_address, "sourceAddress", "invalid source IP {}")
        if address is None and source.version != 6:
            raise PeerError(
                f"source address {source} is not IPv6: the session over interface "
                f"{fields.interface} runs over IPv6 link-local",
                "sourceAddress",
            )
        if address is not None and source.version != address.version:
            raise PeerError(
                f"source address {source} and peer address {address} are of different families",
                "sourceAddress",
            )
    if not 0 <= fields.port <= 0xFFFF:
        raise PeerError(f"invalid peer port {fields.port}", "peerPort")
    check_password(fields.password)
    connect: int | None = None
    if fields.connect_time_ns is not None:
        connect = fields.connect_time_ns // SECOND
        if not 1 <= connect <= 65535:
            raise PeerError("connect time should be between 1 seconds to 65535", "connectTime")
    return PeerSettings(
        name=fields.name,
        my_asn=fields.my_asn,
        peer_asn=fields.peer_asn,
        dynamic_asn=dynamic,
        local_asn=fields.local_asn,
        address=address,
        interface=fields.interface,
        port=fields.port or DEFAULT_PORT,
        source_address=source,
        router_id=router_id,
        password=fields.password,
        hold_time=hold,
        keepalive_time=keepalive,
        connect_time=connect,
        ebgp_multihop=fields.ebgp_multihop,
    )


def is_internal(my_asn: int, local_asn: int, peer_asn: int, dynamic_asn: str) -> bool:
    """An iBGP peer: dynamicASN internal, or peerASN equal to the AS we present to it."""
    return dynamic_asn == DynamicASN.INTERNAL.value or (
        peer_asn != 0 and peer_asn == (local_asn or my_asn)
    )
