"""A BGP peer's configuration as the speaker core uses it, and its validation.

Theory of operation: `PeerConfig` is the validated, typed form of a BGPPeer (behaviour reference
§2.2 "Peers"). `validate_peer` is the one place the rules live; each failure raises
`InvalidPeerError` naming the request field, with MetalLB's text where MetalLB has one (the
`parsing peer %s` prefix is left to the caller, who knows the name). Durations are seconds.

Timers follow MetalLB's `parseTimers`: hold alone gives keepalive = hold/3, keepalive alone
gives hold = 3 × keepalive, neither gives the defaults (90 s / 30 s, MetalLB's native default);
hold is truncated to whole seconds and must be 0 or >= 3 s; keepalive may not exceed hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from ipaddress import IPv4Address, IPv6Address, ip_address

from metallb_rules.errors import InvalidArgumentError

IPAddress = IPv4Address | IPv6Address

DEFAULT_HOLD_TIME = 90
DEFAULT_PORT = 179
#: Longest wait between two connection attempts when connectTime is not set (MetalLB native).
DEFAULT_MAX_CONNECT_RETRY = 120
#: Restart Time we advertise in the Graceful Restart capability (FRR's default).
GRACEFUL_RESTART_TIME = 120


class InvalidPeerError(InvalidArgumentError):
    """A peer configuration that MetalLB would reject."""


class DynamicASN(Enum):
    NONE = "none"
    INTERNAL = "internal"
    EXTERNAL = "external"


@dataclass(frozen=True)
class PeerConfig:
    name: str
    my_asn: int
    peer_address: IPAddress
    peer_asn: int = 0
    dynamic_asn: DynamicASN = DynamicASN.NONE
    local_asn: int = 0
    peer_port: int = DEFAULT_PORT
    source_address: IPAddress | None = None
    router_id: IPv4Address | None = None
    password: str = ""
    hold_time: int = DEFAULT_HOLD_TIME
    keepalive_time: int = DEFAULT_HOLD_TIME // 3
    connect_time: int | None = None
    ebgp_multihop: bool = False
    vrf: str = ""
    graceful_restart: bool = False
    disable_mp: bool = False
    dual_stack: bool = False
    bfd_profile: str = ""

    @property
    def local_as(self) -> int:
        """The AS we present to this peer: localASN (FRR `local-as ... replace-as`) or myASN."""
        return self.local_asn or self.my_asn

    def accepts_as(self, asn: int) -> bool:
        """Does an OPEN from AS `asn` match peerASN / dynamicASN?"""
        if self.dynamic_asn is DynamicASN.INTERNAL:
            return asn == self.local_as
        if self.dynamic_asn is DynamicASN.EXTERNAL:
            return asn != self.local_as
        return asn == self.peer_asn

    @property
    def max_connect_retry(self) -> int:
        return self.connect_time if self.connect_time else DEFAULT_MAX_CONNECT_RETRY


def go_duration(seconds: float) -> str:
    """`seconds` as Go's time.Duration.String() prints it ("90s", "1m30s", "2.5s")."""
    if seconds == 0:
        return "0s"
    whole = int(seconds)
    frac = seconds - whole
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    sec = f"{s + frac:g}s" if frac else f"{s}s"
    if h:
        return f"{h}h{m}m{sec}"
    if m:
        return f"{m}m{sec}"
    return sec


def _address(value: str, field: str, message: str) -> IPAddress:
    try:
        return ip_address(value)
    except ValueError:
        raise InvalidPeerError(message % (f'"{value}"',), field) from None


def parse_timers(hold: float | None, keepalive: float | None) -> tuple[int, int]:
    """MetalLB's parseTimers, then the defaults; returns whole seconds (hold, keepalive)."""
    if hold is None and keepalive is None:
        return DEFAULT_HOLD_TIME, DEFAULT_HOLD_TIME // 3
    if hold is None:
        assert keepalive is not None
        hold = keepalive * 3
    elif keepalive is None:
        keepalive = hold / 3
    hold_s = math.floor(hold)
    if hold_s != 0 and hold_s < 3:
        raise InvalidPeerError(
            f'invalid BGPPeer timers: invalid hold time "{go_duration(hold)}": must be 0 or >=3s',
            "hold_time",
        )
    if keepalive > hold:
        raise InvalidPeerError(
            "invalid BGPPeer timers: invalid keepaliveTime "
            f'"{go_duration(keepalive)}", must be lower than holdTime "{go_duration(hold)}"',
            "keepalive_time",
        )
    return hold_s, math.floor(keepalive)


