"""Helpers for the FSM tests: peers in a given state, a scripted remote, two peers wired."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, ip_address
from typing import Any

from metallb_rules.bgp_peer import PeerFields, validate_peer
from services.bgp.codec import (
    Framer,
    Keepalive,
    Negotiated,
    Notification,
    Open,
    decode_message,
)
from services.bgp.codec.capabilities import (
    FourOctetAS,
    GracefulRestart,
    Multiprotocol,
    RouteRefreshCapability,
)
from services.bgp.codec.messages import AnyMessage
from services.bgp.codec.negotiated import IPV4_UNICAST, IPV6_UNICAST
from services.bgp.fsm import Close, Connect, Peer, PeerConfig, Send, State
from services.bgp.fsm.peer import Connection

LOCAL = ip_address("10.0.0.1")
REMOTE = ip_address("10.0.0.2")


def config(**kw: Any) -> PeerConfig:
    """A peer's core configuration, validated by MetalLB's rules as the service does it;
    times in seconds (None: not set)."""
    args: dict[str, Any] = dict(
        name="p",
        my_asn=64512,
        peer_asn=65002,
        dynamic_asn="",
        local_asn=0,
        peer_address=str(REMOTE),
        peer_port=179,
        source_address="",
        router_id="",
        password="",
        hold_time=9,
        keepalive_time=None,
        connect_time=None,
        ebgp_multihop=False,
        interface="",
    )
    core = {
        k: kw.pop(k)
        for k in (
            "vrf",
            "graceful_restart",
            "disable_mp",
            "dual_stack",
            "bfd_profile",
            "max_prefixes",
            "max_prefix_cease",
        )
        if k in kw
    }
    args.update(kw)

    def ns(seconds: float | None) -> int | None:
        return None if seconds is None else round(seconds * 1_000_000_000)

    settings = validate_peer(
        PeerFields(
            name=args["name"],
            my_asn=args["my_asn"],
            peer_asn=args["peer_asn"],
            dynamic_asn=args["dynamic_asn"],
            local_asn=args["local_asn"],
            address=args["peer_address"],
            port=args["peer_port"],
            source_address=args["source_address"],
            router_id=args["router_id"],
            password=args["password"],
            hold_time_ns=ns(args["hold_time"]),
            keepalive_time_ns=ns(args["keepalive_time"]),
            connect_time_ns=ns(args["connect_time"]),
            ebgp_multihop=args["ebgp_multihop"],
            interface=args["interface"],
        )
    )
    return PeerConfig.from_settings(settings, **core)


def remote_open(
    asn: int = 65002, hold: int = 9, bgp_id: str = "10.0.0.2", gr: bool = False
) -> Open:
    caps: list[Any] = [Multiprotocol(IPV4_UNICAST), Multiprotocol(IPV6_UNICAST)]
    caps += [RouteRefreshCapability(), FourOctetAS(asn)]
    if gr:
        caps.append(GracefulRestart(120))
    return Open.build(asn, hold, IPv4Address(bgp_id), caps)


def sent_messages(actions: list[Any], ctx: Negotiated | None = None) -> list[AnyMessage]:
    framer = Framer(ctx or Negotiated(four_octet_as=True))
    out: list[AnyMessage] = []
    for action in actions:
        if isinstance(action, Send):
            for message in framer.feed(action.data):
                out.append(message)
                if isinstance(message, Open):
                    framer.negotiated = Negotiated(
                        four_octet_as=True, families=frozenset({IPV4_UNICAST, IPV6_UNICAST})
                    )
    return out


def notifications(actions: list[Any]) -> list[tuple[int, int]]:
    return [(m.code, m.subcode) for m in sent_messages(actions) if isinstance(m, Notification)]


def encode(message: AnyMessage, ctx: Negotiated | None = None) -> bytes:
    return message.encode(ctx or Negotiated(four_octet_as=True))


def peer_in(state: State, now: float = 0.0, **kw: Any) -> tuple[Peer, Connection]:
    """A peer whose (only) connection is in `state`, reached through real events."""
    peer = Peer(config(**kw), now)
    peer.start(now)
    (connect,) = peer.take_actions()
    assert isinstance(connect, Connect)
    conn = peer.connections[0]
    if state == State.CONNECT:
        return peer, conn
    if state == State.ACTIVE:
        peer.connection_failed(connect.conn, now, "refused")
        peer.take_actions()
        return peer, conn
    peer.connection_made(connect.conn, now, LOCAL, REMOTE)
    peer.take_actions()
    if state == State.OPEN_SENT:
        return peer, conn
    peer.data_received(conn.conn, encode(remote_open()), now)
    peer.take_actions()
    if state == State.OPEN_CONFIRM:
        return peer, conn
    peer.data_received(conn.conn, encode(Keepalive()), now)
    peer.take_actions()
    assert state == State.ESTABLISHED
    return peer, conn


def idle_connection() -> tuple[Peer, Connection]:
    peer = Peer(config(), 0.0)
    conn = Connection(peer, 0, outgoing=True)
    peer.connections.append(conn)
    return peer, conn


@dataclass
class Wire:
    """Two peers joined by an in-memory TCP connection (connection ids per side)."""

    a: Peer
    b: Peer
    links: dict[tuple[str, int], tuple[str, int]] = field(default_factory=dict)
    closed: list[tuple[str, int]] = field(default_factory=list)

    def peer(self, side: str) -> Peer:
        return self.a if side == "a" else self.b

    def pump(self, now: float, rounds: int = 50) -> None:
        for _ in range(rounds):
            moved = False
            for side in ("a", "b"):
                for action in self.peer(side).take_actions():
                    if isinstance(action, Send):
                        target = self.links.get((side, action.conn))
                        if target is not None:
                            self.peer(target[0]).data_received(target[1], action.data, now)
                            moved = True
                    elif isinstance(action, Close):
                        self.closed.append((side, action.conn))
                        target = self.links.pop((side, action.conn), None)
                        if target is not None:
                            self.links.pop(target, None)
                            self.peer(target[0]).connection_lost(target[1], now, "closed")
                            moved = True
            if not moved:
                return
        raise AssertionError("the two peers never went quiet")


def wired(cfg_a: PeerConfig, cfg_b: PeerConfig, now: float = 0.0) -> Wire:
    """a dials b; b accepts; both run to quiet."""
    a, b = Peer(cfg_a, now, restarting=True), Peer(cfg_b, now, restarting=True)
    a.start(now)
    b.start(now)
    (ca,) = [x for x in a.take_actions() if isinstance(x, Connect)]
    b.take_actions()  # b's own attempt goes nowhere
    wire = Wire(a, b)
    assert cfg_a.peer_address is not None and cfg_b.peer_address is not None
    cb = b.incoming(now, cfg_a.peer_address, cfg_b.peer_address)
    assert cb is not None
    wire.links[("a", ca.conn)] = ("b", cb)
    wire.links[("b", cb)] = ("a", ca.conn)
    a.connection_made(ca.conn, now, cfg_b.peer_address, cfg_a.peer_address)
    wire.pump(now)
    return wire


def decode(data: bytes, ctx: Negotiated) -> AnyMessage:
    return decode_message(data, ctx)
