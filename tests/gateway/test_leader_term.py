"""The controller's leader election on virtual time (gateway/leases.py `LeaderTerm`, the real
`LeaseLock` over an in-memory Lease): two controllers never lead at once, whatever the API
server does to one of them, and the other takes over once the first has stepped down."""

import asyncio
import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from gateway.configuration_state import Condition
from gateway.controller.leadership import LeaderWriter, NotLeadingError, attempt, keep_term
from gateway.kube.lease import LeaseLock
from gateway.leases import LeaderTerm


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeCoordination:
    """The Lease API, in memory; writes are compare-and-swap on resourceVersion."""

    lease: dict[str, Any] | None = None
    version: int = 0
    cut: set[str] = field(default_factory=set)  # identities whose requests fail
    caller: str = ""

    def _reachable(self) -> None:
        if self.caller in self.cut:
            raise ConnectionError("API server unreachable")

    def read_namespaced_lease(self, name: str, namespace: str, **_: Any) -> Any:
        self._reachable()
        if self.lease is None:
            raise ApiException(status=404)
        return SimpleNamespace(data=json.dumps(self.lease).encode())

    def _write(self, body: dict[str, Any]) -> Any:
        self.version += 1
        body["metadata"]["resourceVersion"] = str(self.version)
        self.lease = body
        return SimpleNamespace(data=b"{}")

    def create_namespaced_lease(self, namespace: str, body: dict[str, Any], **_: Any) -> Any:
        self._reachable()
        if self.lease is not None:
            raise ApiException(status=409)
        return self._write(body)

    def replace_namespaced_lease(
        self, name: str, namespace: str, body: dict[str, Any], **_: Any
    ) -> Any:
        self._reachable()
        current = (self.lease or {}).get("metadata", {}).get("resourceVersion")
        if body["metadata"].get("resourceVersion") != current:
            raise ApiException(status=409)
        return self._write(body)


@dataclass
class Contender:
    name: str
    lock: LeaseLock
    term: LeaderTerm
    next_try: float = 0.0
    led: list[float] = field(default_factory=list)  # the instants it was leading

    def step(self, api: FakeCoordination, now: float) -> None:
        if now < self.next_try:
            return
        self.next_try = now + self.term.retry_period
        api.caller = self.name
        try:
            held = self.lock.try_hold()
        except (ConnectionError, ApiException):
            return  # failed: the term decides whether we may go on
        if held:
            self.term.renewed(now)
        else:
            self.term.lost()


def contenders(api: FakeCoordination, clock: Clock) -> list[Contender]:
    out = []
    for name in ("a", "b"):
        lock = LeaseLock(None, "metallb-system", "ctl", name, 15, clock=clock)  # type: ignore[arg-type]
        lock._api = api
        out.append(Contender(name, lock, LeaderTerm(15, 10, 2, 2)))
    return out


@pytest.mark.parametrize("outage", [(20.0, 30.0), (20.0, 60.0), (5.0, 200.0)])
def test_two_controllers_never_lead_at_once(outage: tuple[float, float]) -> None:
    api, clock = FakeCoordination(), Clock()
    a, b = contenders(api, clock)
    start, end = outage
    while clock.now < 300:
        api.cut = {"a"} if start <= clock.now < end else set()
        for c in (a, b):
            c.step(api, clock.now)
            if c.term.leading(clock.now):
                c.led.append(clock.now)
        assert not (a.term.leading(clock.now) and b.term.leading(clock.now)), clock.now
        clock.now = round(clock.now + 0.1, 1)
    assert a.led[0] == 0.0  # a leads first
    if end - start > 15:  # b took over during the outage, after a stepped down
        first_b = b.led[0]
        last_a = max(t for t in a.led if t < first_b)
        assert last_a < start + 10  # a stopped at its renew deadline
        # b waited a whole Lease duration after the last renewal it saw: the 5 s margin.
        assert first_b - last_a >= 5
    else:  # a short outage: a still leads, b never did
        assert not b.led


def test_the_renew_deadline_must_be_shorter_than_the_lease() -> None:
    with pytest.raises(ValueError, match="shorter"):
        LeaderTerm(15, 15)


def test_a_renewal_is_waited_for_no_later_than_the_deadline() -> None:
    term = LeaderTerm(15, 10, 2, timeout=2)
    term.renewed(0.0)
    assert term.wait_for_reply(5.0) == 2.0
    assert term.wait_for_reply(9.5) == 0.5
    assert term.leading(9.99) and not term.leading(10.0)
    assert term.next_renewal(0.5) == 2.0


def test_no_write_starts_after_the_term_ends() -> None:
    written: list[str] = []

    class Inner:
        def write_service_status(self, *args: Any, **kw: Any) -> bool:
            written.append("service")
            return True

        def emit_event(self, *args: Any) -> None:
            written.append("event")

        def write_configuration_state(self, *args: Any) -> None:
            written.append(f"state {args}")

        def write_pool_status(self, *args: Any) -> None:
            written.append("pool")

        def write_peer_passwords(self, *args: Any) -> None:
            written.append("passwords")

    clock = Clock()
    term = LeaderTerm(15, 10, 2, 2)
    term.renewed(0.0)
    writer = LeaderWriter(Inner(), term, clock)
    clock.now = 9.9
    writer.write_pool_status("p", {})
    # the controller's extra conditions (failing status writes) pass through the leader's writer
    condition = Condition("statusWriterValid", ok=False, message="failing", reason="UnknownError")
    writer.write_configuration_state(True, "", [condition])
    clock.now = 10.0  # queued before, started after: refused
    with pytest.raises(NotLeadingError):
        writer.write_service_status("default", "web", [], None)
    with pytest.raises(NotLeadingError):
        writer.write_configuration_state(True, "")
    with pytest.raises(NotLeadingError):
        writer.write_peer_passwords({})
    assert written == ["pool", f"state {(True, '', [condition])}"]


def test_after_stepping_down_the_lease_can_be_taken_again() -> None:
    """The real `keep_term` and `attempt`: an API outage past the renew deadline makes the
    controller step down; once the API is back its next acquisition is waited for (before, the
    ended term's deadline left it no time to wait: every attempt "timed out" at once and the
    controller stayed standby for good, as the chaos suite's API-away fault showed)."""
    reachable = True

    def try_hold() -> bool:
        if not reachable:
            raise ConnectionError("API server away")
        return True

    async def scenario() -> bool | None:
        nonlocal reachable
        term = LeaderTerm(3, 0.3, 0.05, 0.2)  # a short term; the timeout covers the request
        assert await attempt(try_hold, term) is True
        stop, stepped_down = asyncio.Event(), asyncio.Event()
        reachable = False
        await keep_term(try_hold, term, stop, stepped_down)  # returns once it stepped down
        assert stepped_down.is_set() and not term.leading(asyncio.get_running_loop().time())
        reachable = True
        return await attempt(try_hold, term)

    assert asyncio.run(scenario()) is True
