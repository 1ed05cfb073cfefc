"""The node role's desired state as `metallb.l2.v1` and `metallb.bgp.v1` messages, and the
BGP calls that bring the BGP service to it (`BGPSync`)."""

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration

from gateway.node.desired import BGPRoute, L2Announcement
from metallb.bgp.v1 import bgp_pb2
from metallb.l2.v1 import l2_pb2
from metallb_rules.announce.bgp import per_peer
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
        self.ads_sent: list[bgp_pb2.PeerAdvertisements] | None = None
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
