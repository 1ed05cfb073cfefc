"""metallb.io custom resources to one validated `Config` (MetalLB's `config.For`, FRR-mode rules).

One pure function, `parse(resources) -> Config`, enforces section 2.2 of the behaviour reference
with MetalLB's error texts, plus the FRR-mode peer rules of §2.3 (our speaker supports everything
FRR mode does, so the native-mode rejections do not apply) and the cross-object check. The first
error aborts the pass: the caller keeps running on its last good configuration. Each error names
the offending object (`bgppeers/peer1`) and, where one is at fault, its field.
"""

import base64
import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from metallb_rules.addresses import parse_entry
from metallb_rules.bfd_profile import BFDProfile, ProfileError
from metallb_rules.bgp_peer import PeerError, PeerFields, check_password, validate_peer
from metallb_rules.communities import Community, CommunityError, parse_community
from metallb_rules.config.model import (
    BGPAdvertisement,
    Config,
    ConfigError,
    L2Advertisement,
    Node,
    Peer,
    TransientConfigError,
)
from metallb_rules.config.resources import (
    ClusterResources,
    RawObject,
    labels_of,
    name_of,
    sorted_by_name,
    spec_of,
)
from metallb_rules.durations import parse_duration
from metallb_rules.gotext import quote
from metallb_rules.labels import LabelSelector, SelectorError
from metallb_rules.pools import (
    InvalidPoolsError,
    ParsedPool,
    PoolSpec,
    ServiceAllocationSpec,
    check_selectors,
    parse_pool_specs,
)

BASIC_AUTH = "kubernetes.io/basic-auth"


def parse(res: ClusterResources) -> Config:
    """Validate every metallb.io object together; raise `ConfigError` on the first violation."""
    pools, pool_labels = _pools(res.pools)
    bfd_profiles = _bfd_profiles(res.bfd_profiles)
    peers = _peers(res, bfd_profiles)
    communities = _communities(res.communities)
    nodes = res.nodes
    bgp_ads = _bgp_advertisements(res.bgp_advertisements, pools, pool_labels, communities, nodes)
    l2_ads = _l2_advertisements(res.l2_advertisements, pools, pool_labels, nodes)
    config = Config(pools, peers, bfd_profiles, communities, bgp_ads, l2_ads)
    _check_bfd_echo(config)
    _check_frr_peers(peers, bool(nodes))
    return config


# ----------------------------------------------------------------------------------- helpers


def _selector(raw: Any, where: str, make_error: Callable[[str], ConfigError]) -> LabelSelector:
    if not isinstance(raw, Mapping):
        raise make_error(f"{where}: a label selector must be an object")
    try:
        return LabelSelector.build(
            raw.get("matchLabels") or {},
            [
                (e.get("key", ""), e.get("operator", ""), e.get("values") or [])
                for e in raw.get("matchExpressions") or []
            ],
        )
    except SelectorError as err:
        raise make_error(str(err)) from None


def _selectors(
    raws: Any, what: str, field: str, make_error: Callable[[str], ConfigError]
) -> tuple[LabelSelector, ...]:
    sels = tuple(_selector(r, f"{field}[{i}]", make_error) for i, r in enumerate(raws or []))
    try:
        check_selectors(sels, what, field)
    except InvalidPoolsError as err:
        raise make_error(err.message) from None
    return sels


def _nodes_matching(selectors: Sequence[LabelSelector], nodes: Iterable[Node]) -> frozenset[str]:
    """An empty selector list means every node (`labels.Everything()`)."""
    return frozenset(
        n.name for n in nodes if not selectors or any(s.matches(n.labels) for s in selectors)
    )


def _duplicates(values: Sequence[Any], what: str, make_error: Callable[[str], ConfigError]) -> None:
    seen: set[Any] = set()
    for v in values:
        if v in seen:
            raise make_error(f"duplicate definition of {what} {quote(v)}")
        seen.add(v)


def _error_for(kind: str, name: str, field: str = "") -> Callable[[str], ConfigError]:
    where = f"{kind}/{name}" + (f": {field}" if field else "")
    return lambda message: ConfigError(message, field=where)


# ----------------------------------------------------------------------------------- pools


