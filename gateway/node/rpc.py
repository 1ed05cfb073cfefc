"""The node role's desired state as `metallb.l2.v1` and `metallb.bgp.v1` messages (the
reconciler, gateway/node/reconciler.py, decides which calls carry them)."""

import logging
from collections.abc import Iterable, Mapping

from google.protobuf.duration_pb2 import Duration

from gateway.node.desired import BGPRoute, L2Announcement
from metallb.bgp.v1 import bgp_pb2
from metallb.l2.v1 import l2_pb2
from metallb_rules.announce.bgp import per_peer
from metallb_rules.bfd_profile import BFDProfile
from metallb_rules.config.model import Peer

log = logging.getLogger(__name__)

_DYNAMIC = {
    "": bgp_pb2.DYNAMIC_ASN_UNSPECIFIED,
    "internal": bgp_pb2.DYNAMIC_ASN_INTERNAL,
    "external": bgp_pb2.DYNAMIC_ASN_EXTERNAL,
}


def announcement_specs(items: Iterable[L2Announcement]) -> list[l2_pb2.AnnouncementSpec]:
    return [
        l2_pb2.AnnouncementSpec(
            ip=a.ip,
            all_interfaces=not a.interfaces,
            interfaces=list(a.interfaces),
            owner=a.service,
        )
        for a in sorted(items)
    ]


def _ms(value: int) -> Duration:
    out = Duration()
    out.FromMilliseconds(value)
    return out


def _seconds(value: int) -> Duration:
    return Duration(seconds=value)


def bfd_settings(profile: BFDProfile) -> bgp_pb2.BfdSettings:
    return bgp_pb2.BfdSettings(
        receive_interval=_ms(profile.receive_interval),
        transmit_interval=_ms(profile.transmit_interval),
        detect_multiplier=profile.detect_multiplier,
        echo_interval=_ms(profile.echo_interval),
        echo_mode=profile.echo_mode,
        passive_mode=profile.passive_mode,
        minimum_ttl=profile.minimum_ttl,
    )


def peer_conf(peer: Peer, profiles: Mapping[str, BFDProfile] | None = None) -> bgp_pb2.PeerConf:
    conf = bgp_pb2.PeerConf(
        name=peer.name,
        my_asn=peer.my_asn,
        peer_asn=peer.peer_asn,
        dynamic_asn=_DYNAMIC[peer.dynamic_asn],
        replace_as=peer.local_asn,
        peer_address=peer.address,
        interface=peer.interface,
        peer_port=peer.port,
        source_address=peer.source_address,
        router_id=peer.router_id,
        password=peer.password,
        ebgp_multihop=peer.ebgp_multihop,
        vrf=peer.vrf,
        enable_graceful_restart=peer.enable_graceful_restart,
        disable_mp=peer.disable_mp,
        dual_stack_address_family=peer.dual_stack_address_family,
        bfd_profile=peer.bfd_profile,
    )
    if peer.hold_time is not None:
        conf.hold_time.CopyFrom(_seconds(peer.hold_time))
    if peer.keepalive_time is not None:
        conf.keepalive_time.CopyFrom(_seconds(peer.keepalive_time))
    if peer.connect_time is not None:
        conf.connect_time.CopyFrom(_seconds(peer.connect_time))
    if peer.bfd_profile and profiles and peer.bfd_profile in profiles:
        conf.bfd.CopyFrom(bfd_settings(profiles[peer.bfd_profile]))
    return conf


def route(r: BGPRoute) -> bgp_pb2.Route:
    """One peer's route as the BGP service takes it: communities typed, LOCAL_PREF decided."""
    out = bgp_pb2.Route(prefix=r.prefix)
    for c in r.communities:
        if c.large:
            a, b, d = c.sort_key
            out.large_communities.add(global_administrator=a, local_data_1=b, local_data_2=d)
        else:
            out.communities.add(asn=c.value >> 16, value=c.value & 0xFFFF)
    if r.local_pref is not None:
        out.local_pref = r.local_pref
    return out


def advertisements(routes: Iterable[BGPRoute]) -> list[bgp_pb2.PeerAdvertisements]:
    """Per peer, its routes, one per prefix (merged by the rules: `per_peer`)."""
    return AdvertisementBuilder().build(routes)


class AdvertisementBuilder:
    """`advertisements`, reusing the messages of the previous call: a peer whose routes did
    not change keeps its message (a node passing 10,000 routes again with a few changed builds
    only the peers they touch, and nothing at all when handed the very list of the last call)."""

    def __init__(self) -> None:
        self._built: dict[tuple[str, tuple[BGPRoute, ...]], bgp_pb2.PeerAdvertisements] = {}
        self._last: tuple[object, list[bgp_pb2.PeerAdvertisements]] | None = None

    def build(self, routes: Iterable[BGPRoute]) -> list[bgp_pb2.PeerAdvertisements]:
        if self._last is not None and self._last[0] is routes:
            return self._last[1]
        built: dict[tuple[str, tuple[BGPRoute, ...]], bgp_pb2.PeerAdvertisements] = {}
        out = []
        for peer, held in sorted(per_peer(routes).items()):
            key = (peer, tuple(held[prefix] for prefix in sorted(held)))
            message = self._built.get(key)
            if message is None:
                message = bgp_pb2.PeerAdvertisements(peer=peer, routes=[route(r) for r in key[1]])
            built[key] = message
            out.append(message)
        self._built = built
        self._last = (routes, out)
        return out
