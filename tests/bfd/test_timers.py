"""Transmit timing: jitter (RFC 5880 §6.8.7), the slow rate while not Up (§6.8.3), detection."""

from __future__ import annotations

import itertools
import random

import pytest

from services.bfd.core.packet import ControlPacket, State, encode
from services.bfd.core.session import SLOW_TX_US, Session, SessionParams
from tests.bfd.harness import A_DISC, B_DISC, Pair


def periodic_gaps(pair: Pair, name: str, since: float) -> list[float]:
    sent = [s for s in pair.sent_by(name, since) if not s.packet.final]
    return [b.at - a.at for a, b in itertools.pairwise(sent)]


@pytest.mark.parametrize(("mult", "low", "high"), [(3, 0.75, 1.0), (1, 0.75, 0.9)])
def test_jitter_bounds_while_up(mult: int, low: float, high: float) -> None:
    params = SessionParams(detect_mult=mult)
    pair = Pair(a_params=params, b_params=params, seed=11)
    pair.run_for(3)
    assert pair.both_up()
    start = pair.now
    pair.run_for(300)  # ~1,000+ intervals per side
    assert pair.both_up()
    for name in ("a", "b"):
        gaps = periodic_gaps(pair, name, start)
        assert len(gaps) > 900
        ratios = [g / 0.3 for g in gaps]
        assert min(ratios) >= low - 1e-9 and max(ratios) <= high + 1e-9
        # The jitter is really random over the whole range, not a constant.
        assert min(ratios) < low + 0.01 and max(ratios) > high - 0.01


def test_jitter_uses_the_injected_random_source() -> None:
    def run(seed: int) -> list[float]:
        pair = Pair(seed=seed)
        pair.run_for(20)
        return [s.at for s in pair.wire]

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_at_most_one_packet_per_second_while_down() -> None:
    session = Session(A_DISC, SessionParams(desired_min_tx=10_000), 0.0, rng=random.Random(2))
    times: list[float] = []
    now = 0.0
    while now < 600:
        now = session.next_timer() or now + 1
        sent = session.packets_to_send(now)
        times += [now] * len(sent)
        session.handle_timer(now)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 1.0
    assert len(times) <= 600
    # §6.8.3: the advertised DesiredMinTxInterval is at least one second while not Up.
    assert session.desired_min_tx == SLOW_TX_US >= 1_000_000


def test_at_most_one_packet_per_second_while_init() -> None:
    session = Session(A_DISC, SessionParams(desired_min_tx=10_000), 0.0, rng=random.Random(4))
    peer_down = encode(ControlPacket(State.DOWN, B_DISC, 0, 3, 1_000_000, 10_000))
    times: list[float] = []
    now = 0.0
    next_peer = 0.0
    while now < 300:
        timer = session.next_timer()
        assert timer is not None
        now = min(timer, next_peer)
        if now == next_peer:  # the peer keeps saying Down, fast
            session.receive_packet(peer_down, 255, now)
            next_peer += 0.05
        session.handle_timer(now)
        times += [now] * len(session.packets_to_send(now))
        assert session.state is State.INIT
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 1.0 and len(times) <= 300


def test_up_uses_the_negotiated_interval() -> None:
    # §6.8.2/§6.8.7: interval = max(our DesiredMinTx, peer's RequiredMinRx).
    pair = Pair(
        a_params=SessionParams(desired_min_tx=100_000),
        b_params=SessionParams(required_min_rx=250_000),
    )
    pair.run_for(3)
    assert pair.both_up()
    assert pair.a.transmit_interval == 250_000
    start = pair.now
    pair.run_for(30)
    gaps = periodic_gaps(pair, "a", start)
    assert min(gaps) >= 0.75 * 0.25 - 1e-9 and max(gaps) <= 0.25 + 1e-9
    # §6.8.4: b detects a after a's Detect Mult × max(b's RequiredMinRx, a's DesiredMinTx).
    assert pair.b.detection_time == pytest.approx(3 * 0.25)
    # and a detects b after 3 × max(300 ms, 300 ms).
    assert pair.a.detection_time == pytest.approx(0.9)


def test_detection_time_uses_the_remote_multiplier() -> None:
    pair = Pair(a_params=SessionParams(detect_mult=2), b_params=SessionParams(detect_mult=7))
    pair.run_for(3)
    assert pair.a.detection_time == pytest.approx(7 * 0.3)
    assert pair.b.detection_time == pytest.approx(2 * 0.3)
