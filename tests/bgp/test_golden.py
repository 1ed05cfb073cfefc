"""Golden bytes from real peers (BIRD 2.0.12, FRR 8.4.4, GoBGP 3.10.0): see golden/README.md.

Every captured message decodes, its key fields are what the daemon was configured to send, and
it re-encodes to the very same bytes (with `Update.extended_length` recording where a daemon
used Extended Length on a short attribute).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest

from services.bgp.codec import (
    AFI,
    IPV4_UNICAST,
    IPV6_UNICAST,
    CeaseSubcode,
    ErrorCode,
    Framer,
    Keepalive,
    Negotiated,
    Notification,
    Open,
    Update,
    decode_message,
    end_of_rib_family,
    negotiate,
)
from services.bgp.codec.attributes import (
    AsPath,
    Communities,
    LargeCommunities,
    LargeCommunity,
    LocalPref,
    MpReachNlri,
    NextHop,
    community,
    find,
)
from services.bgp.codec.capabilities import (
    ExtendedNextHop,
    FourOctetAS,
    GracefulRestart,
    Multiprotocol,
    NextHopEntry,
    RouteRefreshCapability,
)
from services.bgp.codec.messages import AnyMessage
from services.bgp.codec.prefixes import prefix_family, prefix_text

GOLDEN = Path(__file__).parent / "golden"
FILES = sorted(p.stem for p in GOLDEN.glob("*.hex"))

ASN = {"gobgp": 65001, "bird": 65002, "frr": 65003}
HOLD = {"gobgp": 90, "bird": 90, "frr": 180}
ROUTER_ID = {"gobgp": "10.77.0.1", "bird": "10.77.0.2", "frr": "10.77.0.3"}
COMMUNITY = {
    "gobgp": community(65000, 100),
    "bird": community(65000, 200),
    "frr": community(65000, 300),
}
LARGE = {
    "gobgp": LargeCommunity(65000, 1, 2),
    "bird": LargeCommunity(65000, 2, 3),
    "frr": LargeCommunity(65000, 3, 4),
}
V4 = {
    "gobgp": {"10.78.1.0/24"},
    "bird": {"10.78.2.0/24", "10.78.20.0/23"},
    "frr": {"10.78.3.0/24", "10.78.30.0/25"},
}
V6 = {"gobgp": {"fd78:1::/48"}, "bird": {"fd78:2::/48", "fd78:20::/64"}, "frr": {"fd78:3::/48"}}


def load(name: str) -> list[bytes]:
    lines = (GOLDEN / f"{name}.hex").read_text().splitlines()
    return [bytes.fromhex(line.split()[1]) for line in lines if line and not line.startswith("#")]


def header(name: str) -> str:
    return "\n".join(
        line for line in (GOLDEN / f"{name}.hex").read_text().splitlines() if line.startswith("#")
    )


def listener_open(session: str, peer: Open) -> Open:
    """The OPEN capture_listener.py answered with."""
    asn = peer.asn if session == "ibgp4" else 64512
    caps = [
        Multiprotocol(IPV4_UNICAST),
        Multiprotocol(IPV6_UNICAST),
        RouteRefreshCapability(),
        FourOctetAS(asn),
    ]
    if session == "ebgp6":
        caps.append(ExtendedNextHop((NextHopEntry(IPV4_UNICAST, AFI.IPV6),)))
    return Open.build(asn, 90, IPv4Address("10.77.0.10"), caps)


def decode_file(name: str) -> tuple[Negotiated, list[AnyMessage]]:
    raw = load(name)
    first = decode_message(raw[0], Negotiated())
    assert isinstance(first, Open)
    ctx = negotiate(listener_open(name.split("_")[1], first), first)
    return ctx, [first] + [decode_message(m, ctx) for m in raw[1:]]


def test_all_captures_present() -> None:
    assert [
        f"{d}_{s}" for d in ("bird", "frr", "gobgp") for s in ("ebgp4", "ebgp6", "ibgp4")
    ] == FILES


@pytest.mark.parametrize("name", FILES)
def test_header_names_daemon_and_version(name: str) -> None:
    expected = {"bird": "BIRD version 2.0.12", "frr": "bgpd version 8.4.4", "gobgp": "3.10.0"}
    assert expected[name.split("_", maxsplit=1)[0]] in header(name)
    assert "capture.sh" in header(name)


@pytest.mark.parametrize("name", FILES)
def test_reencodes_byte_for_byte(name: str) -> None:
    ctx, messages = decode_file(name)
    for raw, message in zip(load(name), messages, strict=True):
        assert message.encode(ctx if not isinstance(message, Open) else Negotiated()) == raw


@pytest.mark.parametrize("name", FILES)
def test_framer_one_byte_at_a_time(name: str) -> None:
    ctx, messages = decode_file(name)
    stream = b"".join(load(name))
    framer = Framer()
    got: list[AnyMessage] = []
    for i in range(len(stream)):
        for message in framer.feed(stream[i : i + 1]):
            got.append(message)
            if isinstance(message, Open):
                framer.negotiated = ctx
    assert got == messages


@pytest.mark.parametrize("name", FILES)
def test_open(name: str) -> None:
    daemon = name.split("_", maxsplit=1)[0]
    ctx, messages = decode_file(name)
    first = messages[0]
    assert isinstance(first, Open)
    assert first.version == 4
    assert first.asn == first.my_as == ASN[daemon]
    assert first.hold_time == HOLD[daemon]
    assert first.bgp_id == IPv4Address(ROUTER_ID[daemon])
    kinds = {type(c) for c in first.capabilities}
    assert {FourOctetAS, RouteRefreshCapability, Multiprotocol} <= kinds
    assert ctx.four_octet_as
    assert ctx.route_refresh
    if daemon == "bird":
        assert GracefulRestart in kinds
    assert isinstance(messages[1], Keepalive)
    if name.endswith("ebgp6"):
        # all three offered IPv4 routes over IPv6 next hops (RFC 8950) on the IPv6 session
        assert ctx.families == {IPV4_UNICAST, IPV6_UNICAST}
        assert ctx.extended_nexthop == {IPV4_UNICAST}
    else:
        assert ctx.families == {IPV4_UNICAST}


def _updates(messages: list[AnyMessage]) -> list[Update]:
    return [m for m in messages if isinstance(m, Update)]


@pytest.mark.parametrize("name", FILES)
def test_routes_and_attributes(name: str) -> None:
    daemon, session = name.split("_")
    _, messages = decode_file(name)
    v4: set[str] = set()
    v6: set[str] = set()
    for update in _updates(messages):
        if end_of_rib_family(update) is not None:
            continue
        reach = find(update.attributes, MpReachNlri)
        prefixes = [*update.nlri, *(reach.nlri if reach else ())]
        v4 |= {prefix_text(p) for p in prefixes if prefix_family(p) == AFI.IPV4}
        v6 |= {prefix_text(p) for p in prefixes if prefix_family(p) == AFI.IPV6}
        comms = find(update.attributes, Communities)
        large = find(update.attributes, LargeCommunities)
        assert comms is not None
        assert large is not None
        if daemon == "gobgp" and reach and reach.family == IPV6_UNICAST:
            assert comms.values == (community(65000, 101),)
            assert large.values == (LargeCommunity(65000, 1, 3),)
        else:
            assert comms.values == (COMMUNITY[daemon],)
            assert large.values == (LARGE[daemon],)
        path = find(update.attributes, AsPath)
        local_pref = find(update.attributes, LocalPref)
        if session == "ibgp4":
            assert path == AsPath(())
            assert local_pref == LocalPref(100)
        else:
            assert path == AsPath.sequence(ASN[daemon])
            assert local_pref is None
        if update.nlri:
            nh = find(update.attributes, NextHop)
            assert nh == NextHop(IPv4Address(ROUTER_ID[daemon]))
    assert v4 == V4[daemon]
    assert v6 == (V6[daemon] if session == "ebgp6" else set())


@pytest.mark.parametrize("daemon", ["bird", "frr", "gobgp"])
def test_ipv6_session_next_hops(daemon: str) -> None:
    _, messages = decode_file(f"{daemon}_ebgp6")
    families = set()
    for update in _updates(messages):
        reach = find(update.attributes, MpReachNlri)
        if reach is None:
            continue
        families.add(reach.family)
        assert reach.next_hops[0] == IPv6Address(f"fd77::{ROUTER_ID[daemon][-1]}")
        if daemon == "gobgp":
            assert len(reach.next_hops) == 1  # 16-octet next hop
        else:
            assert len(reach.next_hops) == 2  # global + link-local (RFC 2545 §3)
            ll = reach.next_hops[1]
            assert isinstance(ll, IPv6Address)
            assert ll.is_link_local
    assert families == {IPV4_UNICAST, IPV6_UNICAST}  # IPv4 over IPv6 next hop: RFC 8950


@pytest.mark.parametrize("name", [f for f in FILES if not f.endswith("ebgp4")])
def test_notification(name: str) -> None:
    daemon, session = name.split("_")
    _, messages = decode_file(name)
    last = messages[-1]
    assert isinstance(last, Notification)
    if session == "ibgp4":
        assert (last.code, last.subcode) == (ErrorCode.CEASE, CeaseSubcode.ADMINISTRATIVE_SHUTDOWN)
        expected = None if daemon == "gobgp" else "golden capture"
        assert last.shutdown_message() == expected
    elif daemon == "gobgp":
        assert (last.code, last.subcode, last.data) == (3, 1, b"")  # Malformed Attribute List
    else:
        assert (last.code, last.subcode, last.data) == (1, 3, b"\x09")  # Bad Message Type


def test_bird_end_of_rib() -> None:
    for name, expected in [
        ("bird_ebgp4", [IPV4_UNICAST]),
        ("bird_ibgp4", [IPV4_UNICAST]),
        ("bird_ebgp6", [IPV4_UNICAST, IPV6_UNICAST]),
    ]:
        _, messages = decode_file(name)
        markers = [end_of_rib_family(u) for u in _updates(messages)]
        assert [m for m in markers if m is not None] == expected