def _pool_spec(obj: RawObject) -> PoolSpec:
    name = name_of(obj)
    spec = spec_of(obj)
    sa = None
    raw_sa = spec.get("serviceAllocation")
    if isinstance(raw_sa, Mapping):

        def bad(kind: str) -> Callable[[str], ConfigError]:
            def make(message: str) -> ConfigError:
                return ConfigError(
                    f"parsing address pool {name}: invalid {kind} label selector {message} in ip "
                    f"pool {name}",
                    field=f"ipaddresspools/{name}: spec.serviceAllocation",
                )

            return make

        sa = ServiceAllocationSpec(
            priority=int(raw_sa.get("priority") or 0),
            namespaces=tuple(raw_sa.get("namespaces") or ()),
            namespace_selectors=tuple(
                _selector(s, "namespaceSelectors", bad("namespace"))
                for s in raw_sa.get("namespaceSelectors") or []
            ),
            service_selectors=tuple(
                _selector(s, "serviceSelectors", bad("service"))
                for s in raw_sa.get("serviceSelectors") or []
            ),
        )
    auto = spec.get("autoAssign")
    return PoolSpec(
        name=name,
        addresses=tuple(str(a) for a in spec.get("addresses") or ()),
        auto_assign=True if auto is None else bool(auto),
        avoid_buggy_ips=bool(spec.get("avoidBuggyIPs")),
        service_allocation=sa,
    )


def _pools(objs: list[RawObject]) -> tuple[dict[str, ParsedPool], dict[str, Mapping[str, str]]]:
    ordered = sorted_by_name(objs)
    specs = [_pool_spec(o) for o in ordered]
    try:
        pools = parse_pool_specs(specs)
    except InvalidPoolsError as err:
        # Name the object: parse_pool_specs' field is `pools[i].<field>` in our order.
        index, _, rest = (err.field or "").removeprefix("pools[").partition("]")
        obj = name_of(ordered[int(index)]) if index.isdigit() else ""
        field = "spec." + _camel(rest.lstrip(".")) if rest.lstrip(".") else ""
        raise ConfigError(
            err.message, field=f"ipaddresspools/{obj}" + (f": {field}" if field else "")
        ) from None
    return pools, {name_of(o): labels_of(o) for o in ordered}


def _camel(path: str) -> str:
    parts = path.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


# ----------------------------------------------------------------------------------- BFD


def _bfd_profiles(objs: list[RawObject]) -> dict[str, BFDProfile]:
    profiles: dict[str, BFDProfile] = {}
    for index, obj in enumerate(sorted_by_name(objs)):
        name = name_of(obj)
        where = f"bfdprofiles/{name}"
        try:
            profile = BFDProfile.from_spec(name, spec_of(obj))
        except (ProfileError, TypeError) as err:
            raise ConfigError(f"parsing bfd profile #{index}: {err}", field=where) from None
        if name in profiles:
            raise ConfigError(
                f"parsing bfd profile #{index}: found duplicate bfd profile name {name}",
                field=where,
            )
        profiles[name] = profile
    return profiles


# ----------------------------------------------------------------------------------- peers


def _duration(spec: Mapping[str, Any], key: str) -> int | None:
    """Nanoseconds of a duration field, or None when it is not set."""
    raw = spec.get(key)
    return None if raw is None else parse_duration(str(raw))


def _password(name: str, spec: Mapping[str, Any], res: ClusterResources) -> tuple[str, str]:
    """(password, secret name), with MetalLB's passwordSecret checks."""
    password = str(spec.get("password") or "")
    ref = spec.get("passwordSecret") or {}
    secret_name = str(ref.get("name") or "") if isinstance(ref, Mapping) else ""
    where = f"bgppeers/{name}: spec.passwordSecret"
    if password and secret_name:
        raise ConfigError(
            f"parsing peer {name} can not have both password and secret ref set in peer config "
            f"{quote(res.namespace)}/{quote(secret_name)}",
            field=f"bgppeers/{name}: spec.password",
        )
    if not secret_name:
        return password, ""
    tail = f"\nfailed to parse peer {name} password secret"
    secret = res.secrets.get(secret_name)
    ref_text = f"{quote(res.namespace)}/{quote(secret_name)}"
    if secret is None:
        raise TransientConfigError(
            f"parsing peer {name} secret ref not found for peer config {ref_text}{tail}",
            field=where,
        )
    if secret.get("type") != BASIC_AUTH:
        raise ConfigError(
            f"parsing peer {name} secret type mismatch on {ref_text}, type {quote(BASIC_AUTH)} "
            f"is expected {tail}",
            field=where,
        )
    data = secret.get("data") or {}
    if "password" in data:
        return base64.b64decode(str(data["password"])).decode(), secret_name
    string_data = secret.get("stringData") or {}
    if "password" in string_data:
        return str(string_data["password"]), secret_name
    raise ConfigError(
        f"parsing peer {name} password not specified in the secret {ref_text}{tail}", field=where
    )


