"""Leases read as client-go reads them (gateway/leases.py): a renewal is a change of the record
this process observed, timed on its own clock; the other host's renewTime is never compared with
our clock."""

from gateway.leases import ObservedLeases


def spec(renew: str, holder: str = "node-a", duration: int = 15) -> dict[str, object]:
    return {"holderIdentity": holder, "renewTime": renew, "leaseDurationSeconds": duration}


def test_a_lease_is_current_until_its_duration_passes_without_a_renewal_seen() -> None:
    leases = ObservedLeases()
    # Written by a host whose clock is a year behind ours: irrelevant.
    leases.observe("a", spec("2025-01-01T00:00:00.000000Z"), now=100.0)
    assert leases.holder("a", 100.0) == "node-a"
    # The same record read again later is no renewal.
    leases.observe("a", spec("2025-01-01T00:00:00.000000Z"), now=110.0)
    assert leases.current(114.9) == {"a"}
    assert leases.next_expiry(114.9) == 115.0
    assert leases.current(115.0) == set()
    assert leases.holder("a", 115.0) is None
    # A renewal seen at 120 gives it a whole duration from then.
    leases.observe("a", spec("2025-01-01T00:00:10.000000Z"), now=120.0)
    assert leases.current(134.9) == {"a"}


def test_a_renew_time_in_the_future_does_not_keep_a_dead_holder_alive() -> None:
    leases = ObservedLeases()
    leases.observe("a", spec("2099-01-01T00:00:00.000000Z", duration=10), now=0.0)
    assert leases.current(9.9) == {"a"}
    assert leases.current(10.0) == set()


def test_leases_not_listed_any_more_are_gone() -> None:
    leases = ObservedLeases()
    leases.observe_all([("a", spec("t1")), ("b", spec("t1", holder="node-b"))], now=0.0)
    leases.observe_all([("b", spec("t1", holder="node-b"))], now=1.0)
    assert leases.current(1.0) == {"b"}
