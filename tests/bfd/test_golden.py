"""Golden packets captured from real BIRD 2.0.12 and FRR bfdd 8.4.4 (see golden/README.md).

Only the stored captures are used: no daemon runs at test time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.bfd.core.drop import DropReason
from services.bfd.core.events import Event, PacketDropped, StateChanged
from services.bfd.core.packet import ControlPacket, Diagnostic, State, decode, encode
from services.bfd.core.session import Session, SessionParams
from services.bfd.core.validate import parse_control

GOLDEN = Path(__file__).parent / "golden"

BIRD4, BIRD6, FRR4, FRR6 = "10.77.0.2", "fd77::2", "10.77.0.3", "fd77::3"


@dataclass(frozen=True)
class Captured:
    at: float
    src: str
    dst: str
    ttl: int
    port: int
    data: bytes

    @property
    def packet(self) -> ControlPacket:
        return decode(self.data)


def load(name: str) -> list[Captured]:
    rows = []
    for line in (GOLDEN / name).read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        at, src, dst, ttl, port, payload = line.split()
        rows.append(Captured(float(at), src, dst, int(ttl), int(port), bytes.fromhex(payload)))
    return rows


ALL_FILES = sorted(p.name for p in GOLDEN.glob("*.txt"))


def test_there_are_captures() -> None:
    assert ALL_FILES == [
        "bird-frr-multihop-minttl250.txt",
        "bird-frr-multihop-passive.txt",
        "bird-frr-singlehop.txt",
        "ours-bird-singlehop.txt",
        "ours-frr-singlehop.txt",
    ]


@pytest.mark.parametrize("name", ALL_FILES)
def test_every_captured_packet_is_valid_and_reencodes_identically(name: str) -> None:
    rows = load(name)
    assert rows
    for row in rows:
        parsed = parse_control(row.data)
        assert isinstance(parsed, ControlPacket), (row, parsed)
        assert encode(parsed) == row.data
        assert not (parsed.poll and parsed.final)  # RFC 5880 §6.8.7, from every implementation
        assert parsed.auth is None and not parsed.demand and not parsed.multipoint
        assert row.port == (4784 if "multihop" in name else 3784)


def test_frr_first_packet_fields() -> None:
    first = next(r for r in load("bird-frr-singlehop.txt") if r.src == FRR4)
    assert first.data.hex() == "204003187533ffef00000000000f4240000f42400000c350"
    p = first.packet
    assert (p.state, p.diag, p.detect_mult, p.your_discriminator) == (State.DOWN, 0, 3, 0)
    # FRR slows both intervals to 1 s while Down and advertises a 50 ms echo receive interval.
    assert (p.desired_min_tx, p.required_min_rx, p.required_min_echo_rx) == (
        1_000_000,
        1_000_000,
        50_000,
    )
    assert first.ttl == 255  # RFC 5881 §5


def test_bird_first_packet_fields() -> None:
    first = next(r for r in load("bird-frr-singlehop.txt") if r.src == BIRD4)
    p = first.packet
    # BIRD's "idle tx interval 1000 ms" while Down; receive interval stays 300 ms; no echo.
    assert (p.state, p.desired_min_tx, p.required_min_rx, p.required_min_echo_rx) == (
        State.DOWN,
        1_000_000,
        300_000,
        0,
    )
    assert first.ttl == 255


def test_every_poll_is_answered_by_a_final() -> None:
    rows = load("bird-frr-singlehop.txt")
    polls = [r for r in rows if r.packet.poll]
    assert len(polls) >= 6
    for poll in polls:
        if poll.packet.state is State.DOWN:
            continue  # BIRD also polls while Down; FRR in AdminDown does not answer them all
        answer = next(r for r in rows if r.at >= poll.at and r.src == poll.dst and r.packet.final)
        assert answer.at - poll.at < 0.01
        assert answer.packet.your_discriminator == poll.packet.my_discriminator


def test_frr_interval_change_is_a_poll_with_the_new_values() -> None:
    rows = load("bird-frr-singlehop.txt")
    change = next(r for r in rows if r.src == FRR4 and r.packet.desired_min_tx == 500_000)
    assert change.packet.poll and change.packet.required_min_rx == 200_000


def test_frr_admin_down_and_bird_reaction() -> None:
    rows = load("bird-frr-singlehop.txt")
    admin = next(r for r in rows if r.packet.state is State.ADMIN_DOWN)
    assert admin.src == FRR4
    # FRR 8.4.4 sends AdminDown with diag 0 (RFC 5880 §6.8.16 suggests 7); we send 7.
    assert admin.packet.diag == 0
    reply = next(r for r in rows if r.at > admin.at and r.src == BIRD4)
    assert (reply.packet.state, reply.packet.diag) == (State.DOWN, 3)


forgotten: list[float] = []  # when the last replay zeroed bfd.RemoteDiscr on a timer


def replay(
    rows: list[Captured],
    src: str,
    local_discriminator: int,
    *,
    start: float = 0.0,
    multihop: bool = False,
    params: SessionParams | None = None,
) -> tuple[Session, list[tuple[float, Event]], list[tuple[float, bytes]]]:
    """Feed one side's captured packets to our core, firing its timers in between."""
    base = 5000.0
    session = Session(
        local_discriminator,
        params or SessionParams(),
        base + start,
        multihop=multihop,
        rng=random.Random(1),
    )
    events: list[tuple[float, Event]] = []
    sent: list[tuple[float, bytes]] = []
    forgotten.clear()

    def advance(until: float) -> None:
        while (t := session.next_timer()) is not None and t <= until:
            known = session.remote_discriminator
            events.extend((t - base, e) for e in session.handle_timer(t))
            sent.extend((t - base, d) for d in session.packets_to_send(t))
            if known and not session.remote_discriminator:
                forgotten.append(t - base)

    for row in rows:
        if row.src != src or row.at < start:
            continue
        now = base + row.at
        advance(now)
        events.extend((row.at, e) for e in session.receive_packet(row.data, row.ttl, now))
        sent.extend((row.at, d) for d in session.packets_to_send(now))
    advance(base + rows[-1].at + 10)
    return session, events, sent