def _peer(obj: RawObject, res: ClusterResources, bfd_profiles: Mapping[str, BFDProfile]) -> Peer:
    name = name_of(obj)
    spec = spec_of(obj)

    def fail(message: str, field: str = "", transient: bool = False) -> ConfigError:
        where = f"bgppeers/{name}" + (f": spec.{field}" if field else "")
        cls = TransientConfigError if transient else ConfigError
        return cls(f"parsing peer {name} {message}", field=where)

    try:
        timers = {key: _duration(spec, key) for key in ("holdTime", "keepaliveTime", "connectTime")}
    except ValueError as err:
        raise fail(f"invalid BGPPeer timers: {err}", "holdTime") from None
    fields = PeerFields(
        name=name,
        my_asn=int(spec.get("myASN") or 0),
        peer_asn=int(spec.get("peerASN") or 0),
        dynamic_asn=str(spec.get("dynamicASN") or ""),
        local_asn=int(spec.get("localASN") or 0),
        address=str(spec.get("peerAddress") or ""),
        interface=str(spec.get("interface") or ""),
        port=int(spec.get("peerPort") or 0),
        source_address=str(spec.get("sourceAddress") or ""),
        router_id=str(spec.get("routerID") or ""),
        password=str(spec.get("password") or ""),
        hold_time_ns=timers["holdTime"],
        keepalive_time_ns=timers["keepaliveTime"],
        connect_time_ns=timers["connectTime"],
        ebgp_multihop=bool(spec.get("ebgpMultiHop")),
    )
    try:
        settings = validate_peer(fields)
    except PeerError as err:
        raise fail(err.message, err.field) from None
    node_selectors = _selectors(
        spec.get("nodeSelectors"),
        "nodeSelectors",
        "spec.nodeSelectors",
        lambda m: fail(m, "nodeSelectors"),
    )
    password, secret = _password(name, spec, res)
    try:
        check_password(password)
    except PeerError as err:
        raise fail(err.message, "passwordSecret") from None
    bfd = str(spec.get("bfdProfile") or "")
    if bfd and bfd not in bfd_profiles:
        raise fail(
            f"peer {name} referencing non existing bfd profile {bfd}",
            "bfdProfile",
            transient=True,
        )
    return Peer(
        name=name,
        my_asn=settings.my_asn,
        peer_asn=settings.peer_asn,
        dynamic_asn=settings.dynamic_asn.value,
        local_asn=settings.local_asn,
        address=fields.address,
        interface=fields.interface,
        port=settings.port,
        source_address=fields.source_address,
        router_id=fields.router_id,
        hold_time=settings.hold_time,
        keepalive_time=settings.keepalive_time,
        connect_time=settings.connect_time,
        password=password,
        password_secret=secret,
        bfd_profile=bfd,
        ebgp_multihop=settings.ebgp_multihop,
        vrf=str(spec.get("vrf") or ""),
        enable_graceful_restart=bool(spec.get("enableGracefulRestart")),
        disable_mp=bool(spec.get("disableMP")),
        dual_stack_address_family=bool(spec.get("dualStackAddressFamily")),
        node_selectors=node_selectors,
        nodes=_nodes_matching(node_selectors, res.nodes),
    )


def _peers(res: ClusterResources, bfd_profiles: Mapping[str, BFDProfile]) -> tuple[Peer, ...]:
    peers: list[Peer] = []
    for obj in sorted_by_name(res.peers):
        peer = _peer(obj, res, bfd_profiles)
        for other in peers:
            if _same_but_name(peer, other):
                raise ConfigError(
                    f"peer {peer.address or peer.interface} already exists",
                    field=f"bgppeers/{peer.name}",
                )
        peers.append(peer)
    return tuple(peers)


def _same_but_name(a: Peer, b: Peer) -> bool:
    return a.__dict__ | {"name": ""} == b.__dict__ | {"name": ""}


