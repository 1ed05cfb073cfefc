"""Conversions between `metallb.bgp.v1` messages and the speaker's domain types.

A peer's configuration is checked by MetalLB's rules (`metallb_rules.bgp_peer.validate_peer`),
the very function the gateway runs on BGPPeer objects; a failure becomes INVALID_ARGUMENT naming
the request field, with MetalLB's text. Routes arrive typed and per peer, already decided by the
rules (metallb_rules.announce.bgp): nothing here parses a community or picks a LOCAL_PREF; only
the wire ranges are checked (a community half is 16 bits, one route per prefix). Times are
`google.protobuf.Timestamp`, intervals `google.protobuf.Duration`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import NoReturn

from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask

from metallb.bgp.v1 import bgp_pb2
from metallb.common.v1 import common_pb2
from metallb_rules.bgp_peer import DynamicASN, PeerError, PeerFields, validate_peer
from services.bgp.codec import AFI, IPV4_UNICAST, IPV6_UNICAST, Family, MessageType
from services.bgp.codec.attributes import LargeCommunity
from services.bgp.codec.errors import describe
from services.bgp.codec.prefixes import (
    PackedPrefixError,
    Prefix,
    parse_prefix,
    parse_prefixes,
    prefix_size,
    prefix_text,
    split_nlri,
)
from services.bgp.fsm import InvalidPeerError, Peer, PeerConfig, RouteAttrs
from services.bgp.fsm.peer import LastError, Reason
from services.bgp.fsm.table import State
from services.bgp.unnumbered.tracker import LinkCounters, Source, View

NANOS = 1_000_000_000
_DYNAMIC = {
    bgp_pb2.DYNAMIC_ASN_UNSPECIFIED: DynamicASN.NONE,
    bgp_pb2.DYNAMIC_ASN_INTERNAL: DynamicASN.INTERNAL,
    bgp_pb2.DYNAMIC_ASN_EXTERNAL: DynamicASN.EXTERNAL,
}
_DYNAMIC_BACK = {v: k for k, v in _DYNAMIC.items()}
#: BGPPeer CR field (what the rules name) -> PeerConf field.
_FIELDS = {
    "myASN": "my_asn",
    "peerASN": "peer_asn",
    "dynamicASN": "dynamic_asn",
    "localASN": "replace_as",
    "peerAddress": "peer_address",
    "interface": "interface",
    "peerPort": "peer_port",
    "sourceAddress": "source_address",
    "routerID": "router_id",
    "holdTime": "hold_time",
    "keepaliveTime": "keepalive_time",
    "connectTime": "connect_time",
    "ebgpMultiHop": "ebgp_multihop",
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


def _nanoseconds(conf: bgp_pb2.PeerConf, name: str) -> int | None:
    if not conf.HasField(name):
        return None
    value: Duration = getattr(conf, name)
    return value.seconds * NANOS + value.nanos


def _seconds(value: float) -> Duration:
    out = Duration()
    out.FromNanoseconds(round(value * NANOS))
    return out


def peer_conf_from_proto(conf: bgp_pb2.PeerConf, field: str = "peer") -> PeerConfig:
    """The core's configuration, or INVALID_ARGUMENT naming `field`.<the field at fault>."""
    dynamic = _DYNAMIC.get(conf.dynamic_asn)
    if dynamic is None:
        raise InvalidPeerError(f"invalid dynamicASN {conf.dynamic_asn}", f"{field}.dynamic_asn")
    fields = PeerFields(
        name=conf.name,
        my_asn=conf.my_asn,
        peer_asn=conf.peer_asn,
        dynamic_asn=dynamic.value,
        local_asn=conf.replace_as,
        address=conf.peer_address,
        interface=conf.interface,
        port=conf.peer_port,
        source_address=conf.source_address,
        router_id=conf.router_id,
        password=conf.password,
        hold_time_ns=_nanoseconds(conf, "hold_time"),
        keepalive_time_ns=_nanoseconds(conf, "keepalive_time"),
        connect_time_ns=_nanoseconds(conf, "connect_time"),
        ebgp_multihop=conf.ebgp_multihop,
    )
    try:
        settings = validate_peer(fields)
    except PeerError as err:
        message = err.message if err.field == "name" else f"parsing peer {conf.name} {err.message}"
        raise InvalidPeerError(message, f"{field}.{_FIELDS.get(err.field, err.field)}") from None
    if conf.gtsm and conf.ebgp_multihop:  # FRR refuses ttl-security with ebgp-multihop too
        raise InvalidPeerError(
            f"peer {conf.name}: gtsm is for directly connected peers, not with ebgp_multihop",
            f"{field}.gtsm",
        )
    return PeerConfig.from_settings(
        settings,
        vrf=conf.vrf,
        graceful_restart=conf.enable_graceful_restart,
        disable_mp=conf.disable_mp,
        dual_stack=conf.dual_stack_address_family,
        bfd_profile=conf.bfd_profile,
        max_prefixes=conf.max_prefixes,
        max_prefix_cease=conf.max_prefix_cease,
        gtsm=conf.gtsm,
    )


