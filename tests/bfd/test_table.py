"""SessionTable: demultiplexing (RFC 5880 §6.8.6), discriminators, one batched timer."""

from __future__ import annotations

import math
import random
from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest

from services.bfd.core.drop import DropReason
from services.bfd.core.echo import EchoPacket, encode_echo
from services.bfd.core.events import PacketDropped, SessionFinished, StateChanged
from services.bfd.core.packet import ControlPacket, State, decode, encode
from services.bfd.core.session import SessionParams
from services.bfd.core.table import DiscriminatorAllocator, SessionKey, SessionTable

A_ADDR = IPv4Address("10.77.0.1")
B_ADDR = IPv4Address("10.77.0.2")


class TablePair:
    """Two tables, n sessions each; session i runs over interface f"if{i}" between them."""

    def __init__(self, n: int, seed: int = 1) -> None:
        self.now = 0.0
        self.a = SessionTable(random.Random(seed))
        self.b = SessionTable(random.Random(seed + 1))
        self.n = n
        self.cut: set[str] = set()  # interfaces whose link is down
        self.events: list[tuple[str, object]] = []
        for i in range(n):
            self.a.add(SessionKey(B_ADDR, f"if{i}"), SessionParams(), self.now)
            self.b.add(SessionKey(A_ADDR, f"if{i}"), SessionParams(), self.now)
        self.timer_calls = 0

    def _flush(self) -> None:
        for _ in range(100):
            moved = False
            for src, dst, src_addr in ((self.a, self.b, A_ADDR), (self.b, self.a, B_ADDR)):
                for out in src.datagrams_to_send(self.now):
                    moved = True
                    if out.key.interface in self.cut:
                        continue
                    for ev in dst.receive_packet(
                        out.data, 255, src_addr, out.key.interface, self.now
                    ):
                        self.events.append((out.key.interface, ev.event))
            if not moved:
                return

    def run_until(self, t: float, tick: float = 0.0) -> None:
        """Advance to `t`; with `tick`, the timer fires only on multiples of it (coalescing)."""
        self._flush()
        while True:
            timers = [x for x in (self.a.next_timer(), self.b.next_timer()) if x is not None]
            if not timers or min(timers) > t:
                self.now = t
                return
            due = min(timers)
            if tick:
                due = math.ceil(due / tick - 1e-9) * tick
            self.now = max(self.now, due)
            self.timer_calls += 1
            for table in (self.a, self.b):
                table.handle_timer(self.now)
            self._flush()


def test_hundreds_of_sessions_come_up_on_one_timer() -> None:
    pair = TablePair(200)
    pair.run_until(3.0, tick=0.01)
    assert all(s.state is State.UP for _, s in pair.a.items())
    assert all(s.state is State.UP for _, s in pair.b.items())
    # The table's timer is the earliest of all its sessions' timers.
    deadlines = [s.next_timer() for _, s in pair.a.items()]
    assert pair.a.next_timer() == min(d for d in deadlines if d is not None)
    pair.cut.add("if7")
    pair.run_until(6.0, tick=0.01)
    down = [k.interface for k, s in pair.a.items() if s.state is not State.UP]
    assert down == ["if7"]
    # A 10 ms timer serves every session due in that tick: far fewer callbacks than packets.
    sent = sum(s.counters.control_out for _, s in pair.a.items())
    assert pair.timer_calls <= 600 and sent > 5 * pair.timer_calls


def test_demultiplexing_by_your_discriminator_and_by_source() -> None:
    table = SessionTable(random.Random(3))
    key_v4 = SessionKey(B_ADDR, "eth0")
    key_v6 = SessionKey(IPv6Address("fd77::2"), "eth0")
    s4 = table.add(key_v4, SessionParams(), 0.0)
    s6 = table.add(key_v6, SessionParams(), 0.0)
    down = encode(ControlPacket(State.DOWN, 77, 0, 3, 1_000_000, 300_000))
    # Your Discriminator zero: selected by (source, interface).
    events = table.receive_packet(down, 255, ip_address("fd77::2"), "eth0", 1.0)
    assert [e.key for e in events] == [key_v6]
    assert (s6.state, s4.state) == (State.INIT, State.DOWN)
    # Nonzero Your Discriminator: selected by it (the device is not looked up for it).
    init = encode(ControlPacket(State.INIT, 78, s4.local_discriminator, 3, 1_000_000, 300_000))
    events = table.receive_packet(init, 255, B_ADDR, "", 1.1)
    assert [(e.key, type(e.event)) for e in events] == [(key_v4, StateChanged)]
    assert s4.state is State.UP


