"""The L2 adapter: raw sockets, solicited-node groups and gratuitous timers around `L2Table`.

Mutations (`set_announcements`, `apply_links`) are submitted by the service to its state-owner
task; each ends by re-syncing sockets and groups to the table and installing a fresh immutable
`ResponderSnapshot` (one attribute assignment). The gratuitous timer callback runs on the loop
too and only advances the schedule and sends; none of these await, so none interleaves with
another.

The hot path (read a frame, `decide`, write the reply) only reads the installed snapshot and
the responder's view and bumps counters, so it can run anywhere. By default it runs in one
dedicated thread (epoll over the sockets); `hot_path="loop"` runs it as event-loop reader
callbacks instead. docs/l2.md records the measurements that chose the thread: the same
throughput within this machine's noise, and a reply latency that met the target where the
loop's did not.
"""

import asyncio
import contextlib
import logging
import os
import re
import select
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from services.l2.core.drop import DropReason, FrameDecodeError
from services.l2.core.frames import decode_frame
from services.l2.core.interfaces import Link
from services.l2.core.responder import InterfaceView, Reply, decide
from services.l2.core.table import AnnouncementSpec, Event, L2Table, SetResult
from services.l2.metrics import L2Metrics
from services.l2.rawsock import GroupMembership, check_raw_sockets, open_responder

log = logging.getLogger(__name__)

# Frames read per readiness callback before yielding to other callbacks (gRPC, timers).
READ_BATCH = 64
# Where the sockets are read: a dedicated thread (the default, see docs/l2.md) or the loop.
HOT_PATHS = ("thread", "loop")


@dataclass
class _Responder:
    sock: socket.socket
    view: InterfaceView


class _HotPathThread:
    """Reads the responder sockets in a dedicated thread: epoll over their descriptors, plus a
    pipe that tells it to stop. The loop thread adds and removes sockets; the thread only reads
    the current fd -> responder map, which is replaced (never mutated) on each change."""

    def __init__(self, on_readable: Callable[["_Responder"], None]) -> None:
        self._on_readable = on_readable
        self._epoll = select.epoll()
        self._by_fd: dict[int, _Responder] = {}
        self._wake_r, self._wake_w = os.pipe()
        self._epoll.register(self._wake_r, select.EPOLLIN)
        self._thread = threading.Thread(target=self._run, name="l2-hot-path", daemon=True)
        self._thread.start()

    def add(self, responder: "_Responder") -> None:
        fd = responder.sock.fileno()
        self._by_fd = {**self._by_fd, fd: responder}
        self._epoll.register(fd, select.EPOLLIN)

    def remove(self, responder: "_Responder") -> None:
        fd = responder.sock.fileno()
        with contextlib.suppress(OSError):
            self._epoll.unregister(fd)
        self._by_fd = {k: v for k, v in self._by_fd.items() if k != fd}

    def _run(self) -> None:
        while True:
            for fd, _ in self._epoll.poll():
                if fd == self._wake_r:
                    return
                responder = self._by_fd.get(fd)
                if responder is not None:
                    self._on_readable(responder)

    def close(self) -> None:
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)
        self._epoll.close()
        os.close(self._wake_r)
        os.close(self._wake_w)


class Engine:
    def __init__(
        self, exclude: re.Pattern[str] | None, metrics: L2Metrics, hot_path: str = "thread"
    ) -> None:
        if hot_path not in HOT_PATHS:
            raise ValueError(f"hot path {hot_path!r}: expected one of {', '.join(HOT_PATHS)}")
        self.hot_path = hot_path
        self._thread: _HotPathThread | None = None
        self.table = L2Table(exclude)
        self.metrics = metrics
        self._snapshot = self.table.snapshot()
        self._responders: dict[int, _Responder] = {}
        self._groups: dict[int, GroupMembership] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        check_raw_sockets()
        self._loop = asyncio.get_running_loop()
        if self.hot_path == "thread":
            self._thread = _HotPathThread(self._on_readable)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for index in list(self._responders):
            self._close_responder(index)
        for membership in self._groups.values():
            membership.close()
        self._groups.clear()
        if self._thread is not None:
            self._thread.close()
            self._thread = None

    # --- commands (run by the state owner) ---

    def set_announcements(self, specs: Sequence[AnnouncementSpec]) -> SetResult:
        result = self.table.set_announcements(specs, self._now())
        for ip in result.announced:
            self.metrics.ip(ip)  # created here, so the hot-path thread only ever reads the map
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
        for index, view in snapshot.views.items():
            responder = self._responders.get(index)
            if responder is not None:
                responder.view = view
                continue
            try:
                sock = open_responder(view.name, view.arp, view.ndp)
            except PermissionError:
                raise
            except OSError as err:  # gone meanwhile; the next netlink event re-syncs
                log.warning("cannot open a raw socket on %s: %s", view.name, err)
                continue
            responder = self._responders[index] = _Responder(sock, view)
            if self._thread is not None:
                self._thread.add(responder)
            else:
                assert self._loop is not None
                self._loop.add_reader(sock.fileno(), self._on_readable, responder)
            log.info("answering %s on %s", "/".join(_protocols(view)), view.name)
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
        self._snapshot = snapshot

    def _close_responder(self, index: int) -> None:
        responder = self._responders.pop(index)
        if self._thread is not None:
            self._thread.remove(responder)
        elif self._loop is not None:
            self._loop.remove_reader(responder.sock.fileno())
        responder.sock.close()

    # --- the hot path ---

    def _on_readable(self, responder: _Responder) -> None:
        sock = responder.sock
        for _ in range(READ_BATCH):
            try:
                data = sock.recv(2048)
            except BlockingIOError:
                return
            except OSError as err:  # e.g. ENETDOWN while the link goes down
                log.debug("reading on %s: %s", responder.view.name, err)
                return
            self._handle(responder, data)

    def _handle(self, responder: _Responder, data: bytes) -> None:
        try:
            frame = decode_frame(data)
        except FrameDecodeError as err:
            self.metrics.dropped[err.reason] += 1
            return
        result = decide(frame, responder.view, self._snapshot.announced)
        if not isinstance(result, Reply):
            self.metrics.dropped[result] += 1
            return
        stats = self.metrics.ip(result.ip)
        stats.requests += 1
        try:
            responder.sock.send(result.frame.encode())
        except OSError:
            self.metrics.dropped[DropReason.SEND_FAILED] += 1
            return
        stats.responses += 1

    # --- gratuitous rounds ---

    def _send_due(self) -> None:
        if self._timer is not None:  # called directly by a command: re-arm below
            self._timer.cancel()
            self._timer = None
        for view, ip, frames in self.table.gratuitous_due(self._now()):
            responder = self._responders.get(view.index)
            if responder is None:
                continue
            for frame in frames:
                try:
                    responder.sock.send(frame)
                except OSError as err:
                    log.warning("gratuitous for %s on %s: %s", ip, view.name, err)
                    continue
                self.metrics.ip(ip).gratuitous += 1
        deadline = self.table.schedule.next_deadline()
        if deadline is not None:
            assert self._loop is not None
            self._timer = self._loop.call_at(deadline, self._send_due)


def _protocols(view: InterfaceView) -> list[str]:
    return [name for name, on in (("ARP", view.arp), ("NDP", view.ndp)) if on]
