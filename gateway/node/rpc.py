"""The node role's desired state as `metallb.l2.v1` and `metallb.bgp.v1` messages, and the
BGP calls that bring the BGP service to it (`BGPSync`)."""

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import grpc

from gateway.node.desired import BGPRoute, L2Announcement
from metallb.bfd.v1 import bfd_pb2
from metallb.bgp.v1 import bgp_pb2
from metallb.l2.v1 import l2_pb2
from metallb_rules.bfd_profile import BFDProfile
from metallb_rules.config.model import Peer

log = logging.getLogger(__name__)

#: Failures that say the service cannot be reached or is not ready: the whole sync is retried.
#: Any other status refuses this one call, so it is that peer's failure only.
SERVICE_DOWN = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
)

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
    return bfd_pb2.Profile(
        name=profile.name,
        receive_interval_ms=profile.receive_interval,
        transmit_interval_ms=profile.transmit_interval,
        detect_multiplier=profile.detect_multiplier,
        echo_interval_ms=profile.echo_interval,
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
            communities = tuple(str(c) for c in r.communities)
            grouped.setdefault((r.prefix, communities, r.local_pref), set()).add(r.peer)
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


class BGPSync:
    """What the BGP service holds as far as this node knows, and the calls that converge it.

    Peers are added, updated and deleted one by one; a call the service refuses (a peer it
    cannot run) is that peer's failure alone: it is logged, kept in `peer_errors` (for status)
    and tried again on the next sync, and the other peers and the advertisements still go out.
    A service that cannot be reached raises `grpc.aio.AioRpcError`; `forget()` then makes the
    next sync learn what it holds again.
    """

    def __init__(self) -> None:
        self.peers_sent: dict[str, bgp_pb2.PeerConf] | None = None
        self.ads_sent: list[bgp_pb2.Advertisement] | None = None
        self.peer_errors: dict[str, str] = {}
        self._ads = AdvertisementBuilder()

    def forget(self) -> None:
        self.peers_sent = None
        self.ads_sent = None

    async def sync(
        self,
        stub: Any,
        peers: Sequence[Peer],
        profiles: Mapping[str, BFDProfile],
        routes: Iterable[BGPRoute],
    ) -> None:
        wanted = {p.name: peer_conf(p, profiles) for p in peers}
        if self.peers_sent is None:
            held = await stub.ListPeers(bgp_pb2.ListPeersRequest())
            self.peers_sent = {p.conf.name: p.conf for p in held.peers}
        sent = self.peers_sent
        errors: dict[str, str] = {}
        for name in sorted(set(sent) - set(wanted)):
            await self._call(name, errors, stub.DeletePeer(bgp_pb2.DeletePeerRequest(name=name)))
            if name not in errors:
                del sent[name]
        for name, conf in sorted(wanted.items()):
            if name not in sent:
                call = stub.AddPeer(bgp_pb2.AddPeerRequest(peer=conf))
            elif sent[name] != conf:
                call = stub.UpdatePeer(bgp_pb2.UpdatePeerRequest(peer=conf))
            else:
                continue
            if await self._call(name, errors, call):
                sent[name] = conf
        self.peer_errors = errors
        ads = self._ads.build(routes)
        if ads is not self.ads_sent and ads != self.ads_sent:
            await stub.SetAdvertisements(bgp_pb2.SetAdvertisementsRequest(advertisements=ads))
            self.ads_sent = ads

    @staticmethod
    async def _call(name: str, errors: dict[str, str], call: Any) -> bool:
        """Await one peer's call: True if done; False (and the error kept) if refused."""
        try:
            await call
        except grpc.aio.AioRpcError as err:
            if err.code() in SERVICE_DOWN:
                raise
            errors[name] = f"{err.code().name}: {err.details()}"
            log.error("BGP peer %s: %s", name, errors[name])
            return False
        return True
