"""Conversions between `metallb.bgp.v1` messages and the speaker's domain types.

Communities use MetalLB's syntax and error texts (behaviour reference §2.2 "Communities"):
`a:b` with two uint16 is an RFC 1997 community, `large:a:b:c` with three uint32 an RFC 8092
one; anything else is rejected with INVALID_ARGUMENT naming the field.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_network

from metallb.bgp.v1 import bgp_pb2
from metallb.common.v1 import common_pb2
from services.bgp.codec import IPV4_UNICAST, IPV6_UNICAST, Family, MessageType
from services.bgp.codec.attributes import LargeCommunity
from services.bgp.codec.errors import describe
from services.bgp.fsm import Advertisement, InvalidPeerError, Peer, PeerConfig, RouteAttrs
from services.bgp.fsm import validate_peer as _validate
from services.bgp.fsm.config import DynamicASN
from services.bgp.fsm.peer import LastError, Reason
from services.bgp.fsm.table import State

_DYNAMIC = {
    bgp_pb2.DYNAMIC_ASN_UNSPECIFIED: "",
    bgp_pb2.DYNAMIC_ASN_INTERNAL: "internal",
    bgp_pb2.DYNAMIC_ASN_EXTERNAL: "external",
}
_DYNAMIC_BACK = {
    DynamicASN.NONE: bgp_pb2.DYNAMIC_ASN_UNSPECIFIED,
    DynamicASN.INTERNAL: bgp_pb2.DYNAMIC_ASN_INTERNAL,
    DynamicASN.EXTERNAL: bgp_pb2.DYNAMIC_ASN_EXTERNAL,
}
STATES = {
    State.IDLE: bgp_pb2.SESSION_STATE_IDLE,
    State.CONNECT: bgp_pb2.SESSION_STATE_CONNECT,
    State.ACTIVE: bgp_pb2.SESSION_STATE_ACTIVE,
    State.OPEN_SENT: bgp_pb2.SESSION_STATE_OPEN_SENT,
    State.OPEN_CONFIRM: bgp_pb2.SESSION_STATE_OPEN_CONFIRM,
    State.ESTABLISHED: bgp_pb2.SESSION_STATE_ESTABLISHED,
}
REASONS: dict[Reason, bgp_pb2.StateReason] = {
    reason: getattr(bgp_pb2, f"STATE_REASON_{reason.name}")
    for reason in Reason
    if reason is not Reason.NONE
}
_FAMILIES: dict[Family, common_pb2.IPFamily] = {
    IPV4_UNICAST: common_pb2.IP_FAMILY_IPV4,
    IPV6_UNICAST: common_pb2.IP_FAMILY_IPV6,
}


def peer_conf_from_proto(conf: bgp_pb2.PeerConf, field: str = "peer") -> PeerConfig:
    try:
        return _validate(
            name=conf.name,
            my_asn=conf.my_asn,
            peer_asn=conf.peer_asn,
            dynamic_asn=_DYNAMIC.get(conf.dynamic_asn, str(conf.dynamic_asn)),
            local_asn=conf.local_asn,
            peer_address=conf.peer_address,
            peer_port=conf.peer_port,
            source_address=conf.source_address,
            router_id=conf.router_id,
            password=conf.password,
            hold_time=conf.hold_time_seconds if conf.HasField("hold_time_seconds") else None,
            keepalive_time=(
                conf.keepalive_time_seconds if conf.HasField("keepalive_time_seconds") else None
            ),
            connect_time=(
                conf.connect_time_seconds if conf.HasField("connect_time_seconds") else None
            ),
            ebgp_multihop=conf.ebgp_multihop,
            vrf=conf.vrf,
            graceful_restart=conf.enable_graceful_restart,
            disable_mp=conf.disable_mp,
            dual_stack=conf.dual_stack_address_family,
            bfd_profile=conf.bfd_profile,
        )
    except InvalidPeerError as err:
        if conf.name and err.field not in ("name",):
            err.message = f"parsing peer {conf.name} {err.message}"
        raise err.with_field(field) from None


def peer_conf_to_proto(cfg: PeerConfig) -> bgp_pb2.PeerConf:
    return bgp_pb2.PeerConf(
        name=cfg.name,
        my_asn=cfg.my_asn,
        peer_asn=cfg.peer_asn,
        dynamic_asn=_DYNAMIC_BACK[cfg.dynamic_asn],
        local_asn=cfg.local_asn,
        peer_address=str(cfg.peer_address),
        peer_port=cfg.peer_port,
        source_address=str(cfg.source_address) if cfg.source_address else "",
        router_id=str(cfg.router_id) if cfg.router_id else "",
        password=cfg.password,
        hold_time_seconds=cfg.hold_time,
        keepalive_time_seconds=cfg.keepalive_time,
        connect_time_seconds=cfg.connect_time,
        ebgp_multihop=cfg.ebgp_multihop,
        vrf=cfg.vrf,
        enable_graceful_restart=cfg.graceful_restart,
        disable_mp=cfg.disable_mp,
        dual_stack_address_family=cfg.dual_stack,
        bfd_profile=cfg.bfd_profile,
    )


def _uint(text: str, bits: int) -> int:
    if not text.isdigit():
        raise ValueError(f'strconv.ParseUint: parsing "{text}": invalid syntax')
    value = int(text)
    if value >= 1 << bits:
        raise ValueError(f'strconv.ParseUint: parsing "{text}": value out of range')
    return value


def parse_community(text: str, field: str) -> int | LargeCommunity:
    """MetalLB's community.New: `a:b` (uint16 each) or `large:a:b:c` (uint32 each)."""
    parts = text.split(":")
    if len(parts) == 2:
        values = []
        for part in parts:
            try:
                values.append(_uint(part, 16))
            except ValueError as err:
                raise InvalidPeerError(
                    f'invalid community value: invalid section "{part}" of community "{text}", '
                    f'err: "{err}"',
                    field,
                ) from None
        return (values[0] << 16) | values[1]
    if len(parts) == 4:
        try:
            if parts[0] != "large":
                raise ValueError
            a, b, c = (_uint(p, 32) for p in parts[1:])
        except ValueError:
            raise InvalidPeerError(
                "invalid community value: invalid marker for large community, expected community"
                " to be of format large:<uint32>:<uint32>:<uint32> but got "
                f'"{text}" instead',
                field,
            ) from None
        return LargeCommunity(a, b, c)
    raise InvalidPeerError(f"invalid community format: {text}", field)


