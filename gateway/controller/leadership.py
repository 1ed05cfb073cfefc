"""The controller's leader election: one term, kept on the monotonic clock (the adapter of
gateway/leases.py `LeaderTerm`).

`keep_term` renews the Lease every `retry_period` through `try_hold` (a blocking LeaseLock call,
run in a thread and waited for at most `LeaderTerm.wait_for_reply`), and sets `stepped_down`
when the term's deadline passes without a successful renewal, or when another holder has the
Lease. `LeaderWriter` wraps the controller's writer so that no write *starts* once the deadline
has passed, even one already queued: two controllers never write at once, because the other
contender cannot take the Lease before `leaseDurationSeconds` after our last renewal, and we stop
`renew_deadline` after sending it (5 s earlier with the defaults: the margin for a write already
on the wire).
"""

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gateway.configuration_state import Condition
from gateway.controller.role import PasswordsAndStatusWriter
from gateway.leases import LeaderTerm
from metallb_rules.balancer import Event

log = logging.getLogger(__name__)


class NotLeadingError(Exception):
    """A write refused: this controller's term is over."""


class LeaderWriter:
    """`inner`, refusing every write that would start after the term's deadline."""

    def __init__(
        self,
        inner: PasswordsAndStatusWriter,
        term: LeaderTerm,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._term = term
        self._clock = clock

    def _check(self) -> None:
        if not self._term.leading(self._clock()):
            raise NotLeadingError("not the leader any more: write refused")

    def write_service_status(
        self,
        namespace: str,
        name: str,
        ingress: list[str],
        pool: str | None,
        current: Mapping[str, Any] | None = None,
    ) -> bool:
        self._check()
        return self._inner.write_service_status(namespace, name, ingress, pool, current)

    def emit_event(self, involved: dict[str, Any], event: Event) -> None:
        self._check()
        self._inner.emit_event(involved, event)

    def write_configuration_state(
        self, valid: bool, message: str, extra: Sequence[Condition] = ()
    ) -> None:
        self._check()
        self._inner.write_configuration_state(valid, message, extra)

    def write_pool_status(self, pool: str, status: dict[str, int]) -> None:
        self._check()
        self._inner.write_pool_status(pool, status)

    def write_peer_passwords(self, data: Mapping[str, str]) -> None:
        self._check()
        self._inner.write_peer_passwords(data)


async def attempt(try_hold: Callable[[], bool], term: LeaderTerm) -> bool | None:
    """One acquisition or renewal: True (held; the term renewed from when it was sent), False
    (another holder has it), None (failed or too slow: the API server did not answer)."""
    loop = asyncio.get_running_loop()
    sent = loop.time()
    try:
        held = await asyncio.wait_for(asyncio.to_thread(try_hold), term.wait_for_reply(sent))
    except TimeoutError:
        log.warning("Lease renewal timed out")
        return None
    except Exception as err:  # an API error: the term decides whether we may go on
        log.warning("Lease renewal failed: %s", err)
        return None
    if held:
        term.renewed(sent)
        return True
    term.lost()
    return False


async def keep_term(
    try_hold: Callable[[], bool], term: LeaderTerm, stop: asyncio.Event, stepped_down: asyncio.Event
) -> None:
    """Renew until `stop`; set `stepped_down` when the term ends."""
    loop = asyncio.get_running_loop()
    next_try = term.next_renewal(loop.time())
    while not stop.is_set():
        deadline = term.deadline()
        if deadline is None or loop.time() >= deadline:
            log.warning("lost the controller Lease (renew deadline passed): stepping down")
            term.lost()  # the term is over: the next acquisition gets its whole timeout
            stepped_down.set()
            return
        wake = min(next_try, deadline)
        try:
            await asyncio.wait_for(stop.wait(), max(0.0, wake - loop.time()))
            return
        except TimeoutError:
            pass
        if loop.time() >= deadline or loop.time() < next_try:
            continue  # the deadline check above decides
        sent = loop.time()
        held = await attempt(try_hold, term)
        if held is False:
            log.warning("the controller Lease is held by another controller: stepping down")
            stepped_down.set()
            return
        next_try = sent + term.retry_period
