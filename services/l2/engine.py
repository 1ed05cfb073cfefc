"""The L2 adapter: raw sockets, solicited-node groups and gratuitous timers around `L2Table`.

Mutations (`set_announcements`, `apply_links`) are submitted by the service to its state-owner
task; each ends by re-syncing sockets and groups to the table and installing a fresh immutable
`ReplyTable` (`services.l2.core.answer`) with one attribute assignment. The gratuitous timer
callback runs on the loop too and only advances the schedule and sends; none of these await, so
none interleaves with another.

The hot path (read a frame, `LinkReplies.answer`, write the reply, count) shares nothing else
with the loop but the GIL: it reads the installed table and writes counters no other thread
writes. By
default each link is read by its own thread, blocked in `recv` on the link's socket — a frame
wakes it and nothing else stands between the two — and raised to real-time priority
(SCHED_FIFO) while `FloodGuard` allows, so a request is answered as soon as it arrives rather
than when the scheduler next finds a free CPU. `hot_path="loop"` reads the sockets with
event-loop reader callbacks instead. docs/l2.md records the measurements behind both choices.

After a freeze (services/l2/core/resume.py): a watch thread beats every `ResumeTiming.tick`
seconds into a `ResumeGuard`; each hot path reads frames with their kernel receive time and asks
the guard whether to answer (stale requests and requests while held are counted, not answered),
the gratuitous timer sends nothing while held, and `set_announcements` confirms the set.
"""

import asyncio
import contextlib
import errno
import logging
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from types import MappingProxyType

from services.l2.core.answer import LinkReplies, ReplyTable, build_replies
from services.l2.core.drop import DropReason
from services.l2.core.frames import format_mac
from services.l2.core.interfaces import Link, carrier_returns
from services.l2.core.priority import FloodGuard
from services.l2.core.responder import InterfaceView
from services.l2.core.resume import DEFAULT_RESUME_TIMING, ResumeGuard, ResumeTiming
from services.l2.core.table import AnnouncementSpec, Event, L2Table, SetResult
from services.l2.metrics import HotCounters, L2Metrics
from services.l2.rawsock import GroupMembership, check_raw_sockets, open_responder, recv_stamped
from services.l2.realtime import enter_realtime, leave_realtime

log = logging.getLogger(__name__)

# Frames read per readiness callback (loop mode) before yielding to other callbacks.
READ_BATCH = 64
# Where the sockets are read: a thread per link (the default, see docs/l2.md) or the loop.
HOT_PATHS = ("thread", "loop")
# SCHED_FIFO priority of the link threads: the lowest real-time one, above every normal task
# and below the kernel's own real-time threads (0: stay normal tasks).
DEFAULT_PRIORITY = 1
# How long a link thread's recv blocks before it looks whether it was stopped: a stopped
# thread answers nothing more, and exits within this time.
STOP_CHECK = 1.0
# Seconds after a link comes back (up, or carrier regained) when the solicited-node groups held
# on it are reported again. A snooping switch forgets a port's groups when the port loses its
# link, and otherwise learns them again only from the answers to its next query (up to its
# query response interval after the port is back, 10 s by default), forwarding no
# solicitation for them to this node meanwhile. The kernel reports a group when it is joined,
# not when carrier returns; and the switch port may forward a moment after this end sees
# carrier, while Linux handles a carrier change up to 1 s late (linkwatch's rate limit, which
# also hides a shorter flap from every flag: hence `Link.carrier_ups`). Measured on a veth pair
# into a Linux bridge (tests/l2/test_mld.py): 0.3-9 s without these reports, and the report
# at the join was lost in most flaps.
REPORT_AGAIN = (0.0, 0.1, 0.3, 0.6, 1.0, 1.5, 2.0)
# A link thread woken by a frame needs the GIL. While the event loop runs Python (a large
# SetAnnouncements, a scrape) the thread waits until the holder is asked to let go, which
# CPython does after the switch interval: 5 ms by default, 0.5 ms here (docs/l2.md).
SWITCH_INTERVAL = 0.0005
# Seconds between two reports of another host announcing the same address of ours.
REPORT_EVERY = 0.1

IPAddress = IPv4Address | IPv6Address
Table = ReplyTable[int]  # tags: the counter slot of each address (`L2Metrics.slot`)
_NOTHING: Table = ReplyTable(MappingProxyType({}))  # before the first sync, after close


class _Installed:
    """The table every hot path reads; the loop thread replaces it, nobody mutates it."""

    __slots__ = ("table",)

    def __init__(self) -> None:
        self.table: Table = _NOTHING


