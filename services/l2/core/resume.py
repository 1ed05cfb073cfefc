"""What the responder must not answer after this L2 service was frozen (pure: times are given).

Theory of operation
-------------------
A process that was frozen (SIGSTOP, a paused VM, a starved host) is in the past when it runs
again: while it was away its node's peers may have counted the node out (its BFD sessions timed
out) and another node now owns its addresses (issue 13: a resumed node answered beside the new
owner). Two rules keep it from answering in that past:

- **Stale requests are dropped.** The kernel stamps every frame when it arrives (SO_TIMESTAMPNS);
  a request older than `stale` when read was queued while we were not reading. Its sender has
  moved on (an ARP client retransmits after a second, RFC 1122 §2.3.2.1), and answering it now,
  with every other queued one, would be a burst of answers for an address that may have moved.
- **Answers are held after a freeze until the set is confirmed.** A watch thread beats every few
  milliseconds (`beat`); a beat later than `gap` after the previous one means the process did not
  run meanwhile. From then on (and already while the watch has not beaten again: a link thread
  can run first when the process resumes) nothing is answered and no gratuitous frame is sent,
  until a `SetAnnouncements` processed after the freeze began (`confirmed`) says what this node
  announces now: the node role, frozen with us, sends it once it has decided whether it was cut
  off (gateway/node/liveness.py). A confirmation processed after the freeze began but before the
  watch noticed it counts too, so the order in which the node's processes resume does not
  matter.
- **The hold is bounded** (`hold_max`): each service must survive the restart or loss of any
  other, so a healthy L2 service whose node role is gone, or that alone was frozen (its node role
  sends nothing new then), answers its set again after `hold_max`.

The watch thread runs at the link threads' real-time priority when allowed, so a loaded machine
does not delay its beats past `gap` (a late beat would hold answers until `hold_max` for
nothing). With a slower BFD profile than the node role's default, a freeze between `gap` and
its detection time holds answers until the node role's confirmation, about half a second.
"""

from dataclasses import dataclass

from services.l2.core.drop import DropReason


@dataclass(frozen=True)
class ResumeTiming:
    """Seconds."""

    tick: float = 0.02  # how often the watch beats
    # A beat later than this after the previous one: we were frozen, for more than the beat
    # gap minus a tick. The node role notices any freeze over 130 ms (gateway/node/liveness.py:
    # 50 ms heartbeat + 80 ms), so, frozen with us, it always notices too and confirms the set;
    # and a freeze long enough for the peers to count the node out (150 ms at 50 ms x 3) is seen.
    gap: float = 0.15
    stale: float = 0.15  # a request older than this when read is not answered
    hold_max: float = 2.0  # answers held at most this long after a resume without confirmation


DEFAULT_RESUME_TIMING = ResumeTiming()


class ResumeGuard:
    """Shared by the watch thread (`beat`), the loop (`confirmed`, `holding`) and the link
    threads (`refuse`); each field is written by one of them and read atomically by the others."""

    def __init__(self, timing: ResumeTiming = DEFAULT_RESUME_TIMING) -> None:
        self.timing = timing
        self._beat: float | None = None  # the watch's last beat (None: not watching)
        self._confirmed_at = float("-inf")  # the last SetAnnouncements processed
        self._held_from: float | None = None  # the freeze began (the beat before the gap)
        self._resumed_at = 0.0  # and was noticed then

    def beat(self, now: float) -> float | None:
        """The watch ran at `now`; the length of the gap if we were frozen before it."""
        last, self._beat = self._beat, now
        if last is None or now - last <= self.timing.gap:
            return None
        if self._confirmed_at <= last:  # nothing confirmed since the freeze began
            self._resumed_at = now
            self._held_from = last
        return now - last

    def stop(self) -> None:
        """The watch stopped: no more beats to miss."""
        self._beat = None

    def confirmed(self, now: float) -> None:
        """A SetAnnouncements was processed at `now`: the set held is what to announce."""
        self._confirmed_at = now
        self._held_from = None

    def holding(self, now: float) -> bool:
        """Nothing may be answered or announced at `now`."""
        beat = self._beat
        if beat is not None and now - beat > self.timing.gap and self._confirmed_at <= beat:
            return True  # frozen until a moment ago: the watch has not beaten since
        if self._held_from is None:
            return False
        return now - self._resumed_at < self.timing.hold_max

    def refuse(self, age: float, now: float) -> DropReason | None:
        """Why a request read at `now`, `age` seconds after the kernel received it, must not be
        answered (None: answer it)."""
        if age > self.timing.stale:
            return DropReason.STALE
        if self.holding(now):
            return DropReason.RESUMING
        return None
