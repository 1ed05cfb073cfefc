"""The node role's desired state as `metallb.l2.v1` and `metallb.bgp.v1` messages."""

from collections.abc import Iterable, Mapping

from gateway.node.desired import BGPRoute, L2Announcement
from metallb.bfd.v1 import bfd_pb2
from metallb.bgp.v1 import bgp_pb2
from metallb.l2.v1 import l2_pb2
from metallb_rules.bfd_profile import BFDProfile
from metallb_rules.config.model import Peer

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


def bfd_profile(profile: BFDProfile) -> bfd_pb2.Profile:
    msg = bfd_pb2.Profile(
        name=profile.name,
        detect_multiplier=profile.detect_multiplier,
        echo_mode=profile.echo_mode,
        passive_mode=profile.passive_mode,
        minimum_ttl=profile.minimum_ttl,
    )
    msg.receive_interval.FromMilliseconds(profile.receive_interval)
    msg.transmit_interval.FromMilliseconds(profile.transmit_interval)
    msg.echo_interval.FromMilliseconds(profile.echo_interval)
    return msg


def peer_conf(peer: Peer, profiles: Mapping[str, BFDProfile] | None = None) -> bgp_pb2.PeerConf:
    conf = bgp_pb2.PeerConf(
        name=peer.name,
        my_asn=peer.my_asn,
        peer_asn=peer.peer_asn,
        dynamic_asn=_DYNAMIC[peer.dynamic_asn],
        local_asn=peer.local_asn,
        peer_address=peer.address,
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
        conf.hold_time_seconds = peer.hold_time
    if peer.keepalive_time is not None:
        conf.keepalive_time_seconds = peer.keepalive_time
    if peer.connect_time is not None:
        conf.connect_time_seconds = peer.connect_time
    if peer.bfd_profile and profiles and peer.bfd_profile in profiles:
        conf.bfd_profile_settings.CopyFrom(bfd_profile(profiles[peer.bfd_profile]))
    return conf


_AdKey = tuple[str, tuple[str, ...], int | None, tuple[str, ...]]


def advertisements(routes: Iterable[BGPRoute]) -> list[bgp_pb2.Advertisement]:
    """Routes with the same prefix and attributes become one advertisement to their peers."""
    return AdvertisementBuilder().build(routes)


class AdvertisementBuilder:
    """`advertisements`, reusing the messages of the previous call: a node passing 10,000
    routes again with a few changed builds only the changed ones (and nothing at all when it
    is handed the very list of the previous call)."""

    def __init__(self) -> None:
        self._built: dict[_AdKey, bgp_pb2.Advertisement] = {}
        self._last: tuple[object, list[bgp_pb2.Advertisement]] | None = None

    def build(self, routes: Iterable[BGPRoute]) -> list[bgp_pb2.Advertisement]:
        if self._last is not None and self._last[0] is routes:
            return self._last[1]
        grouped: dict[tuple[str, tuple[str, ...], int | None], set[str]] = {}
        for r in routes:
            grouped.setdefault((r.prefix, r.communities, r.local_pref), set()).add(r.peer)
        built: dict[_AdKey, bgp_pb2.Advertisement] = {}
        out = []
        for (prefix, communities, local_pref), peers in sorted(
            grouped.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or 0)
        ):
            key = (prefix, communities, local_pref, tuple(sorted(peers)))
            adv = self._built.get(key)
            if adv is None:
                adv = bgp_pb2.Advertisement(
                    prefix=prefix, communities=list(communities), peers=list(key[3])
                )
                if local_pref is not None:
                    adv.local_pref = local_pref
            built[key] = adv
            out.append(adv)
        self._built = built
        self._last = (routes, out)
        return out
