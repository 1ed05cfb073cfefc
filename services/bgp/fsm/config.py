"""A BGP peer's configuration as the speaker core runs it.

Theory of operation: `PeerConfig` is the typed form of a BGPPeer the state machine reads. It is
built from `metallb_rules.bgp_peer.PeerSettings`, which MetalLB's rules have validated (the one
place a BGPPeer is checked, for the gateway and for the BGP service's API alike); nothing here
validates. Times are whole seconds, with MetalLB native's defaults applied (hold 90 s,
keepalive 30 s). An unnumbered peer (`interface`) has no `peer_address`: the adapter learns
its IPv6 link-local address on the interface (services/bgp/unnumbered); the session is IPv6 and
carries both families, as MetalLB's FRR mode activates both for an unnumbered neighbour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address

from metallb_rules.bgp_peer import (
    DEFAULT_HOLD_TIME,
    DEFAULT_PORT,
    DynamicASN,
    IPAddress,
    PeerSettings,
    effective_timers,
)
from metallb_rules.errors import InvalidArgumentError

__all__ = [
    "DEFAULT_HOLD_TIME",
    "DEFAULT_MAX_CONNECT_RETRY",
    "DEFAULT_MAX_PREFIXES",
    "DEFAULT_PORT",
    "GRACEFUL_RESTART_TIME",
    "DynamicASN",
    "IPAddress",
    "InvalidPeerError",
    "PeerConfig",
]

#: Longest wait between two connection attempts when connectTime is not set (MetalLB native).
DEFAULT_MAX_CONNECT_RETRY = 120
#: Received prefixes kept per peer when max_prefixes is not set: far above what a router sends
#: a MetalLB node on purpose (a default route, a few aggregates), far below a full Internet
#: table (about 1,000,000 IPv4 + 200,000 IPv6 prefixes); about 7 MB at most.
DEFAULT_MAX_PREFIXES = 100_000
#: Restart Time we advertise in the Graceful Restart capability (FRR's default).
GRACEFUL_RESTART_TIME = 120


class InvalidPeerError(InvalidArgumentError):
    """A peer configuration that MetalLB would reject (raised by the service's conversion)."""


@dataclass(frozen=True)
class PeerConfig:
    name: str
    my_asn: int
    #: None for an unnumbered peer (`interface`).
    peer_address: IPAddress | None
    peer_asn: int = 0
    dynamic_asn: DynamicASN = DynamicASN.NONE
    # FRR's `local-as N no-prepend replace-as` (MetalLB's localASN); 0: my_asn.
    replace_as: int = 0
    peer_port: int = DEFAULT_PORT
    source_address: IPAddress | None = None
    router_id: IPv4Address | None = None
    password: str = field(default="", repr=False)  # a secret: never in a repr
    hold_time: int = DEFAULT_HOLD_TIME
    keepalive_time: int = DEFAULT_HOLD_TIME // 3
    connect_time: int | None = None
    ebgp_multihop: bool = False
    vrf: str = ""
    graceful_restart: bool = False
    disable_mp: bool = False
    dual_stack: bool = False
    bfd_profile: str = ""
    #: Received prefixes kept at most; above it the peer stops counting new ones and warns,
    #: or with max_prefix_cease closes with Cease / Maximum Number of Prefixes Reached.
    max_prefixes: int = DEFAULT_MAX_PREFIXES
    max_prefix_cease: bool = False
    #: RFC 5082 for a directly connected peer: TTL 255 out, nothing below 255 accepted.
    gtsm: bool = False
    #: Unnumbered peering over this interface (MetalLB's BGPPeer `interface`).
    interface: str = ""

    @classmethod
    def from_settings(
        cls,
        settings: PeerSettings,
        *,
        vrf: str = "",
        graceful_restart: bool = False,
        disable_mp: bool = False,
        dual_stack: bool = False,
        bfd_profile: str = "",
        max_prefixes: int = 0,
        max_prefix_cease: bool = False,
        gtsm: bool = False,
    ) -> PeerConfig:
        """The core's configuration for validated settings (and the fields MetalLB does not
        check)."""
        hold, keepalive = effective_timers(settings.hold_time, settings.keepalive_time)
        return cls(
            name=settings.name,
            my_asn=settings.my_asn,
            peer_address=settings.address,
            interface=settings.interface,
            peer_asn=settings.peer_asn,
            dynamic_asn=settings.dynamic_asn,
            replace_as=settings.local_asn,
            peer_port=settings.port,
            source_address=settings.source_address,
            router_id=settings.router_id,
            password=settings.password,
            hold_time=hold,
            keepalive_time=keepalive,
            connect_time=settings.connect_time,
            ebgp_multihop=settings.ebgp_multihop,
            vrf=vrf,
            graceful_restart=graceful_restart,
            disable_mp=disable_mp,
            dual_stack=dual_stack,
            bfd_profile=bfd_profile,
            max_prefixes=max_prefixes or DEFAULT_MAX_PREFIXES,
            max_prefix_cease=max_prefix_cease,
            gtsm=gtsm,
        )

    @property
    def ipv4_transport(self) -> bool:
        """The session runs over IPv4 (an unnumbered one is IPv6 link-local)."""
        return isinstance(self.peer_address, IPv4Address)

    @property
    def unnumbered(self) -> bool:
        return bool(self.interface)

    @property
    def local_as(self) -> int:
        """The AS we present to this peer: replace_as, else my_asn."""
        return self.replace_as or self.my_asn

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
