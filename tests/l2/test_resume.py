"""The L2 service's rules after a freeze (services/l2/core/resume.py), on given times."""

from services.l2.core.drop import DropReason
from services.l2.core.resume import ResumeGuard, ResumeTiming

TIMING = ResumeTiming(tick=0.02, gap=0.15, stale=0.15, hold_max=2.0)


def watching(until: float, start: float = 0.0) -> ResumeGuard:
    """A guard whose watch beat every tick from `start` to `until`."""
    guard = ResumeGuard(TIMING)
    t = start
    while t <= until + 1e-9:
        assert guard.beat(t) is None
        t += TIMING.tick
    return guard


def test_a_healthy_service_answers_fresh_requests_and_drops_stale_ones() -> None:
    guard = watching(1.0)
    assert guard.refuse(0.001, 1.0) is None
    assert guard.refuse(0.149, 1.0) is None
    # Queued far longer than any healthy read takes (a backlog): the client has moved on.
    assert guard.refuse(0.151, 1.0) is DropReason.STALE


def test_after_a_freeze_nothing_is_answered_until_the_set_is_confirmed() -> None:
    guard = watching(1.0)
    # Frozen from 1.0 to 3.0. A link thread runs before the watch beats again: held already.
    assert guard.refuse(0.0, 3.0) is DropReason.RESUMING
    assert guard.refuse(2.0, 3.0) is DropReason.STALE  # queued while frozen
    assert guard.beat(3.001) is not None
    assert guard.holding(3.5)
    guard.beat(3.5)
    assert guard.refuse(0.0, 3.5) is DropReason.RESUMING
    guard.confirmed(3.6)  # the node role's SetAnnouncements
    assert guard.refuse(0.0, 3.6) is None
    assert not guard.holding(3.6)


def test_the_hold_is_bounded_for_a_service_left_alone() -> None:
    guard = watching(1.0)
    guard.beat(3.0)  # frozen from 1.0; no node role confirms anything
    t = 3.0
    while t < 5.0:
        t += TIMING.tick
        guard.beat(t)
    assert guard.holding(4.99)
    assert not guard.holding(5.0)
    assert guard.refuse(0.0, 5.0) is None


def test_a_confirmation_processed_before_the_watch_noticed_the_freeze_counts() -> None:
    # The node's processes resume in any order: here the loop processes the node role's set
    # before the watch thread beats.
    guard = watching(1.0)
    guard.confirmed(3.0)
    assert not guard.holding(3.0)
    assert guard.beat(3.001) is not None
    assert not guard.holding(3.01)


def test_a_confirmation_from_before_the_freeze_does_not_count() -> None:
    guard = watching(1.0)
    guard.confirmed(0.5)
    assert guard.beat(3.0) is not None
    assert guard.holding(3.0)


def test_a_late_beat_shorter_than_the_gap_holds_nothing() -> None:
    guard = watching(1.0)
    assert guard.beat(1.14) is None  # a loaded machine: 140 ms between beats
    assert not guard.holding(1.14)


def test_without_a_watch_nothing_is_held() -> None:
    guard = ResumeGuard(TIMING)
    assert not guard.holding(100.0)
    guard = watching(1.0)
    guard.stop()
    assert not guard.holding(100.0)