def _check_frr_peers(peers: Sequence[Peer], nodes_known: bool) -> None:
    """§2.3 `checkFRRPeersCompatible`, for every pair of peers that share a node."""
    for i, peer in enumerate(peers):
        for other in peers[:i]:
            if nodes_known and not peer.nodes & other.nodes:
                continue
            ident = peer.address or peer.interface
            other_ident = other.address or other.interface
            where = f"bgppeers/{peer.name}"
            if peer.router_id != other.router_id:
                raise ConfigError(
                    f"peer {ident} has RouterID different from {other_ident}, in FRR mode peers "
                    "selecting the same node must all have the same RouterID",
                    field=f"{where}: spec.routerID",
                )
            if peer.identifier == other.identifier:
                raise ConfigError(
                    f"peer {ident} already exists, FRR mode doesn't support duplicate BGPPeers "
                    "selecting the same node",
                    field=where,
                )
            if peer.vrf == other.vrf and peer.my_asn != other.my_asn:
                raise ConfigError(
                    f"peer {ident} has myAsn different from {other_ident}, in FRR mode peers "
                    "selecting the same node must have the same myAsn within the same VRF",
                    field=f"{where}: spec.myASN",
                )


# ----------------------------------------------------------------------------------- communities


def _communities(objs: list[RawObject]) -> dict[str, Community]:
    aliases: dict[str, Community] = {}
    for obj in sorted_by_name(objs):
        name = name_of(obj)
        for i, item in enumerate(spec_of(obj).get("communities") or []):
            alias = str(item.get("name") or "")
            where = f"communities/{name}: spec.communities[{i}]"
            try:
                value = parse_community(str(item.get("value") or ""))
            except CommunityError as err:
                raise ConfigError(f"parsing community {quote(alias)}: {err}", field=where) from None
            if alias in aliases:
                raise ConfigError(f"duplicate definition of community {quote(alias)}", field=where)
            aliases[alias] = value
    return aliases


# ----------------------------------------------------------------------------------- advertisements


def _pool_references(
    spec: Mapping[str, Any], fail: Callable[[str], Callable[[str], ConfigError]]
) -> tuple[list[str], tuple[LabelSelector, ...]]:
    """An advertisement's `ipAddressPools` and `ipAddressPoolSelectors`, duplicates refused."""
    pool_names = [str(p) for p in spec.get("ipAddressPools") or []]
    _duplicates(pool_names, "ipAddressPools", fail("ipAddressPools"))
    pool_sels = _selectors(
        spec.get("ipAddressPoolSelectors"),
        "ipAddressPoolSelectors",
        "spec.ipAddressPoolSelectors",
        fail("ipAddressPoolSelectors"),
    )
    return pool_names, pool_sels


def _pools_for(
    names: Sequence[str],
    selectors: Sequence[LabelSelector],
    pools: Mapping[str, ParsedPool],
    pool_labels: Mapping[str, Mapping[str, str]],
) -> frozenset[str]:
    """Pools named or selected; none of either means every pool."""
    if not names and not selectors:
        return frozenset(pools)
    chosen = {n for n in names if n in pools}
    chosen |= {p for p in pools if any(s.matches(pool_labels.get(p, {})) for s in selectors)}
    return frozenset(chosen)


