"""The shape of a gateway role: a sans-I/O reconciler (aioquic's connection, STYLE §9).

A role is told what changed (`handle(change, now)`), what its requests returned
(`handle_result(request_id, result, now)`) and that a deadline it asked for has come
(`handle_timer(now)`); it says what to do (`commands()`, each carrying a request id) and when it
next wants the timer (`next_deadline()`). It never awaits, sleeps or reads a clock: `now` is an
argument, in seconds of the driver's monotonic clock. This module is pure (no asyncio, grpc or
kubernetes); gateway/driver.py runs a reconciler, tests/gateway/virtual_time.py drives one on
virtual time.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar


class Command(Protocol):
    """What a reconciler asks the driver to do; the outcome comes back under `request_id`."""

    @property
    def request_id(self) -> int: ...


@dataclass(frozen=True)
class Failure:
    """The outcome of a command that raised `error` (an RPC error, an API error, a timeout)."""

    error: Exception


ChangeT_contra = TypeVar("ChangeT_contra", contravariant=True)
CommandT_co = TypeVar("CommandT_co", bound=Command, covariant=True)


class Reconciler(Protocol[ChangeT_contra, CommandT_co]):
    """A role's sans-I/O core (aioquic's `QuicConnection`: receive_datagram, datagrams_to_send,
    get_timer, handle_timer)."""

    def handle(self, change: ChangeT_contra, now: float) -> None:
        """Something the role watches changed."""

    def handle_result(self, request_id: int, result: object, now: float) -> None:
        """Command `request_id` finished: its return value, or a `Failure`."""

    def commands(self) -> Iterable[CommandT_co]:
        """The commands to issue now; each is returned once (the driver issues all of them)."""
        ...

    def next_deadline(self) -> float | None:
        """When `handle_timer` must be called (driver clock seconds), or None: no timer."""
        ...

    def handle_timer(self, now: float) -> None:
        """The deadline has come (`now >= next_deadline()`)."""


class IdSequence:
    """Request ids for a reconciler's commands: 1, 2, 3, ..."""

    def __init__(self) -> None:
        self._last = 0

    def __call__(self) -> int:
        self._last += 1
        return self._last