def transitions(events: list[tuple[float, Event]]) -> list[tuple[State, State, Diagnostic]]:
    return [(e.old, e.new, e.diag) for _, e in events if isinstance(e, StateChanged)]


def test_our_core_fed_frr_packets_takes_birds_transitions() -> None:
    rows = load("bird-frr-singlehop.txt")
    bird_start = next(r.at for r in rows if r.src == BIRD4)
    session, events, sent = replay(rows, FRR4, 0x820F9A99, start=bird_start)
    assert transitions(events)[:4] == [
        (
            State.DOWN,
            State.UP,
            Diagnostic.NO_DIAGNOSTIC,
        ),  # FRR's Init arrives: Down → Up, as BIRD did
        (State.UP, State.DOWN, Diagnostic.NEIGHBOR_SIGNALED_SESSION_DOWN),  # FRR's AdminDown
        (State.DOWN, State.INIT, Diagnostic.NEIGHBOR_SIGNALED_SESSION_DOWN),  # FRR back, says Down
        (State.INIT, State.UP, Diagnostic.NO_DIAGNOSTIC),  # FRR's Up
    ]
    changes = [(t, e) for t, e in events if isinstance(e, StateChanged)]
    up_at = changes[0][0]
    bird_up = next(r.at for r in rows if r.src == BIRD4 and r.packet.state is State.UP)
    assert up_at == pytest.approx(bird_up, abs=0.001)
    # Our core answered FRR's Polls with Finals (at bring-up and at the 500/200 ms change).
    finals = [t for t, d in sent if decode(d).final]
    frr_polls = [r.at for r in rows if r.src == FRR4 and r.packet.poll and r.at >= bird_start]
    assert all(any(abs(f - p) < 1e-9 for f in finals) for p in frr_polls)
    # After FRR's AdminDown and 1.5 s of silence (3 × FRR's 500 ms), we forget FRR's
    # discriminator, exactly when BIRD did (BIRD's Your Discriminator turns 0 at 14.32 s).
    bird_zeroed = next(
        r.at
        for r in rows
        if r.src == BIRD4 and r.at > changes[1][0] and r.packet.your_discriminator == 0
    )
    last_frr = max(r.at for r in rows if r.src == FRR4 and r.at < bird_zeroed)
    assert forgotten[0] == pytest.approx(last_frr + 1.5)
    assert forgotten[0] == pytest.approx(bird_zeroed, abs=0.002)
    # FRR reports our loss (it goes Down with diag 1 when BIRD dies): we see diag 3.
    assert transitions(events)[4] == (
        State.UP,
        State.DOWN,
        Diagnostic.NEIGHBOR_SIGNALED_SESSION_DOWN,
    )
    assert session.counters.drops == {}


def test_our_core_fed_frr_v6_packets_comes_up() -> None:
    rows = load("bird-frr-singlehop.txt")
    _, events, _ = replay(rows, FRR6, 0xE2297417)
    assert transitions(events)[:2] == [
        (State.DOWN, State.INIT, Diagnostic.NO_DIAGNOSTIC),
        (State.INIT, State.UP, Diagnostic.NO_DIAGNOSTIC),
    ]