def _bgp_advertisement(
    obj: RawObject,
    pools: Mapping[str, ParsedPool],
    pool_labels: Mapping[str, Mapping[str, str]],
    aliases: Mapping[str, Community],
    nodes: Sequence[Node],
) -> BGPAdvertisement:
    name = name_of(obj)
    spec = spec_of(obj)

    def fail(field: str) -> Callable[[str], ConfigError]:
        return _error_for("bgpadvertisements", name, f"spec.{field}")

    pool_names, pool_sels = _pool_references(spec, fail)
    node_sels = _selectors(
        spec.get("nodeSelectors"), "nodeSelectors", "spec.nodeSelectors", fail("nodeSelectors")
    )
    raw_communities = [str(c) for c in spec.get("communities") or []]
    _duplicates(raw_communities, "community", fail("communities"))
    peers = [str(p) for p in spec.get("peers") or []]
    _duplicates(peers, "peers", fail("peers"))
    svc_sels = _selectors(
        spec.get("serviceSelectors"),
        "serviceSelectors",
        "spec.serviceSelectors",
        fail("serviceSelectors"),
    )
    agg4 = int(spec["aggregationLength"]) if spec.get("aggregationLength") is not None else 32
    agg6 = int(spec["aggregationLengthV6"]) if spec.get("aggregationLengthV6") is not None else 128
    if svc_sels and agg4 != 32:
        raise fail("aggregationLength")(
            "serviceSelectors and aggregationLength are mutually exclusive, both cannot be set in "
            f"{name}"
        )
    if svc_sels and agg6 != 128:
        raise fail("aggregationLengthV6")(
            "serviceSelectors and aggregationLength are mutually exclusive, both cannot be set in "
            f"{name}"
        )
    if agg4 > 32:
        raise fail("aggregationLength")(
            f"invalid aggregation length {_go_quote_int(agg4)} for IPv4"
        )
    if agg6 > 128:
        raise fail("aggregationLengthV6")(
            f"invalid aggregation length {_go_quote_int(agg6)} for IPv6"
        )
    communities = []
    for i, text in enumerate(raw_communities):
        if text in aliases:
            communities.append(aliases[text])
            continue
        try:
            communities.append(parse_community(text))
        except CommunityError as err:
            where = f"bgpadvertisements/{name}: spec.communities[{i}]"
            if len(text.split(":")) in (2, 4):
                raise ConfigError(
                    f"invalid community {quote(text)} in BGP advertisement: {err}", field=where
                ) from None
            # Neither a value nor a known alias: the alias may be defined later.
            raise TransientConfigError(
                f"invalid community {quote(text)} in BGP advertisement: {err}", field=where
            ) from None
    local_pref = int(spec.get("localPref") or 0)
    return BGPAdvertisement(
        name=name,
        aggregation_length=agg4,
        aggregation_length_v6=agg6,
        local_pref=local_pref or None,
        communities=tuple(sorted(set(communities))),
        pools=_pools_for(pool_names, pool_sels, pools, pool_labels),
        peers=tuple(peers),
        node_selectors=node_sels,
        service_selectors=svc_sels,
        nodes=_nodes_matching(node_sels, nodes),
    )


def _go_quote_int(value: int) -> str:
    """Go's `%q` of an integer: the single-quoted character with that code point."""
    if 0x20 <= value < 0x7F and chr(value) not in "'\\":
        return f"'{chr(value)}'"
    if value < 0x10000:
        return f"'\\u{value:04x}'" if value > 0xFF else f"'\\x{value:02x}'"
    return f"'\\U{value:08x}'"


def _bgp_advertisements(
    objs: list[RawObject],
    pools: Mapping[str, ParsedPool],
    pool_labels: Mapping[str, Mapping[str, str]],
    aliases: Mapping[str, Community],
    nodes: Sequence[Node],
) -> tuple[BGPAdvertisement, ...]:
    ordered = sorted_by_name(objs)
    ads = [_bgp_advertisement(o, pools, pool_labels, aliases, nodes) for o in ordered]
    specs = [spec_of(o) for o in ordered]
    for i in range(len(ads)):
        for j in range(i):
            if specs[i] == specs[j]:
                raise ConfigError(
                    f"duplicate definition of bgpadvertisements. advertisement {j} and {i} are "
                    "equal",
                    field=f"bgpadvertisements/{ads[i].name}",
                )
    for ad in ads:
        for pool_name in sorted(ad.pools):
            _check_aggregation(ad, pools[pool_name])
    for pool_name in pools:
        _check_local_prefs(
            [ad for ad in ads if pool_name in ad.pools], pools[pool_name], bool(nodes)
        )
    return tuple(ads)


def _check_aggregation(ad: BGPAdvertisement, pool: ParsedPool) -> None:
    for entry in pool.spec.addresses:
        networks = parse_entry(entry)
        lowest = min(n.prefixlen for n in networks)
        length = ad.aggregation_length if networks[0].version == 4 else ad.aggregation_length_v6
        if length < lowest:
            raise ConfigError(
                f"invalid aggregation length {ad.aggregation_length}: prefix {lowest} in this "
                f"pool is more specific than the aggregation length for addresses {entry}",
                field=f"bgpadvertisements/{ad.name}: spec.aggregationLength",
            )


