"""Writes to the API server, off the convergence path (client-go's workqueue and event recorder).

The controller decides a Service in microseconds but each write is an HTTP round trip; doing
them inline made 10,000 new Services take minutes. `WriteQueue` runs them on a few threads
(the official client is synchronous) while convergence goes on; when many wait, a thread is
handed several at once (a hand-over costs about as much CPU as a write):

- keyed writes (a Service's status, a pool's status): the latest write for a key replaces one
  still waiting, and writes for one key never overlap, so the API sees them in order;
  a failed write is retried with backoff (0.2 s doubling to 10 s) unless a newer one replaced it;
  a write that fails for good (the API refuses it: a 4xx other than 408, 409 and 429; or the same
  OS error, a full disk in folder mode) is dropped after `PERMANENT_ATTEMPTS` tries, counted in
  `dropped_writes` and logged, so it can never hold up the writes behind it or a `flush()`;
- what happens to keyed writes is told to `report` (a `WriteOutcome`, on the event loop): every
  failed try, a drop, and the first success of a key after it failed; the controller turns
  these into an Event, metrics, a ConfigurationState condition and readiness
  (gateway/controller/reconciler.py), so a success of a key that never failed costs nothing;
- events: best effort, one at a time (as client-go's recorder writes them), only while no
  keyed write waits or runs (status is what makes traffic flow; events are for people), and at
  most `max_events` waiting (client-go's recorder drops events beyond 1,000; we keep more so
  that a burst of new Services still gets every `IPAllocated`); a failed event is logged, not
  retried;
- `flush()` waits until nothing is waiting or running: the controller flushes before it restores
  IPAM from Service status, so the status it reads includes every decision it made. With a
  `timeout` (the controller's full pass gives one) a write that fails for longer, even with an
  error a retry could cure (an API answering 500 to one object for good), no longer holds the
  pass: when the time is up every write not running is abandoned, and a running one that fails
  is not tried again; each is reported as dropped (the controller decides its object again later).
  Abandoning, not keeping, is what keeps the status right: a stale write landing after the pass
  would overwrite what the pass decided.
"""

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from metallb_runtime.interceptors import bounded

log = logging.getLogger(__name__)

Write = Callable[[], object]
BATCH = 8  # keyed writes handed to a thread at once, when many wait
PERMANENT_ATTEMPTS = 3  # tries of a write that fails for good before it is dropped
#: API statuses that a retry can cure: timeout, conflict (someone else wrote), throttling.
RETRYABLE_4XX = frozenset({408, 409, 429})
ERROR_CHARS = 300  # of an error's text in a report (an API error may quote a whole object)


@dataclass(frozen=True)
class WriteOutcome:
    """What happened to a keyed write: `error` None (it went through after failing), or the
    error of a failed try, the `failures` in a row so far, and whether it was `dropped`."""

    key: str
    error: str | None = None
    failures: int = 0
    dropped: bool = False


def fails_for_good(error: Exception) -> bool:
    """Would trying again make no difference? A 4xx the API will answer again, or an OS error
    (folder mode: a full disk, a read-only file system, a permission)."""
    status = getattr(error, "status", None)
    if isinstance(status, int):
        return 400 <= status < 500 and status not in RETRYABLE_4XX
    return isinstance(error, OSError) and not isinstance(error, (TimeoutError, ConnectionError))


def describe(error: Exception) -> str:
    """A short one-line text for `error`: an API error as its status, reason and the message of
    its Status body (the client's own text carries every header and the whole body)."""
    status = getattr(error, "status", None)
    if isinstance(status, int):
        message = ""
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            message = str(json.loads(getattr(error, "body", "") or "{}").get("message") or "")
        text = f"{status} {getattr(error, 'reason', '') or ''}".strip()
        text = f"{text}: {message}" if message else text
    else:
        text = str(error) or type(error).__name__
    return bounded(" ".join(text.split()), ERROR_CHARS)