def test_our_core_fed_bird_packets_comes_up_then_detects_bird_dying() -> None:
    rows = load("bird-frr-singlehop.txt")
    session, events, _ = replay(rows, BIRD4, 0x7533FFEF)
    got = transitions(events)
    assert got[:2] == [
        (State.DOWN, State.INIT, Diagnostic.NO_DIAGNOSTIC),  # BIRD's Down
        (State.INIT, State.UP, Diagnostic.NO_DIAGNOSTIC),  # BIRD's Up (with P)
    ]
    # BIRD was killed at the end of the capture: silence → Down, diag 1, after 3 × 300 ms.
    last_bird = max(r.at for r in rows if r.src == BIRD4)
    t_down, down = [(t, e) for t, e in events if isinstance(e, StateChanged)][-1]
    assert isinstance(down, StateChanged)
    assert (down.new, down.diag) == (State.DOWN, Diagnostic.CONTROL_DETECTION_TIME_EXPIRED)
    assert t_down == pytest.approx(last_bird + 0.9)
    assert session.remote_discriminator == 0


@pytest.mark.parametrize(
    ("name", "ours4", "peer4"),
    [("ours-frr-singlehop.txt", BIRD4, FRR4), ("ours-bird-singlehop.txt", FRR4, BIRD4)],
)
def test_live_sessions_against_real_daemons(name: str, ours4: str, peer4: str) -> None:
    rows = load(name)
    ours = [r for r in rows if r.src == ours4]
    theirs = [r for r in rows if r.src == peer4]
    assert all(r.ttl == 255 for r in ours)  # RFC 5881 §5: we send with TTL 255
    my_disc = ours[0].packet.my_discriminator
    # The daemon came Up with us: it sent Up addressed to our discriminator.
    assert any(
        r.packet.state is State.UP and r.packet.your_discriminator == my_disc for r in theirs
    )
    # Our Polls (bring-up, the 1000 ms change, the way back to 300 ms) were answered by Finals.
    our_polls = [r for r in ours if r.packet.poll and r.packet.state is State.UP]
    assert {r.packet.desired_min_tx for r in our_polls} == {300_000, 1_000_000}
    for poll in our_polls:
        assert any(t.packet.final and 0 <= t.at - poll.at < 0.01 for t in theirs)
    # While not Up we advertised the slow rate; while Up, 300 ms.
    for r in ours:
        expected = 300_000 if r.packet.state is State.UP else 1_333_334
        if not (r.packet.state is State.UP and r.packet.desired_min_tx == 1_000_000):
            assert r.packet.desired_min_tx == expected
    # Our AdminDown (diag 7) made the daemon go Down with diag 3 at once.
    admin = next(r for r in ours if r.packet.state is State.ADMIN_DOWN)
    assert admin.packet.diag == Diagnostic.ADMINISTRATIVELY_DOWN
    reply = next(r for r in theirs if r.at > admin.at)
    assert (reply.packet.state, reply.packet.diag) == (State.DOWN, 3)
    assert reply.at - admin.at < 0.01
    # When our process stopped, the daemon timed us out: Down with diag 1.
    assert theirs[-1].packet.state is State.DOWN and theirs[-1].packet.diag == 1


def test_multihop_bird_sends_ttl_64_which_a_minimum_ttl_254_drops() -> None:
    rows = load("bird-frr-multihop-minttl250.txt")
    assert {r.ttl for r in rows} == {64} and {r.src for r in rows} == {BIRD4}
    # FRR with minimum-ttl 250 dropped them and, passive, never answered; so do we with
    # MetalLB's default minimumTtl 254.
    session, events, sent = replay(
        rows, BIRD4, 0x2B079F4A, multihop=True, params=SessionParams(passive=True)
    )
    assert {type(e) for _, e in events} == {PacketDropped}
    assert session.counters.drops == {DropReason.TTL_BELOW_MINIMUM: len(rows)}
    assert sent == []


def test_multihop_with_a_low_minimum_ttl_comes_up_against_bird() -> None:
    rows = load("bird-frr-multihop-passive.txt")
    assert rows[0].src == BIRD4  # passive FRR waited for BIRD (RFC 5880 §6.1)
    frr = [r for r in rows if r.src == FRR4]
    assert all(r.ttl == 255 for r in frr)  # FRR sends multihop with TTL 255 too
    _, events, sent = replay(
        rows, BIRD4, 0x2B079F4A, multihop=True, params=SessionParams(passive=True, minimum_ttl=1)
    )
    assert transitions(events)[:2] == [
        (State.DOWN, State.INIT, Diagnostic.NO_DIAGNOSTIC),
        (State.INIT, State.UP, Diagnostic.NO_DIAGNOSTIC),
    ]
    # Passive: our first packet is the reply to BIRD's first packet, Init addressed to it.
    first = decode(sent[0][1])
    assert sent[0][0] == rows[0].at and first.state is State.INIT
    assert first.required_min_echo_rx == 0  # no echo on multihop