class _Reports:
    """Announcements of our addresses by other hosts, handed to the loop at most every
    REPORT_EVERY seconds per address (a flood of them costs the loop nothing more)."""

    __slots__ = ("_last", "_report")

    def __init__(self, report: Callable[[IPAddress, bytes, str], None]) -> None:
        self._report = report
        self._last: dict[IPAddress, float] = {}

    def seen(self, replies: LinkReplies[int], data: bytes) -> None:
        found = replies.announced_elsewhere(data)
        if found is None:
            return
        ip, mac = found
        now = time.monotonic()
        if now - self._last.get(ip, float("-inf")) < REPORT_EVERY:
            return
        if len(self._last) > len(replies.announced):  # forget addresses no longer answered
            self._last = {a: t for a, t in self._last.items() if a in replies.announced}
        self._last[ip] = now
        self._report(ip, mac, replies.view.name)


def _answer(
    sock: socket.socket,
    replies: LinkReplies[int],
    data: bytes,
    counters: HotCounters,
    reports: _Reports,
    *,
    guard: ResumeGuard,
    stamp: float | None,
) -> None:
    """The hot path proper, for either mode: answer one frame or count why not, and report
    another host announcing one of our addresses."""
    if stamp is not None:
        refused = guard.refuse(time.time() - stamp, time.monotonic())
    else:
        refused = DropReason.RESUMING if guard.holding(time.monotonic()) else None
    if refused is not None:
        counters.dropped[refused] += 1
        return
    reports.seen(replies, data)
    result = replies.answer(data)
    if isinstance(result, DropReason):
        counters.dropped[result] += 1
        return
    reply, slot = result
    counters.requests[slot] += 1
    try:
        sock.send(reply)
    except OSError:
        counters.dropped[DropReason.SEND_FAILED] += 1
        return
    counters.responses[slot] += 1


class _LinkThread:
    """Answers what arrives on one link's socket, in a thread of its own."""

    def __init__(
        self,
        sock: socket.socket,
        view: InterfaceView,
        installed: _Installed,
        metrics: L2Metrics,
        priority: int,
        *,
        resume: ResumeGuard,
        report: Callable[[IPAddress, bytes, str], None],
    ) -> None:
        self._sock = sock
        self._resume = resume
        self._reports = _Reports(report)
        self._index = view.index
        self._name = view.name
        self._installed = installed
        self._metrics = metrics
        self._counters = metrics.hot_counters()
        self._priority = priority
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=f"l2-{view.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Answer nothing more; the thread exits at its next wake-up (at most STOP_CHECK)."""
        self._stopped = True

    def _run(self) -> None:
        try:
            self._serve(self._enter_realtime())
        finally:
            self._metrics.retire(self._counters)

    def _serve(self, guard: FloodGuard | None) -> None:
        sock, index, installed, counters = self._sock, self._index, self._installed, self._counters
        resume = self._resume
        monotonic = time.monotonic
        while True:
            try:
                data, stamp = recv_stamped(sock)
            except BlockingIOError:  # STOP_CHECK passed without a frame
                if self._stopped:
                    return
                continue
            except OSError as err:
                if self._stopped or err.errno == errno.EBADF:
                    return
                # ENETDOWN is reported once when the link goes down; anything else is
                # unexpected: never spin on it at real-time priority.
                log.log(
                    logging.DEBUG if err.errno == errno.ENETDOWN else logging.WARNING,
                    "reading on %s: %s",
                    self._name,
                    err,
                )
                if err.errno != errno.ENETDOWN:
                    time.sleep(0.1)
                continue
            if self._stopped:
                return
            replies = installed.table.links.get(index)
            try:
                if replies is not None:
                    _answer(sock, replies, data, counters, self._reports, guard=resume, stamp=stamp)
            except Exception:  # a bug must not silence the link: log it and keep answering
                log.exception("%s: answering %s", self._name, data.hex())
            if guard is not None:
                realtime = guard.observe(monotonic(), 1)
                if realtime is not None and not self._switch(realtime, guard):
                    guard = None

    def _enter_realtime(self) -> FloodGuard | None:
        if not self._priority:
            return None
        try:
            enter_realtime(self._priority)
        except OSError as err:  # PermissionError without CAP_SYS_NICE
            log.warning(
                "%s: cannot answer at real-time priority (%s; it needs CAP_SYS_NICE): "
                "answering at normal priority, so reply latency follows the machine's load",
                self._name,
                err,
            )
            return None
        log.info("%s: answering at SCHED_FIFO priority %d", self._name, self._priority)
        return FloodGuard()

    def _switch(self, realtime: bool, guard: FloodGuard) -> bool:
        """Follow the guard; False if the priority could not be changed (then it stays)."""
        try:
            if realtime:
                enter_realtime(self._priority)
            else:
                leave_realtime()
        except OSError as err:
            log.warning("%s: cannot change priority (%s); keeping it", self._name, err)
            return False
        if realtime:
            log.info("%s: load back under the limit, real-time priority again", self._name)
        else:
            log.warning(
                "%s: more than %d frames in %g s, answering at normal priority until the "
                "load falls",
                self._name,
                guard.limit,
                guard.window,
            )
        return True


