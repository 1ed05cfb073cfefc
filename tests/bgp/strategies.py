"""Hypothesis strategies for the BGP codec tests, and the contexts they run under."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from services.bgp.codec import IPV4_UNICAST, IPV6_UNICAST, Family, Negotiated, Open, Update
from services.bgp.codec.attributes import (
    REGISTRY as ATTRIBUTES,
)
from services.bgp.codec.attributes import (
    Aggregator,
    AsPath,
    AsPathSegment,
    AtomicAggregate,
    Communities,
    LargeCommunities,
    LargeCommunity,
    LocalPref,
    MpReachNlri,
    MpUnreachNlri,
    MultiExitDisc,
    NextHop,
    Origin,
    OriginType,
    PathAttribute,
    SegmentType,
    UnknownAttribute,
)
from services.bgp.codec.capabilities import (
    REGISTRY as CAPABILITIES,
)
from services.bgp.codec.capabilities import (
    Capability,
    ExtendedNextHop,
    FourOctetAS,
    GracefulRestart,
    GracefulRestartFamily,
    Multiprotocol,
    NextHopEntry,
    RouteRefreshCapability,
    UnknownCapability,
)
from services.bgp.codec.messages import Keepalive, Notification, RouteRefresh
from services.bgp.codec.prefixes import prefix_from_network

#: Modest example counts: the whole tests/bgp suite must stay well under a minute on 2 cores.
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

BOTH = frozenset({IPV4_UNICAST, IPV6_UNICAST})
CTX4 = Negotiated(four_octet_as=True, families=BOTH, extended_nexthop=frozenset({IPV4_UNICAST}))
CTX2 = Negotiated(four_octet_as=False, families=BOTH, extended_nexthop=frozenset({IPV4_UNICAST}))
CONTEXTS = [CTX4, CTX2]

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
asn2 = st.integers(1, 0xFFFF)
asn4 = st.integers(1, 0xFFFFFFFF)

ipv4 = st.builds(IPv4Address, u32)
ipv6 = st.builds(IPv6Address, st.integers(0, 2**128 - 1))
ipv4_prefix = st.builds(
    lambda a, n: prefix_from_network(IPv4Network((a, n), strict=False)), u32, st.integers(0, 32)
)
ipv6_prefix = st.builds(
    lambda a, n: prefix_from_network(IPv6Network((a, n), strict=False)),
    st.integers(0, 2**128 - 1),
    st.integers(0, 128),
)


def family(safi: st.SearchStrategy[int] = u8) -> st.SearchStrategy[Family]:
    return st.builds(Family, u16, safi)


# ---- capabilities --------------------------------------------------------------------------
unknown_capability = st.builds(
    UnknownCapability,
    st.integers(0, 255).filter(lambda c: c not in CAPABILITIES),
    st.binary(max_size=10),
)
capability: st.SearchStrategy[Capability] = st.one_of(
    st.builds(Multiprotocol, family()),
    st.builds(RouteRefreshCapability),
    st.builds(FourOctetAS, u32),
    st.builds(
        ExtendedNextHop,
        st.lists(st.builds(NextHopEntry, family(u16), u16), max_size=3).map(tuple),
    ),
    st.builds(
        GracefulRestart,
        st.integers(0, 0xFFF),
        st.booleans(),
        st.booleans(),
        st.lists(st.builds(GracefulRestartFamily, family(), st.booleans()), max_size=3).map(tuple),
    ),
    unknown_capability,
)

# ---- messages other than UPDATE ----------------------------------------------------------
open_message = st.builds(
    Open,
    asn2,
    st.one_of(st.just(0), st.integers(3, 0xFFFF)),
    st.builds(IPv4Address, st.integers(1, 0xFFFFFFFF)),
    st.lists(st.lists(capability, min_size=1, max_size=4).map(tuple), max_size=3).map(tuple),
).filter(lambda o: o.asn != 0)
notification = st.builds(Notification, u8, u8, st.binary(max_size=100))
route_refresh = st.builds(RouteRefresh, family(), u8)
keepalive = st.just(Keepalive())


# ---- path attributes -----------------------------------------------------------------------
def segment(
    asn: st.SearchStrategy[int], kinds: list[SegmentType]
) -> st.SearchStrategy[AsPathSegment]:
    return st.builds(
        AsPathSegment, st.sampled_from(kinds), st.lists(asn, min_size=1, max_size=8).map(tuple)
    )


ALL_SEGMENTS = list(SegmentType)
PLAIN_SEGMENTS = [SegmentType.AS_SET, SegmentType.AS_SEQUENCE]
CONFED = [SegmentType.AS_CONFED_SEQUENCE, SegmentType.AS_CONFED_SET]


def as_path(asn: st.SearchStrategy[int]) -> st.SearchStrategy[AsPath]:
    return st.builds(AsPath, st.lists(segment(asn, ALL_SEGMENTS), max_size=4).map(tuple))


def as_path_for_2_octet_peer() -> st.SearchStrategy[AsPath]:
    """Paths that survive the AS4_PATH round trip: confederation segments (never carried in
    AS4_PATH, RFC 6793 §6) only in front and with 2-octet AS numbers."""
    return st.builds(
        lambda confed, plain: AsPath(tuple(confed + plain)),
        st.lists(segment(asn2, CONFED), max_size=2),
        st.lists(segment(asn4, PLAIN_SEGMENTS), max_size=4),
    )


def mp_reach() -> st.SearchStrategy[MpReachNlri]:
    v6 = st.builds(
        MpReachNlri,
        st.just(IPV6_UNICAST),
        st.lists(ipv6, min_size=1, max_size=2).map(tuple),
        st.lists(ipv6_prefix, max_size=15).map(tuple),
    )
    v4 = st.builds(
        MpReachNlri,
        st.just(IPV4_UNICAST),
        st.one_of(st.tuples(ipv4), st.lists(ipv6, min_size=1, max_size=2).map(tuple)),
        st.lists(ipv4_prefix, max_size=15).map(tuple),
    )
    return st.one_of(v6, v4)


mp_unreach = st.one_of(
    st.builds(MpUnreachNlri, st.just(IPV6_UNICAST), st.lists(ipv6_prefix, max_size=15).map(tuple)),
    st.builds(MpUnreachNlri, st.just(IPV4_UNICAST), st.lists(ipv4_prefix, max_size=15).map(tuple)),
)
unknown_attribute = st.builds(
    UnknownAttribute,
    st.sampled_from([0x80, 0xC0, 0xE0]),
    st.integers(0, 255).filter(lambda t: t not in ATTRIBUTES),
    st.one_of(st.binary(max_size=20), st.binary(min_size=250, max_size=300)),
)


def attribute(asn: st.SearchStrategy[int]) -> st.SearchStrategy[PathAttribute]:
    """Every attribute kind; `asn` bounds the AS numbers (2-octet for a 2-octet context)."""
    return st.one_of(
        st.builds(Origin, st.sampled_from(list(OriginType))),
        as_path(asn),
        st.builds(NextHop, ipv4),
        st.builds(MultiExitDisc, u32),
        st.builds(LocalPref, u32),
        st.builds(AtomicAggregate),
        st.builds(Aggregator, asn, ipv4),
        st.builds(Communities, st.lists(u32, min_size=1, max_size=10).map(tuple)),
        st.builds(
            LargeCommunities,
            st.lists(st.builds(LargeCommunity, u32, u32, u32), min_size=1, max_size=5).map(tuple),
        ),
        mp_reach(),
        mp_unreach,
        unknown_attribute,
    )


@st.composite
def update(draw: st.DrawFn, two_octet: bool = False) -> Update:
    """A valid UPDATE: mandatory attributes present, each type at most once, fits 4,096."""
    asn = asn4
    path = draw(as_path_for_2_octet_peer() if two_octet else as_path(asn4))
    attrs: dict[int, PathAttribute] = {
        1: draw(st.builds(Origin, st.sampled_from(list(OriginType)))),
        2: path,
        3: draw(st.builds(NextHop, ipv4)),
    }
    for attr in draw(st.lists(attribute(asn), max_size=6)):
        attrs.setdefault(attr.wire_type(), attr)
    agg = attrs.get(7)
    if two_octet and isinstance(agg, Aggregator) and path.needs_as4() and agg.asn <= 0xFFFF:
        # RFC 6793 §4.2.3: AGGREGATOR with a 2-octet AS (not AS_TRANS) means an OLD speaker
        # aggregated, and AS4_PATH is then ignored: such an UPDATE cannot round-trip.
        attrs[7] = Aggregator(0x10000 + agg.asn, agg.address)
    return Update(
        withdrawn=tuple(draw(st.lists(ipv4_prefix, max_size=10))),
        attributes=tuple(attrs[k] for k in sorted(attrs)),
        nlri=tuple(draw(st.lists(ipv4_prefix, max_size=10))),
    )
