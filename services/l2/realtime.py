"""Scheduling the calling thread: SCHED_FIFO at a priority, or back to SCHED_OTHER.

Linux schedules threads, so `sched_setscheduler(0, ...)` changes only the thread that calls it:
a link's thread raises itself and the event loop stays a normal task. Raising needs
CAP_SYS_NICE (or an RLIMIT_RTPRIO at least the priority); without it the caller is told and
carries on at normal priority.
"""

import os


def enter_realtime(priority: int) -> None:
    """SCHED_FIFO at `priority` (1-99) for the calling thread; PermissionError if not allowed."""
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))


def leave_realtime() -> None:
    """SCHED_OTHER for the calling thread (always allowed)."""
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


def thread_policy() -> int:
    """The calling thread's policy (os.SCHED_FIFO, os.SCHED_OTHER, ...)."""
    return os.sched_getscheduler(0)