class WriteQueue:
    def __init__(
        self,
        concurrency: int = 8,
        max_events: int = 20_000,
        report: Callable[[WriteOutcome], None] = lambda outcome: None,
    ) -> None:
        self._concurrency = concurrency
        self._report = report
        self._failed: dict[str, int] = {}  # failed tries in a row, per key that failed
        self._max_events = max_events
        self._seq = 0
        self._latest: dict[str, int] = {}  # key -> sequence number of its latest write
        self._pending: OrderedDict[str, tuple[int, Write]] = OrderedDict()  # oldest first
        self._waiting: dict[str, tuple[int, Write]] = {}  # put while its key was running
        self._running: set[str] = set()
        self._events: deque[Write] = deque()
        self._busy = 0  # events being written and retries waiting for their timer
        self._event_running = False
        self._attempts: dict[str, int] = {}  # failed attempts in a row, per key
        # Workers with nothing to do, each waiting on its future: new work wakes one of them
        # (a worker that finishes a write looks for the next one itself).
        self._sleepers: deque[asyncio.Future[None]] = deque()
        self._idle = asyncio.Event()
        self._idle.set()
        self._executor: ThreadPoolExecutor | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._hopeless: dict[str, int] = {}  # failed-for-good attempts in a row, per key
        self._timers: dict[tuple[str, int], asyncio.TimerHandle] = {}  # retries: (key, seq)
        self._abandoning = False
        self.dropped_events = 0
        self.dropped_writes = 0
        self.failures = 0

    async def __aenter__(self) -> "WriteQueue":
        self._executor = ThreadPoolExecutor(self._concurrency, thread_name_prefix="kube-write")
        self._workers = [asyncio.create_task(self._work()) for _ in range(self._concurrency)]
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Finish what is queued (a stopping controller still writes what it decided)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), 10.0)
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def put(self, key: str, write: Write) -> None:
        """Run `write` for `key`, replacing a write for `key` not yet started."""
        self._seq += 1
        self._latest[key] = self._seq
        if key in self._running:
            self._waiting[key] = (self._seq, write)
        else:
            self._pending[key] = (self._seq, write)
            self._pending.move_to_end(key)
        self._kick()

    def event(self, write: Write) -> None:
        """Run `write` once, best effort."""
        if len(self._events) >= self._max_events:
            self.dropped_events += 1
            log.warning("event queue full (%d): event dropped", self._max_events)
            return
        self._events.append(write)
        self._kick()

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until every queued write has been made or dropped; after `timeout` seconds,
        abandon what is not running and wait only for the running ones."""
        if timeout is None:
            await self._wait_idle()
            return
        try:
            await asyncio.wait_for(self._wait_idle(), timeout)
        except TimeoutError:
            self._abandoning = True
            try:
                self._abandon(timeout)
                await self._wait_idle()
            finally:
                self._abandoning = False

    async def _wait_idle(self) -> None:
        while not self._idle.is_set():
            await self._idle.wait()

    def _abandon(self, timeout: float) -> None:
        """Drop every keyed write not running (waiting to start or to be retried)."""
        error = TimeoutError(f"still not written after the {timeout:g}s a full pass waits")
        for (key, seq), handle in list(self._timers.items()):
            handle.cancel()
            del self._timers[key, seq]
            self._busy -= 1
            if self._latest.get(key) == seq:  # (else a newer write replaced it)
                self._drop(key, seq, error)
        for queue in (self._pending, self._waiting):
            while queue:
                key, (seq, _) = queue.popitem()
                self._drop(key, seq, error)
        self._kick()

    def _kick(self) -> None:
        self._idle.clear()
        while self._sleepers:
            sleeper = self._sleepers.popleft()
            if not sleeper.done():
                sleeper.set_result(None)
                return

    def _quiet(self) -> bool:
        return not (self._pending or self._waiting or self._running or self._events or self._busy)

    def _next_keyed(self) -> list[tuple[str, int, Write]]:
        """The oldest keyed writes: one when few wait, up to `BATCH` when many do (one thread
        hand-over for several writes: the hand-over costs about as much CPU as a write)."""
        take = min(BATCH, max(1, len(self._pending) // self._concurrency))
        jobs: list[tuple[str, int, Write]] = []
        while self._pending and len(jobs) < take:
            key, (seq, write) = self._pending.popitem(last=False)
            jobs.append((key, seq, write))
        return jobs

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = self._next_keyed()
            if jobs:
                await self._keyed(loop, jobs)
                continue
            if self._running or self._event_running or not self._events:
                # Nothing to do: events wait while keyed writes run, and go one at a time.
                if self._quiet():
                    self._idle.set()
                sleeper = loop.create_future()
                self._sleepers.append(sleeper)
                await sleeper
                continue
            self._busy += 1
            self._event_running = True
            try:
                await self._run(loop, [self._events.popleft()], None)
            finally:
                self._busy -= 1
                self._event_running = False

    async def _keyed(
        self, loop: asyncio.AbstractEventLoop, jobs: list[tuple[str, int, Write]]
    ) -> None:
        keys = [key for key, _, _ in jobs]
        self._running.update(keys)
        try:
            outcomes = await self._run(loop, [write for _, _, write in jobs], keys)
        finally:
            self._running.difference_update(keys)
        for (key, seq, write), error in zip(jobs, outcomes, strict=True):
            self._tell(key, error)
            if error is not None and fails_for_good(error):
                self._hopeless[key] = self._hopeless.get(key, 0) + 1
            else:
                self._hopeless.pop(key, None)
            newer = self._waiting.pop(key, None)
            if newer is not None:
                self._pending[key] = newer
            elif error is None:
                self._attempts.pop(key, None)
                if self._latest.get(key) == seq:
                    del self._latest[key]
            elif self._hopeless.get(key, 0) >= PERMANENT_ATTEMPTS or self._abandoning:
                self._drop(key, seq, error)
            else:
                self._busy += 1
                handle = loop.call_later(self._backoff(key), self._retry, key, seq, write)
                self._timers[key, seq] = handle

    def _tell(self, key: str, error: Exception | None) -> None:
        """Report a try of `key`'s write: each failure, and a success after failures."""
        if error is None:
            if self._failed.pop(key, None) is not None:
                self._report(WriteOutcome(key))
            return
        self._failed[key] = self._failed.get(key, 0) + 1
        self._report(WriteOutcome(key, describe(error), self._failed[key]))

    def _drop(self, key: str, seq: int, error: Exception) -> None:
        self._report(WriteOutcome(key, describe(error), self._failed.get(key, 0), dropped=True))
        self.dropped_writes += 1
        self._attempts.pop(key, None)
        self._hopeless.pop(key, None)
        if self._latest.get(key) == seq:
            del self._latest[key]
        log.error("write for %s dropped: %s", key, describe(error))

    def _backoff(self, key: str) -> float:
        self._attempts[key] = self._attempts.get(key, 0) + 1
        return float(min(0.2 * 2 ** (self._attempts[key] - 1), 10.0))

    def _retry(self, key: str, seq: int, write: Write) -> None:
        """Run a failed write again, unless a newer write for its key was put meanwhile."""
        self._busy -= 1
        self._timers.pop((key, seq), None)
        if self._latest.get(key) == seq:
            self._pending[key] = (seq, write)
        self._kick()

    async def _run(
        self, loop: asyncio.AbstractEventLoop, writes: list[Write], keys: list[str] | None
    ) -> list[Exception | None]:
        """Make `writes` one after the other on one thread; the error of each (None: done)."""
        outcomes = await loop.run_in_executor(self._executor, _make_all, writes)
        for at, error in enumerate(outcomes):
            if error is None:
                continue
            self.failures += 1
            if keys is None:
                log.warning("event not written: %s", describe(error))
            else:
                log.warning("write for %s failed (%s)", keys[at], describe(error))
        return outcomes


def _make_all(writes: list[Write]) -> list[Exception | None]:
    outcomes: list[Exception | None] = []
    for write in writes:
        try:
            write()
            outcomes.append(None)
        except Exception as err:
            outcomes.append(err)
    return outcomes