def peer_conf_to_proto(cfg: PeerConfig, bfd: bgp_pb2.BfdSettings | None = None) -> bgp_pb2.PeerConf:
    """What GetPeer shows: every field as the speaker runs it (timers with their defaults)."""
    conf = bgp_pb2.PeerConf(
        name=cfg.name,
        my_asn=cfg.my_asn,
        peer_asn=cfg.peer_asn,
        dynamic_asn=_DYNAMIC_BACK[cfg.dynamic_asn],
        replace_as=cfg.replace_as,
        peer_address=str(cfg.peer_address) if cfg.peer_address is not None else "",
        interface=cfg.interface,
        peer_port=cfg.peer_port,
        source_address=str(cfg.source_address) if cfg.source_address else "",
        router_id=str(cfg.router_id) if cfg.router_id else "",
        password_set=bool(cfg.password),
        password_fingerprint=password_fingerprint(cfg.name, cfg.password),
        hold_time=_seconds(cfg.hold_time),
        keepalive_time=_seconds(cfg.keepalive_time),
        ebgp_multihop=cfg.ebgp_multihop,
        vrf=cfg.vrf,
        enable_graceful_restart=cfg.graceful_restart,
        disable_mp=cfg.disable_mp,
        dual_stack_address_family=cfg.dual_stack,
        bfd_profile=cfg.bfd_profile,
        max_prefixes=cfg.max_prefixes,
        max_prefix_cease=cfg.max_prefix_cease,
        gtsm=cfg.gtsm,
    )
    if cfg.connect_time is not None:
        conf.connect_time.CopyFrom(_seconds(cfg.connect_time))
    if bfd is not None:
        conf.bfd.CopyFrom(bfd)
    return conf


def password_fingerprint(name: str, password: str) -> str:
    """What a response shows of a password: "" when none, else 16 hex digits of a SHA-256 keyed
    by the peer's name (the same password on two peers does not look the same)."""
    if not password:
        return ""
    digest = hashlib.sha256(f"metallb-grpc/bgp-password/{name}\0{password}".encode())
    return digest.hexdigest()[:16]


def updated_conf(
    current: bgp_pb2.PeerConf, request: bgp_pb2.UpdatePeerRequest, current_password: str = ""
) -> bgp_pb2.PeerConf:
    """UpdatePeer's configuration: the request's PeerConf, or with an update_mask the current
    one with the named fields taken from the request (AIP-134). `current` is what GetPeer shows
    (no password): a request that leaves the password empty but names the current fingerprint
    keeps `current_password`."""
    mask: FieldMask = request.update_mask
    if not mask.paths:
        conf = bgp_pb2.PeerConf()
        conf.CopyFrom(request.peer)
        if not conf.password and conf.password_fingerprint == current.password_fingerprint:
            conf.password = current_password
        return conf
    if not mask.IsValidForDescriptor(bgp_pb2.PeerConf.DESCRIPTOR):  # type: ignore[arg-type]
        raise InvalidPeerError(
            f"unknown PeerConf field in {', '.join(mask.paths)[:200]}", "update_mask"
        )
    if "name" in mask.paths:
        raise InvalidPeerError("a peer cannot be renamed", "update_mask")
    merged = bgp_pb2.PeerConf()
    merged.CopyFrom(current)
    merged.password = current_password
    mask.MergeMessage(request.peer, merged, replace_message_field=True)
    return merged


