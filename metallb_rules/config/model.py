"""The validated configuration the gateway computes RPCs from (MetalLB's `config.Config`)."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from metallb_rules.bfd_profile import BFDProfile
from metallb_rules.communities import Community
from metallb_rules.errors import InvalidArgumentError
from metallb_rules.labels import LabelSelector
from metallb_rules.pools import ParsedPool


class ConfigError(InvalidArgumentError):
    """The configuration is invalid. `message` is MetalLB's text; `field` names the object."""

    transient = False


class TransientConfigError(ConfigError):
    """Invalid because of a reference that may resolve later (a Secret, a BFD profile, an alias);
    MetalLB retries these. It still makes the configuration invalid."""

    transient = True


@dataclass(frozen=True)
class Node:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    network_unavailable: bool = False


@dataclass(frozen=True)
class Peer:
    """A BGPPeer (v1beta2 semantics; v1beta1 objects are converted first)."""

    name: str
    my_asn: int
    peer_asn: int
    dynamic_asn: str
    local_asn: int
    address: str
    interface: str
    port: int
    source_address: str
    router_id: str
    hold_time: int | None  # seconds
    keepalive_time: int | None  # seconds
    connect_time: int | None  # seconds
    password: str = field(repr=False)  # a secret: never in a repr
    password_secret: str
    bfd_profile: str
    ebgp_multihop: bool
    vrf: str
    enable_graceful_restart: bool
    disable_mp: bool
    dual_stack_address_family: bool
    node_selectors: tuple[LabelSelector, ...]
    nodes: frozenset[str]

    @property
    def identifier(self) -> str:
        """FRR's neighbour identity: address or interface, plus `-<vrf>` when a VRF is set."""
        ident = self.address or self.interface
        return f"{ident}-{self.vrf}" if self.vrf else ident


@dataclass(frozen=True)
class BGPAdvertisement:
    name: str
    aggregation_length: int
    aggregation_length_v6: int
    local_pref: int | None
    communities: tuple[Community, ...]
    pools: frozenset[str]
    peers: tuple[str, ...]
    node_selectors: tuple[LabelSelector, ...]
    service_selectors: tuple[LabelSelector, ...]
    nodes: frozenset[str]


@dataclass(frozen=True)
class L2Advertisement:
    name: str
    pools: frozenset[str]
    interfaces: tuple[str, ...]
    node_selectors: tuple[LabelSelector, ...]
    service_selectors: tuple[LabelSelector, ...]
    nodes: frozenset[str]
    # Σ weight of matching preferredNodeSelectors per node of `nodes`; zero scores omitted.
    preferred_nodes: Mapping[str, int]


@dataclass(frozen=True)
class Config:
    pools: Mapping[str, ParsedPool]
    peers: tuple[Peer, ...]
    bfd_profiles: Mapping[str, BFDProfile]
    communities: Mapping[str, Community]
    bgp_advertisements: tuple[BGPAdvertisement, ...]
    l2_advertisements: tuple[L2Advertisement, ...]

    def bgp_ads_for_pool(self, pool: str) -> list[BGPAdvertisement]:
        return [ad for ad in self.bgp_advertisements if pool in ad.pools]

    def l2_ads_for_pool(self, pool: str) -> list[L2Advertisement]:
        return [ad for ad in self.l2_advertisements if pool in ad.pools]