def validate_peer(
    *,
    name: str,
    my_asn: int,
    peer_asn: int,
    dynamic_asn: str,
    local_asn: int,
    peer_address: str,
    peer_port: int,
    source_address: str,
    router_id: str,
    password: str,
    hold_time: float | None,
    keepalive_time: float | None,
    connect_time: float | None,
    ebgp_multihop: bool,
    vrf: str,
    graceful_restart: bool,
    disable_mp: bool,
    dual_stack: bool,
    bfd_profile: str,
) -> PeerConfig:
    """The `PeerConfig` for these BGPPeer fields, or the first rule they break (§2.2)."""
    if not name:
        raise InvalidPeerError("missing peer name", "name")
    if my_asn == 0:
        raise InvalidPeerError("missing local ASN", "my_asn")
    for value, field in ((my_asn, "my_asn"), (peer_asn, "peer_asn"), (local_asn, "local_asn")):
        if not 0 <= value <= 0xFFFFFFFF:
            raise InvalidPeerError(f"invalid AS number {value}", field)
    dyn = DynamicASN.NONE
    if dynamic_asn:
        try:
            dyn = DynamicASN(dynamic_asn)
        except ValueError:
            raise InvalidPeerError(f"invalid dynamicASN {dynamic_asn}", "dynamic_asn") from None
        if dyn is DynamicASN.NONE:
            raise InvalidPeerError(f"invalid dynamicASN {dynamic_asn}", "dynamic_asn")
    if peer_asn == 0 and dyn is DynamicASN.NONE:
        raise InvalidPeerError("missing peer ASN and dynamicASN", "peer_asn")
    if peer_asn != 0 and dyn is not DynamicASN.NONE:
        raise InvalidPeerError("both peer ASN and dynamicASN specified", "dynamic_asn")
    if peer_asn == my_asn and ebgp_multihop:
        raise InvalidPeerError(
            "invalid ebgp-multihop parameter set for an ibgp peer", "ebgp_multihop"
        )
    if not peer_address:
        raise InvalidPeerError("peer has no Address or Interface specified", "peer_address")
    address = _address(peer_address, "peer_address", "invalid BGPPeer address %s")
    hold_s, keepalive_s = parse_timers(hold_time, keepalive_time)
    rid: IPv4Address | None = None
    if router_id:
        try:
            rid = IPv4Address(router_id)
        except ValueError:
            raise InvalidPeerError(f'invalid router ID "{router_id}"', "router_id") from None
    source: IPAddress | None = None
    if source_address:
        source = _address(source_address, "source_address", "invalid source IP %s")
        if source.version != address.version:
            raise InvalidPeerError(
                f"source address {source} and peer address {address} are of different families",
                "source_address",
            )
    if not 0 <= peer_port <= 0xFFFF:
        raise InvalidPeerError(f"invalid peer port {peer_port}", "peer_port")
    if len(password.encode()) > 80:  # TCP_MD5SIG_MAXKEYLEN
        raise InvalidPeerError("password longer than 80 octets (TCP MD5 key limit)", "password")
    if connect_time is not None and not 1 <= connect_time <= 65535:
        raise InvalidPeerError(f"invalid connect time {go_duration(connect_time)}", "connect_time")
    return PeerConfig(
        name=name,
        my_asn=my_asn,
        peer_address=address,
        peer_asn=peer_asn,
        dynamic_asn=dyn,
        local_asn=local_asn,
        peer_port=peer_port or DEFAULT_PORT,
        source_address=source,
        router_id=rid,
        password=password,
        hold_time=hold_s,
        keepalive_time=keepalive_s,
        connect_time=math.floor(connect_time) if connect_time else None,
        ebgp_multihop=ebgp_multihop,
        vrf=vrf,
        graceful_restart=graceful_restart,
        disable_mp=disable_mp,
        dual_stack=dual_stack,
        bfd_profile=bfd_profile,
    )