# ---- routes --------------------------------------------------------------------------------

_NO_ATTRS = RouteAttrs()
#: A packed field of RouteGroup and the family of its prefixes.
_PACKED = (("ipv4_nlri", AFI.IPV4), ("ipv6_nlri", AFI.IPV6))


def _attrs(route: bgp_pb2.Route | bgp_pb2.RouteGroup, where: str) -> RouteAttrs:
    """A route's or a group's attributes (one object for a whole group)."""
    communities: list[int] = []
    for k, c in enumerate(route.communities):
        if c.asn > 0xFFFF or c.value > 0xFFFF:
            raise InvalidPeerError(
                f"community {c.asn}:{c.value}: each half is 16 bits (RFC 1997)",
                f"{where}.communities[{k}]",
            )
        communities.append(c.asn << 16 | c.value)
    large = [
        LargeCommunity(c.global_administrator, c.local_data_1, c.local_data_2)
        for c in route.large_communities
    ]
    local_pref = route.local_pref if route.HasField("local_pref") else None
    if not communities and not large and local_pref is None:
        return _NO_ATTRS
    return RouteAttrs(tuple(sorted(set(communities))), tuple(sorted(set(large))), local_pref)


def _varint_size(value: int) -> int:
    return max(1, (value.bit_length() + 6) // 7)


def _field_size(size: int) -> int:
    """Octets of one length-delimited field of `size` octets (field number < 16)."""
    return 1 + _varint_size(size) + size


def _prefixes_only(ads: bgp_pb2.PeerAdvertisements, texts: list[str]) -> bool:
    """Do the routes carry a prefix and nothing else? Read off the message's encoded size, one C
    call instead of a look at each route: a prefix-only Route (prefix < 128 octets) is exactly
    tag, length, tag, length, prefix. Anything else (attributes, `sent`, a long or non-ASCII
    prefix) makes the sizes differ, and the route-by-route path handles it."""
    peer = len(ads.peer.encode())
    header = _field_size(peer) if peer else 0
    groups = sum(_field_size(group.ByteSize()) for group in ads.groups)
    return ads.ByteSize() == header + groups + 4 * len(texts) + sum(map(len, texts))


def peer_routes_from_proto(ads: bgp_pb2.PeerAdvertisements, where: str) -> dict[Prefix, RouteAttrs]:
    """One peer's routes (`routes` and every group's), or InvalidPeerError naming the field at
    fault.

    The API's hot path (200,000 routes in one call): routes that carry only their prefix (the
    common case) are converted without a Python step per route besides parsing the prefix
    (one pass each, codec/prefixes.py); the first error sends the whole set through `_checked`,
    which names the field. A group costs one RouteAttrs and C loops (`split_nlri`,
    `dict.fromkeys`); a prefix given twice anywhere is found by comparing sizes, then named by
    `_duplicate`."""
    out = _routes(ads, where) if ads.routes else {}
    given = len(ads.routes)
    for j, group in enumerate(ads.groups):
        here = f"{where}.groups[{j}]"
        attrs = _attrs(group, here)
        for prefixes in _group_prefixes(group, here):
            given += len(prefixes)
            if out:
                out.update(dict.fromkeys(prefixes, attrs))
            else:
                out = dict.fromkeys(prefixes, attrs)
    if len(out) != given:
        _duplicate(ads, where)
    return out


def _routes(ads: bgp_pb2.PeerAdvertisements, where: str) -> dict[Prefix, RouteAttrs]:
    texts = [route.prefix for route in ads.routes]
    try:
        if _prefixes_only(ads, texts):
            out = dict.fromkeys(parse_prefixes(texts), _NO_ATTRS)
        else:
            out = {parse_prefix(route.prefix): _attrs(route, where) for route in ads.routes}
    except (ValueError, InvalidPeerError):
        return _checked(ads, where)
    if len(out) != len(texts):
        return _checked(ads, where)
    return out


def _group_prefixes(group: bgp_pb2.RouteGroup, where: str) -> Iterator[list[Prefix]]:
    """A group's prefixes: the texts, then each packed field's (InvalidPeerError naming the
    text, or the packed field and the byte offset, at fault)."""
    if group.prefixes:
        try:
            yield parse_prefixes(group.prefixes)
        except ValueError:
            for k, text in enumerate(group.prefixes):
                try:
                    parse_prefix(text)
                except ValueError:
                    raise InvalidPeerError(
                        f"invalid prefix {text[:64]!r}", f"{where}.prefixes[{k}]"
                    ) from None
            raise  # parse_prefixes refuses exactly what parse_prefix refuses
    for name, afi in _PACKED:
        data: bytes = getattr(group, name)
        if data:
            try:
                yield split_nlri(data, afi)
            except PackedPrefixError as err:
                raise InvalidPeerError(str(err), f"{where}.{name}") from None


def _places(ads: bgp_pb2.PeerAdvertisements, where: str) -> Iterator[tuple[Prefix, str, str]]:
    """Every prefix of a valid request with its field and, for a packed one, its offset."""
    for j, route in enumerate(ads.routes):
        yield parse_prefix(route.prefix), f"{where}.routes[{j}].prefix", ""
    for j, group in enumerate(ads.groups):
        here = f"{where}.groups[{j}]"
        for k, text in enumerate(group.prefixes):
            yield parse_prefix(text), f"{here}.prefixes[{k}]", ""
        for name, afi in _PACKED:
            data: bytes = getattr(group, name)
            offset = 0
            for prefix in split_nlri(data, afi):
                yield prefix, f"{here}.{name}", f" at byte {offset}"
                offset += prefix_size(prefix)


def _duplicate(ads: bgp_pb2.PeerAdvertisements, where: str) -> NoReturn:
    """Raise InvalidPeerError for the first prefix given a second time, naming both places."""
    seen: dict[Prefix, str] = {}
    for prefix, field, offset in _places(ads, where):
        first = seen.setdefault(prefix, f"{field}{offset}")
        if first != f"{field}{offset}":
            raise InvalidPeerError(
                f"prefix {prefix_text(prefix)}{offset} given twice: one route per prefix "
                f"(first at {first})",
                field,
            )
    raise AssertionError("no prefix given twice")  # the caller counted one


def _checked(ads: bgp_pb2.PeerAdvertisements, where: str) -> dict[Prefix, RouteAttrs]:
    out: dict[Prefix, RouteAttrs] = {}
    first: dict[Prefix, int] = {}
    for j, route in enumerate(ads.routes):
        field = f"{where}.routes[{j}]"
        try:
            prefix = parse_prefix(route.prefix)
        except ValueError:
            raise InvalidPeerError(
                f"invalid prefix {route.prefix[:64]!r}", f"{field}.prefix"
            ) from None
        if prefix in out:
            raise InvalidPeerError(
                f"prefix {prefix_text(prefix)} given twice: one route per prefix "
                f"(first at {where}.routes[{first[prefix]}].prefix)",
                f"{field}.prefix",
            )
        out[prefix] = _attrs(route, field)
        first[prefix] = j
    return out


def route_to_proto(prefix: Prefix, attrs: RouteAttrs, sent: bool) -> bgp_pb2.Route:
    route = bgp_pb2.Route(
        prefix=prefix_text(prefix),
        communities=[bgp_pb2.Community(asn=c >> 16, value=c & 0xFFFF) for c in attrs.communities],
        large_communities=[
            bgp_pb2.LargeCommunity(
                global_administrator=c.global_admin,
                local_data_1=c.local1,
                local_data_2=c.local2,
            )
            for c in attrs.large_communities
        ],
        sent=sent,
    )
    if attrs.local_pref is not None:
        route.local_pref = attrs.local_pref
    return route


# ---- peer state ----------------------------------------------------------------------------


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
    )
    out.time.FromNanoseconds(round(wall * NANOS))
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


