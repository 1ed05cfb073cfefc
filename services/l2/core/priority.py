"""When the hot path may run at real-time priority: while the frames it reads stay few.

Theory of operation
-------------------
The kernel answers ARP for its own addresses in softirq context, ahead of every task; our
responder is a task and, on a busy machine, waits for a CPU after each wake-up — that wait is the
tail of its reply latency. At a real-time priority (SCHED_FIFO) the scheduler runs it as soon as
a frame wakes it, like the kernel's own handling. A real-time task also keeps a CPU for as long
as it has work, though, so a flood of requests would take a core from everything else. The
guard bounds that: the adapter reports the frames it read after each wake-up; once a window of
`window` seconds sees more than `limit` frames, the hot path leaves real-time priority, and it
returns to it after a window with at most half that (hysteresis, so a load near the limit does
not flap). Time is an argument, as everywhere in the core.
"""

__all__ = ["FloodGuard"]

LIMIT = 1000  # frames per window: 10,000 frames/s, far above any segment's normal ARP/NDP load
WINDOW = 0.1  # seconds


class FloodGuard:
    def __init__(self, limit: int = LIMIT, window: float = WINDOW) -> None:
        self.limit = limit
        self.window = window
        self.realtime = True
        self._start = float("-inf")
        self._count = 0

    def observe(self, now: float, frames: int) -> bool | None:
        """Count `frames` read at `now`; the new `realtime` when it changes, else None."""
        changed = False
        elapsed = now - self._start
        if elapsed >= self.window:
            # The window that just ended decides whether to return; after two, a whole window
            # went by without a frame.
            quiet = self._count <= self.limit // 2 or elapsed >= 2 * self.window
            if not self.realtime and quiet:
                self.realtime = changed = True
            self._start, self._count = now, 0
        self._count += frames
        if self.realtime and self._count > self.limit:
            self.realtime, changed = False, True
        return self.realtime if changed else None