def test_a_known_discriminator_from_another_address_is_dropped() -> None:
    """Issue 15: a packet with a known Your Discriminator was accepted from any source, so any
    host that learnt a discriminator could bring the session down (or up)."""
    table = SessionTable(random.Random(3))
    key = SessionKey(B_ADDR, "eth0")
    session = table.add(key, SessionParams(), 0.0)
    disc = session.local_discriminator
    table.receive_packet(encode(ControlPacket(State.INIT, 78, disc, 3, 1, 1)), 255, B_ADDR, "", 1)
    states = [session.state]
    stranger = IPv4Address("10.77.0.66")
    down = encode(ControlPacket(State.DOWN, 78, disc, 3, 1, 1))
    events = table.receive_packet(down, 255, stranger, "", 1.1)
    assert [(e.key, e.event) for e in events] == [
        (SessionKey(stranger, ""), PacketDropped(DropReason.SOURCE_NOT_SESSION_PEER))
    ]
    assert table.drops == {DropReason.SOURCE_NOT_SESSION_PEER: 1}
    states.append(session.state)
    # From the peer's own address but not with TTL 255 (RFC 5881 §5), or with no TTL known
    # (-1: the ancillary data was missing): dropped by the session.
    for ttl in (254, -1):
        events = table.receive_packet(down, ttl, B_ADDR, "", 1.2)
        assert [e.event for e in events] == [PacketDropped(DropReason.TTL_NOT_255)]
    states.append(session.state)
    table.receive_packet(down, 255, B_ADDR, "", 1.3)
    states.append(session.state)
    assert states == [State.UP, State.UP, State.UP, State.DOWN]


@pytest.mark.parametrize(
    ("packet", "source", "interface", "reason"),
    [
        (
            ControlPacket(State.UP, 5, 12345, 3, 1, 1),
            B_ADDR,
            "eth0",
            DropReason.UNKNOWN_YOUR_DISCRIMINATOR,
        ),
        (
            ControlPacket(State.DOWN, 5, 0, 3, 1, 1),
            IPv4Address("10.77.0.9"),
            "eth0",
            DropReason.NO_SESSION_FOR_PEER,
        ),
        (ControlPacket(State.DOWN, 5, 0, 3, 1, 1), B_ADDR, "eth1", DropReason.NO_SESSION_FOR_PEER),
        (
            ControlPacket(State.UP, 5, 0, 3, 1, 1),
            B_ADDR,
            "eth0",
            DropReason.YOUR_DISCRIMINATOR_ZERO_NOT_DOWN,
        ),
    ],
)
def test_table_level_drops(
    packet: ControlPacket, source: IPv4Address, interface: str, reason: DropReason
) -> None:
    table = SessionTable(random.Random(3))
    table.add(SessionKey(B_ADDR, "eth0"), SessionParams(), 0.0)
    events = table.receive_packet(encode(packet), 255, source, interface, 1.0)
    assert [(e.key, e.event) for e in events] == [
        (SessionKey(source, interface), PacketDropped(reason))
    ]
    assert table.drops == {reason: 1}


def test_garbage_never_raises() -> None:
    table = SessionTable(random.Random(3))
    rng = random.Random(9)
    for _ in range(2000):
        data = rng.randbytes(rng.randint(0, 60))
        events = table.receive_packet(data, rng.randint(0, 255), B_ADDR, "eth0", 1.0)
        assert len(events) == 1 and isinstance(events[0].event, PacketDropped)
        assert isinstance(table.receive_echo(data, 1.0), DropReason)


def test_echo_demultiplexing() -> None:
    table = SessionTable(random.Random(3))
    session = table.add(SessionKey(B_ADDR, "eth0"), SessionParams(echo_mode=True), 0.0)
    foreign = encode_echo(EchoPacket(session.local_discriminator + 1, 1, 0))
    assert table.receive_echo(foreign, 1.0) is DropReason.ECHO_NOT_OURS
    own = encode_echo(EchoPacket(session.local_discriminator, 1, 0))
    [event] = table.receive_echo(own, 1.0)  # type: ignore[misc]
    assert event.event == PacketDropped(DropReason.ECHO_NOT_ACTIVE)  # not Up yet
    assert table.drops == {DropReason.ECHO_NOT_OURS: 1}