_SOURCES = {
    Source.ROUTER_ADVERTISEMENT: bgp_pb2.NEIGHBOR_SOURCE_ROUTER_ADVERTISEMENT,
    Source.NEIGHBOR_CACHE: bgp_pb2.NEIGHBOR_SOURCE_NEIGHBOR_CACHE,
    Source.INCOMING_CONNECTION: bgp_pb2.NEIGHBOR_SOURCE_INCOMING_CONNECTION,
}


def unnumbered_to_proto(
    interface: str, view: View, counters: LinkCounters, wall_offset: float
) -> bgp_pb2.UnnumberedState:
    """An unnumbered peer's link: the learned neighbour ("fe80::1%eth1") and how."""
    out = bgp_pb2.UnnumberedState(
        interface=interface,
        link_up=view.link_up,
        local_address=f"{view.link_local}%{interface}" if view.link_local else "",
        router_advertisements_sent=counters.ra_sent,
        router_advertisements_received=counters.ra_received,
    )
    n = view.neighbour
    if n is not None:
        out.neighbor_address = f"{n.address}%{interface}"
        out.neighbor_source = _SOURCES[n.source]
        out.learned_time.FromNanoseconds(round((n.learned_at + wall_offset) * NANOS))
    return out


def peer_to_proto(
    peer: Peer,
    now: float,
    bfd_status: str = "",
    bfd: bgp_pb2.BfdSettings | None = None,
    wall_offset: float | None = None,
    *,
    link: tuple[View, LinkCounters] | None = None,
) -> bgp_pb2.Peer:
    """`now` is the core's clock (loop.time()); times are converted to wall-clock Timestamps by
    adding `wall_offset` (the service fixes it once, so one event reads the same every time;
    None: measured now)."""
    offset = time.time() - now if wall_offset is None else wall_offset
    state = bgp_pb2.PeerState(
        session_state=STATES[peer.state],
        reason=REASONS.get(peer.reason, bgp_pb2.STATE_REASON_UNSPECIFIED),
        reason_message=peer.reason_message,
        sent=_counters(peer.counters.sent),
        received=_counters(peer.counters.received),
        prefixes_advertised=len(peer.rib.sent),
        prefixes_pending=peer.pending(),
        prefixes_received=len(peer.received),
        established_transitions=peer.counters.established_transitions,
        bfd_status=bfd_status,
        updates_treated_as_withdraw=peer.counters.updates_treated_as_withdraw,
        attributes_discarded=peer.counters.attributes_discarded,
        last_attribute_error=str(peer.last_attribute_issue or ""),
        prefix_limit_reached=peer.prefix_limit_reached,
        prefixes_ignored=peer.received.ignored,
    )
    state.last_transition_time.FromNanoseconds(round((peer.state_since + offset) * NANOS))
    conn = peer.established()
    if conn is not None and conn.remote_open is not None:
        ctx = conn.ctx
        state.uptime.CopyFrom(_seconds(now - (peer.established_since or now)))
        state.negotiated_hold_time.CopyFrom(_seconds(ctx.hold_time))
        state.keepalive_interval.CopyFrom(_seconds(conn.keepalive_interval))
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
    if link is not None:
        state.unnumbered.CopyFrom(unnumbered_to_proto(peer.config.interface, *link, offset))
    error = _error(peer.last_error, peer.last_error_at + offset)
    if error is not None:
        state.last_error.CopyFrom(error)
    return bgp_pb2.Peer(conf=peer_conf_to_proto(peer.config, bfd), state=state)
