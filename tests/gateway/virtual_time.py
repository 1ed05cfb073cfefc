"""Drive a `gateway.driver.Reconciler` on virtual time: no asyncio, no sleeps, no clock.

`VirtualTime` plays the driver's part by hand: it hands changes and results to the reconciler,
fires its timer when virtual time passes its deadline, and collects the commands it issues.
`play(rows)` runs a scenario table, ordered rows applied to one reconciler (MetalLB's allocator
tests, STYLE §7):

    play(vt, [
        Change(("Service", "default/a")),
        Expect(),                                   # batching: nothing yet
        Advance(0.02),
        Expect(("bgp", "SetAdvertisements")),       # `describe(command)` of each, in order
        Reply("bgp", Failure(unavailable())),       # answers the oldest outstanding one matching
        Advance(0.2),
        Expect(("bgp", "ListPeers")),
        Check(lambda: ...),                          # any assertion on the reconciler's state
    ])

`Expect` compares the commands issued since the previous `Expect` (each passed through the
`describe` function given to `VirtualTime`, so a table names what matters and not request ids;
a description that is a list counts as several, one per item of a batch).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from gateway.reconciler import Command, Reconciler

ChangeT = TypeVar("ChangeT")
CommandT = TypeVar("CommandT", bound=Command)


class VirtualTime(Generic[ChangeT, CommandT]):
    def __init__(
        self,
        reconciler: Reconciler[ChangeT, CommandT],
        describe: Callable[[CommandT], object] = lambda command: command,
        *,
        start: float = 0.0,
    ) -> None:
        self.reconciler = reconciler
        self.describe = describe
        self.now = start
        self.issued: list[CommandT] = []  # since the last `take`
        self.outstanding: list[CommandT] = []  # issued, not yet answered, oldest first
        self.timers_fired = 0
        self._fire_due()  # (a first deadline may be "at once", as the driver's first step sees)
        self._collect()

    def _collect(self) -> None:
        for command in self.reconciler.commands():
            self.issued.append(command)
            self.outstanding.append(command)

    def change(self, change: ChangeT) -> None:
        self.reconciler.handle(change, self.now)
        self._fire_due()
        self._collect()

    def reply(self, match: Callable[[CommandT], bool], result: object) -> CommandT:
        """Answer the oldest outstanding command that `match`es; return it."""
        for i, command in enumerate(self.outstanding):
            if match(command):
                del self.outstanding[i]
                self.reconciler.handle_result(command.request_id, result, self.now)
                self._fire_due()
                self._collect()
                return command
        described = [self.describe(c) for c in self.outstanding]
        raise AssertionError(f"no outstanding command matches; outstanding: {described}")

    def answer(self, command: CommandT, result: object) -> None:
        """Answer `command` itself (it must be outstanding)."""
        self.reply(lambda c: c is command, result)

    def reply_all(self, match: Callable[[CommandT], bool], result: object) -> int:
        """Answer every outstanding command that matches, including those issued meanwhile."""
        answered = 0
        while any(match(c) for c in self.outstanding):
            self.reply(match, result)
            answered += 1
        return answered

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass, firing the timer at each deadline on the way (as the driver's
        sleep would), with `now` equal to that deadline."""
        end = self.now + seconds
        while True:
            deadline = self.reconciler.next_deadline()
            if deadline is None or deadline > end:
                break
            self.now = max(self.now, deadline)
            self.reconciler.handle_timer(self.now)
            self.timers_fired += 1
            self._collect()
            if self.timers_fired > 1_000_000:
                raise AssertionError("the timer keeps firing without time passing")
        self.now = end

    def freeze(self, seconds: float) -> None:
        """The process does not run for `seconds` (SIGSTOP): time passes, no timer fires."""
        self.now += seconds

    def _fire_due(self) -> None:
        deadline = self.reconciler.next_deadline()
        if deadline is not None and deadline <= self.now:
            self.reconciler.handle_timer(self.now)
            self.timers_fired += 1

    def take(self) -> list[object]:
        """The commands issued since the last take, described (a description that is a list
        stands for several rows: a command carrying a batch)."""
        issued, self.issued = self.issued, []
        out: list[object] = []
        for command in issued:
            described = self.describe(command)
            out.extend(described if isinstance(described, list) else [described])
        return out


# Rows of a scenario table.


@dataclass(frozen=True)
class Change:
    """A change; a callable is called when the row is played (it changes the test's world and
    returns the change), so that a table's rows take effect in order."""

    change: Any


@dataclass(frozen=True)
class Advance:
    seconds: float


@dataclass(frozen=True)
class Freeze:
    seconds: float


@dataclass(frozen=True)
class Reply:
    """Answer the oldest outstanding command whose description starts with `prefix` (a
    tuple description) or equals it."""

    prefix: Any
    result: object = None
    every: bool = False  # answer all matching outstanding commands (and those they lead to)


@dataclass(frozen=True)
class Expect:
    """The commands issued since the previous Expect, described, in order."""

    commands: tuple[object, ...]

    def __init__(self, *commands: object) -> None:
        object.__setattr__(self, "commands", commands)


@dataclass(frozen=True)
class Check:
    """Any assertion (on the reconciler's state, a fake's calls)."""

    check: Callable[[], object]


Row = Change | Advance | Freeze | Reply | Expect | Check


def matches(description: object, prefix: object) -> bool:
    if description == prefix:
        return True
    if isinstance(description, tuple) and isinstance(prefix, tuple):
        return description[: len(prefix)] == prefix
    if isinstance(description, tuple) and not isinstance(prefix, tuple):
        return bool(description) and description[0] == prefix
    return False


def play(vt: VirtualTime[Any, Any], rows: Iterable[Row]) -> None:
    """Apply `rows` in order; an `Expect` that does not hold fails naming its row number."""
    for number, row in enumerate(rows, 1):
        try:
            apply(vt, row)
        except AssertionError as err:
            raise AssertionError(f"row {number} ({row!r}) at t={vt.now:g}: {err}") from err


def apply(vt: VirtualTime[Any, Any], row: Row) -> None:
    match row:
        case Change(change):
            vt.change(change() if callable(change) else change)
        case Advance(seconds):
            vt.advance(seconds)
        case Freeze(seconds):
            vt.freeze(seconds)
        case Reply(prefix, result, every):

            def match(command: Any) -> bool:
                return matches(vt.describe(command), prefix)

            if every:
                vt.reply_all(match, result)
            else:
                vt.reply(match, result)
        case Expect(commands):
            got = vt.take()
            assert got == list(commands), f"expected {list(commands)}, got {got}"
        case Check(check):
            result = check()
            assert result is None or result is True, f"check returned {result!r}"