def _check_local_prefs(
    ads: Sequence[BGPAdvertisement], pool: ParsedPool, nodes_known: bool
) -> None:
    """MetalLB `validateBGPAdvPerPool`: one LOCAL_PREF per kind of update, among ads without
    serviceSelectors on the same pool."""
    families = {n.version for n in pool.networks}
    plain = [ad for ad in ads if not ad.service_selectors]
    for i, ad in enumerate(plain):
        for other in plain[:i]:
            if ad.local_pref == other.local_pref:
                continue
            v4_differs = ad.aggregation_length != other.aggregation_length
            v6_differs = ad.aggregation_length_v6 != other.aggregation_length_v6
            if families == {4}:
                lengths_differ = v4_differs
            elif families == {6}:
                lengths_differ = v6_differs
            else:
                lengths_differ = v4_differs and v6_differs
            disjoint_peers = bool(ad.peers and other.peers and not set(ad.peers) & set(other.peers))
            # With no Node objects known, every ad is taken to reach every node.
            disjoint_nodes = nodes_known and not ad.nodes & other.nodes
            if lengths_differ or disjoint_peers or disjoint_nodes:
                continue
            raise ConfigError(
                f"invalid local preference {ad.local_pref or 0}: local preferernce "
                f"{other.local_pref or 0} was already set for the same type of BGP update. Check "
                "existing BGP advertisements with common pools and aggregation lengths",
                field=f"bgpadvertisements/{ad.name}: spec.localPref",
            )


def _l2_advertisement(
    obj: RawObject,
    pools: Mapping[str, ParsedPool],
    pool_labels: Mapping[str, Mapping[str, str]],
    nodes: Sequence[Node],
) -> L2Advertisement:
    name = name_of(obj)
    spec = spec_of(obj)

    def fail(field: str) -> Callable[[str], ConfigError]:
        return _error_for("l2advertisements", name, f"spec.{field}")

    def selector_error(what: str, field: str) -> Callable[[str], ConfigError]:
        def make(message: str) -> ConfigError:
            if message.startswith("duplicate definition"):
                return fail(field)(message)
            return fail(field)(f"failed to parse {what} selector for {name}")

        return make

    pool_names, pool_sels = _pool_references(spec, fail)
    node_sels = _selectors(
        spec.get("nodeSelectors"),
        "nodeSelectors",
        "spec.nodeSelectors",
        selector_error("node", "nodeSelectors"),
    )
    svc_sels = _selectors(
        spec.get("serviceSelectors"),
        "serviceSelectors",
        "spec.serviceSelectors",
        selector_error("service", "serviceSelectors"),
    )
    ad_nodes = _nodes_matching(node_sels, nodes)
    scores: dict[str, int] = {}
    for pref in spec.get("preferredNodeSelectors") or []:
        weight = int(pref.get("weight") or 0)
        sel = _selector(
            pref.get("preference") or {},
            "preference",
            selector_error("preferred node", "preferredNodeSelectors"),
        )
        for node in nodes:
            if node.name in ad_nodes and sel.matches(node.labels):
                scores[node.name] = scores.get(node.name, 0) + weight
    return L2Advertisement(
        name=name,
        pools=_pools_for(pool_names, pool_sels, pools, pool_labels),
        interfaces=tuple(str(i) for i in spec.get("interfaces") or []),
        node_selectors=node_sels,
        service_selectors=svc_sels,
        nodes=ad_nodes,
        preferred_nodes={n: s for n, s in scores.items() if s},
    )


def _l2_advertisements(
    objs: list[RawObject],
    pools: Mapping[str, ParsedPool],
    pool_labels: Mapping[str, Mapping[str, str]],
    nodes: Sequence[Node],
) -> tuple[L2Advertisement, ...]:
    return tuple(_l2_advertisement(o, pools, pool_labels, nodes) for o in sorted_by_name(objs))


# ----------------------------------------------------------------------------------- cross checks


def _check_bfd_echo(config: Config) -> None:
    """MetalLB `validateConfig`: no IPv6 pool may be advertised to a peer with BFD echo."""
    by_name = {p.name: p for p in config.peers}
    for pool in config.pools.values():
        if not any(isinstance(n, ipaddress.IPv6Network) for n in pool.networks):
            continue
        for ad in config.bgp_ads_for_pool(pool.name):
            targets = [by_name[n] for n in ad.peers if n in by_name] if ad.peers else config.peers
            for peer in targets:
                profile = config.bfd_profiles.get(peer.bfd_profile)
                if profile is not None and profile.echo_mode:
                    raise ConfigError(
                        f"pool {pool.name} has bgpadvertisement {ad.name} which references peer "
                        f"{peer.name} which has bfd echo enabled, which is not possible",
                        field=f"bgpadvertisements/{ad.name}",
                    )