def test_remove_sends_admin_down_then_forgets_the_session() -> None:
    pair = TablePair(3)
    pair.run_until(3.0)
    key = SessionKey(B_ADDR, "if1")
    session = pair.a.get(key)
    assert session is not None
    t0 = pair.now
    pair.a.remove(key, t0)
    assert key in pair.a  # still sending AdminDown
    pair.run_until(t0 + 0.001)
    b_session = pair.b.get(SessionKey(A_ADDR, "if1"))
    assert b_session is not None and b_session.state is State.DOWN
    pair.run_until(t0 + 10)
    assert key not in pair.a and len(pair.a) == 2
    finished = [
        ev for iface, ev in pair.events if iface == "if1" and isinstance(ev, SessionFinished)
    ]
    assert finished == []  # SessionFinished is reported by handle_timer, not on the wire
    # Packets b keeps sending with the old discriminator are now unknown to a.
    assert (
        pair.a.drops.get(DropReason.UNKNOWN_YOUR_DISCRIMINATOR, 0)
        + pair.a.drops.get(DropReason.NO_SESSION_FOR_PEER, 0)
        > 0
    )


def test_remove_reports_session_finished() -> None:
    table = SessionTable(random.Random(3))
    key = SessionKey(B_ADDR, "eth0")
    table.add(key, SessionParams(), 0.0)
    table.datagrams_to_send(0.0)
    table.remove(key, 0.5)
    out = table.datagrams_to_send(0.5)
    assert [decode(o.data).state for o in out] == [State.ADMIN_DOWN]
    events = []
    while (t := table.next_timer()) is not None:
        events += table.handle_timer(t)
        table.datagrams_to_send(t)
    assert [type(e.event) for e in events] == [SessionFinished]
    assert len(table) == 0 and table.next_timer() is None


def test_update_and_admin_through_the_table() -> None:
    pair = TablePair(2)
    pair.run_until(3.0)
    key = SessionKey(B_ADDR, "if0")
    pair.a.update(key, SessionParams(desired_min_tx=600_000), pair.now)
    pair.run_until(5.0)
    session = pair.a.get(key)
    assert session is not None and session.transmit_interval == 600_000
    assert [e.event.new for e in pair.a.admin_down(key, pair.now)] == [State.ADMIN_DOWN]  # type: ignore[union-attr]
    pair.run_until(10.0)
    pair.a.admin_up(key, pair.now)
    pair.run_until(15.0)
    assert session.state is State.UP


def test_duplicate_key_is_rejected() -> None:
    table = SessionTable()
    table.add(SessionKey(B_ADDR, "eth0"), SessionParams(), 0.0)
    with pytest.raises(KeyError):
        table.add(SessionKey(B_ADDR, "eth0"), SessionParams(), 0.0)


def test_discriminators_are_nonzero_unique_and_reusable() -> None:
    class Repeating(random.Random):
        """Returns each value twice in a row, to exercise the uniqueness retry."""

        def __init__(self) -> None:
            super().__init__(0)
            self.last: int | None = None

        def randint(self, a: int, b: int) -> int:
            if self.last is None:
                self.last = super().randint(a, b)
                return self.last
            value, self.last = self.last, None
            return value

    allocator = DiscriminatorAllocator(Repeating())
    values = [allocator.allocate() for _ in range(500)]
    assert len(set(values)) == 500 and 0 not in values
    allocator.release(values[0])
    assert values[0] not in allocator._in_use


def test_a_packet_on_the_other_hop_modes_port_is_dropped() -> None:
    """RFC 5881 §4 / RFC 5883 §5: single hop on 3784, multihop on 4784, never crossed."""
    table = SessionTable(random.Random(3))
    single = SessionKey(B_ADDR, "eth0")
    multi = SessionKey(IPv4Address("10.77.9.9"), "")
    table.add(single, SessionParams(), 0.0)
    table.add(multi, SessionParams(), 0.0, multihop=True)
    down = encode(ControlPacket(State.DOWN, 5, 0, 3, 1_000_000, 300_000))
    events = table.receive_packet(down, 255, B_ADDR, "eth0", 1.0, multihop=True)
    assert [e.event for e in events] == [PacketDropped(DropReason.WRONG_PORT)]
    events = table.receive_packet(down, 255, multi.peer, "", 1.0, multihop=False)
    assert [e.event for e in events] == [PacketDropped(DropReason.WRONG_PORT)]
    events = table.receive_packet(down, 255, multi.peer, "", 1.0, multihop=True)
    assert [type(e.event) for e in events] == [StateChanged]


def test_timer_heap_stays_small_and_correct_under_many_touches() -> None:
    """Touches that leave a session's deadline alone push nothing (the dedupe of _touched)."""
    pair = TablePair(20)
    pair.run_until(30.0)
    assert all(s.state is State.UP for _, s in pair.a.items())
    assert len(pair.a._heap) <= 4 * 20 + 64
    # Every session still has a live heap entry at its own deadline.
    deadlines = {d for d, _, _ in pair.a._heap}
    assert all(s.next_timer() in deadlines for _, s in pair.a.items())