class _ResumeWatch:
    """Beats into the `ResumeGuard` every tick, in a thread of its own (at the link threads'
    real-time priority when allowed, so load does not delay its beats into a false freeze)."""

    def __init__(self, guard: ResumeGuard, priority: int) -> None:
        self._guard = guard
        self._priority = priority
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="l2-resume-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._guard.stop()

    def _run(self) -> None:
        if self._priority:
            with contextlib.suppress(OSError):  # the link threads say why (no CAP_SYS_NICE)
                enter_realtime(self._priority)
        guard, tick = self._guard, self._guard.timing.tick
        while not self._stopped.wait(tick):
            gap = guard.beat(time.monotonic())
            if gap is not None:
                log.warning(
                    "resumed after %.3f s without running (frozen?): answers held until the "
                    "node role confirms the announcements, or %g s",
                    gap,
                    guard.timing.hold_max,
                )


@dataclass
class _Responder:
    """An open socket, the view it was opened for, and its thread (owned by the loop)."""

    sock: socket.socket
    view: InterfaceView
    thread: _LinkThread | None = field(default=None)


class Engine:
    def __init__(
        self,
        exclude: re.Pattern[str] | None,
        metrics: L2Metrics,
        hot_path: str = "thread",
        priority: int = DEFAULT_PRIORITY,
        resume: ResumeTiming = DEFAULT_RESUME_TIMING,
    ) -> None:
        if hot_path not in HOT_PATHS:
            raise ValueError(f"hot path {hot_path!r}: expected one of {', '.join(HOT_PATHS)}")
        if not 0 <= priority <= 99:
            raise ValueError(f"hot-path priority {priority}: expected 0 (off) or 1-99")
        self.hot_path = hot_path
        self.priority = priority
        self.table = L2Table(exclude)
        self.metrics = metrics
        self._installed = _Installed()
        self._loop_counters: HotCounters | None = None  # loop mode's hot path
        self._responders: dict[int, _Responder] = {}
        self._groups: dict[int, GroupMembership] = {}
        # Links operationally up at the last sync, with their count of carrier returns.
        self._running: dict[int, int] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.resume = ResumeGuard(resume)
        self._watch: _ResumeWatch | None = None
        # Called on the loop when another host announces one of our addresses (the service
        # publishes it to the watchers): (address, its MAC, the interface's name).
        self.on_announced_elsewhere: Callable[[IPAddress, bytes, str], None] | None = None
        self._loop_reports = _Reports(self._announced_elsewhere)

    def start(self) -> None:
        check_raw_sockets()
        self._loop = asyncio.get_running_loop()
        self._watch = _ResumeWatch(self.resume, self.priority)
        if self.hot_path == "loop":
            self._loop_counters = self.metrics.hot_counters()
        else:
            sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))

    def close(self) -> None:
        if self._watch is not None:
            self._watch.stop()
            self._watch = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for index in list(self._responders):
            self._close_responder(index)
        self._installed.table = _NOTHING
        for membership in self._groups.values():
            membership.close()
        self._groups.clear()
        if self._loop_counters is not None:
            self.metrics.retire(self._loop_counters)
            self._loop_counters = None

    # --- commands (run by the state owner) ---

    def set_announcements(self, specs: Sequence[AnnouncementSpec]) -> SetResult:
        result = self.table.set_announcements(specs, self._now())
        self.resume.confirmed(time.monotonic())  # the node role says what we announce now
        if result.announced or result.withdrawn or result.updated:
            # A caller re-sending the same set (every reconcile) costs the loop, and so the
            # link threads waiting for the GIL, no table rebuild.
            self._sync()
            self._send_due()
        return result

    def apply_links(self, links: Sequence[Link]) -> list[Event]:
        events = self.table.set_links(links)
        self._sync()
        return events

    # --- keeping sockets and groups in line with the table ---

    def _now(self) -> float:
        assert self._loop is not None, "engine not started"
        return self._loop.time()

    def _sync(self) -> None:
        snapshot = self.table.snapshot()
        for index in list(self._responders):
            view = snapshot.views.get(index)
            old = self._responders[index].view
            if view is None or (view.name, view.arp, view.ndp) != (old.name, old.arp, old.ndp):
                self._close_responder(index)
        opened: list[_Responder] = []
        wait = STOP_CHECK if self.hot_path == "thread" else None
        for index, view in snapshot.views.items():
            responder = self._responders.get(index)
            if responder is not None:
                responder.view = view
                continue
            try:
                sock = open_responder(view.name, view.arp, view.ndp, wait=wait)
            except PermissionError:
                raise
            except OSError as err:  # gone meanwhile; the next netlink event re-syncs
                log.warning("cannot open a raw socket on %s: %s", view.name, err)
                continue
            responder = self._responders[index] = _Responder(sock, view)
            opened.append(responder)
            log.info("answering %s on %s", "/".join(_protocols(view)), view.name)
        # Installed before any new socket is read, so every frame finds its link's answers.
        self._installed.table = build_replies(snapshot.views, snapshot.announced, self.metrics.slot)
        for responder in opened:
            if self.hot_path == "thread":
                responder.thread = _LinkThread(
                    responder.sock,
                    responder.view,
                    self._installed,
                    self.metrics,
                    self.priority,
                    resume=self.resume,
                    report=self._announced_elsewhere_threadsafe,
                )
            else:
                assert self._loop is not None
                self._loop.add_reader(responder.sock.fileno(), self._on_ready, responder)
        wanted = self.table.groups()
        for index in list(self._groups):
            if index not in wanted:
                self._groups.pop(index).close()
        for index, groups in wanted.items():
            membership = self._groups.get(index)
            if membership is None:
                membership = self._groups[index] = GroupMembership(index)
            try:
                membership.set(groups)
            except OSError as err:
                log.warning("cannot join solicited-node groups on link %d: %s", index, err)
        links = (state.link for state in self.table.interfaces())
        back, self._running = carrier_returns(links, self._running)
        if self._loop is not None:
            for index in back:  # (or seen for the first time: nothing held yet, nothing sent)
                for delay in REPORT_AGAIN:
                    self._loop.call_later(delay, self._report_again, index)

    def _report_again(self, index: int) -> None:
        membership = self._groups.get(index)
        if membership is None:  # not an NDP link (any more), or the engine closed
            return
        try:
            membership.report_again()
        except OSError as err:
            log.warning("cannot report solicited-node groups on link %d: %s", index, err)

    def _close_responder(self, index: int) -> None:
        responder = self._responders.pop(index)
        if responder.thread is not None:
            # Its recv may still be blocked on the socket; once it returns, the thread sees
            # it was stopped, and the closed socket object never reads a reused descriptor.
            responder.thread.stop()
        elif self._loop is not None:
            self._loop.remove_reader(responder.sock.fileno())
        responder.sock.close()

    # --- loop mode's hot path ---

    def _on_ready(self, responder: _Responder) -> None:
        sock, counters = responder.sock, self._loop_counters
        assert counters is not None
        for _ in range(READ_BATCH):
            try:
                data, stamp = recv_stamped(sock)
            except BlockingIOError:
                return
            except OSError as err:  # e.g. ENETDOWN while the link goes down
                log.debug("reading on %s: %s", responder.view.name, err)
                return
            replies = self._installed.table.links.get(responder.view.index)
            if replies is not None:
                _answer(
                    sock,
                    replies,
                    data,
                    counters,
                    self._loop_reports,
                    guard=self.resume,
                    stamp=stamp,
                )

    # --- another host announcing one of our addresses ---

    def _announced_elsewhere_threadsafe(self, ip: IPAddress, mac: bytes, link: str) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._announced_elsewhere, ip, mac, link)

    def _announced_elsewhere(self, ip: IPAddress, mac: bytes, link: str) -> None:
        if not any(ip in r.announced for r in self._installed.table.links.values()):
            return  # withdrawn meanwhile
        log.info("%s announced by %s on %s", ip, format_mac(mac), link)
        if self.on_announced_elsewhere is not None:
            self.on_announced_elsewhere(ip, mac, link)

    # --- gratuitous rounds ---

    def _send_due(self) -> None:
        if self._timer is not None:  # called directly by a command: re-arm below
            self._timer.cancel()
            self._timer = None
        held = self.resume.holding(time.monotonic())  # frozen: the set may be out of date
        for view, ip, frames in self.table.gratuitous_due(self._now()):
            responder = self._responders.get(view.index)
            if responder is None or held:
                continue
            for frame in frames:
                try:  # the thread's socket blocks on recv; this send must not
                    responder.sock.send(frame, socket.MSG_DONTWAIT)
                except OSError as err:
                    log.warning("gratuitous for %s on %s: %s", ip, view.name, err)
                    continue
                self.metrics.gratuitous[self.metrics.slot(ip)] += 1
        deadline = self.table.schedule.next_deadline()
        if deadline is not None:
            assert self._loop is not None
            self._timer = self._loop.call_at(deadline, self._send_due)


def _protocols(view: InterfaceView) -> list[str]:
    return [name for name, on in (("ARP", view.arp), ("NDP", view.ndp)) if on]