def community_text(value: int | LargeCommunity) -> str:
    if isinstance(value, LargeCommunity):
        return f"large:{value}"
    return f"{value >> 16}:{value & 0xFFFF}"


@functools.lru_cache(maxsize=1 << 18)
def _prefix(text: str) -> IPv4Network | IPv6Network:
    """A prefix string parsed once: a caller re-sends the whole set on every change."""
    return ip_network(text)


def advertisements_from_proto(ads: Sequence[bgp_pb2.Advertisement]) -> list[Advertisement]:
    out: list[Advertisement] = []
    for i, ad in enumerate(ads):
        base = f"advertisements[{i}]"
        try:
            prefix = _prefix(ad.prefix)
        except ValueError:
            raise InvalidPeerError(f"invalid prefix {ad.prefix!r}", f"{base}.prefix") from None
        legacy: set[int] = set()
        large: set[LargeCommunity] = set()
        for j, text in enumerate(ad.communities):
            value = parse_community(text, f"{base}.communities[{j}]")
            if isinstance(value, LargeCommunity):
                large.add(value)
            else:
                legacy.add(value)
        local_pref = ad.local_pref if ad.HasField("local_pref") else None
        attrs = RouteAttrs(tuple(sorted(legacy)), tuple(sorted(large)), local_pref)
        out.append(Advertisement(prefix, attrs, frozenset(ad.peers)))
    return out


def route_to_proto(prefix: object, attrs: RouteAttrs, sent: bool) -> bgp_pb2.AdvertisedRoute:
    route = bgp_pb2.AdvertisedRoute(
        prefix=str(prefix),
        communities=[community_text(c) for c in attrs.communities]
        + [community_text(c) for c in attrs.large_communities],
        sent=sent,
    )
    if attrs.local_pref is not None:
        route.local_pref = attrs.local_pref
    return route


def _counters(counts: dict[MessageType, int]) -> bgp_pb2.MessageCounters:
    return bgp_pb2.MessageCounters(
        open=counts[MessageType.OPEN],
        update=counts[MessageType.UPDATE],
        notification=counts[MessageType.NOTIFICATION],
        keepalive=counts[MessageType.KEEPALIVE],
        route_refresh=counts[MessageType.ROUTE_REFRESH],
        total=sum(counts.values()),
    )


def _families(families: frozenset[Family]) -> list[common_pb2.IPFamily]:
    return [_FAMILIES[f] for f in sorted(families) if f in _FAMILIES]


def _error(error: LastError | None, wall: float) -> bgp_pb2.LastError | None:
    if error is None:
        return None
    out = bgp_pb2.LastError(
        reason=REASONS.get(error.reason, bgp_pb2.STATE_REASON_UNSPECIFIED),
        message=error.message,
        time=wall,
    )
    n = error.notification
    if n is not None:
        text = describe(n.code, n.subcode)
        shutdown = n.shutdown_message()
        out.notification.CopyFrom(
            bgp_pb2.NotificationInfo(
                code=n.code,
                subcode=n.subcode,
                data=n.data,
                description=f"{text}: {shutdown}" if shutdown else text,
                sent=error.sent,
            )
        )
    return out


def peer_to_proto(peer: Peer, now: float, bfd_status: str = "") -> bgp_pb2.Peer:
    """`now` is the core's clock (loop.time()); times are converted to Unix time."""
    offset = time.time() - now
    state = bgp_pb2.PeerState(
        session_state=STATES[peer.state],
        reason=REASONS.get(peer.reason, bgp_pb2.STATE_REASON_UNSPECIFIED),
        reason_message=peer.reason_message,
        last_transition_time=peer.state_since + offset,
        sent=_counters(peer.counters.sent),
        received=_counters(peer.counters.received),
        prefixes_advertised=len(peer.rib.sent),
        prefixes_pending=peer.pending(),
        prefixes_received=len(peer.received),
        established_transitions=peer.counters.established_transitions,
        bfd_status=bfd_status,
    )
    conn = peer.established()
    if conn is not None and conn.remote_open is not None:
        ctx = conn.ctx
        state.uptime_seconds = now - (peer.established_since or now)
        state.negotiated_hold_time = ctx.hold_time
        state.keepalive_interval = int(conn.keepalive_interval)
        state.local_address = str(conn.local) if conn.local else ""
        state.peer_router_id = str(conn.remote_open.bgp_id)
        state.peer_asn = conn.remote_open.asn
        state.capabilities.CopyFrom(
            bgp_pb2.NegotiatedCapabilities(
                four_octet_as=ctx.four_octet_as,
                families=_families(ctx.families),
                extended_next_hop=_families(ctx.extended_nexthop),
                route_refresh=ctx.route_refresh,
                graceful_restart=conn.graceful_restart(),
            )
        )
    error = _error(peer.last_error, peer.last_error_at + offset)
    if error is not None:
        state.last_error.CopyFrom(error)
    return bgp_pb2.Peer(conf=peer_conf_to_proto(peer.config), state=state)
