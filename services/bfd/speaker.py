"""The asyncio adapter: BFD sessions on a few sockets and one timer.

Theory of operation
-------------------
`Speaker` moves bytes between the kernel and the sans-I/O `SessionTable` and does nothing else
(STYLE.md §1, the aioquic shape). Everything runs as plain callbacks on the event loop — there is
no task per session and none per packet:

* reception: one socket per (family, port, VRF) (`sockets.py`), watched with `loop.add_reader`.
  A readable socket is drained with `recvmsg` in a bounded batch; every datagram goes to the
  table with its TTL and arrival interface, then the packets now due are sent and the timer is
  re-armed once for the whole batch;
* transmission: a small pool of sending sockets shared by the sessions with the same local
  address, device and hop mode;
* time: ONE `loop.call_at` handle, armed at the table's earliest deadline. When it fires, every
  session due is handled in one pass (`SessionTable.handle_timer`), and the handle is re-armed.
  A handle armed earlier than needed is left alone: it fires, finds nothing due, and re-arms.
* bounded turns: after a stall of the process (a busy machine) the sockets hold hundreds of
  packets and every session's transmission is overdue. The timer callback first reads what is
  queued — a packet waiting in the socket arrived in time, so no session may be declared down
  before it is read — but at most `DRAIN_BUDGET` datagrams per socket per turn: then it sends
  what is due and lets the loop run. While a socket still has a backlog, detection timers wait
  (the heap keeps them due, so the timer fires again in the next turn); only if the backlog
  outlasts `BACKLOG_GRACE` (a flood we cannot keep up with) do they fire regardless. Reading
  thousands of packets before sending any once kept every peer without news from us for
  longer than its detection time.

Events (state changes, Poll Sequence ends, drops) leave through the `on_events` callback in the
same loop iteration that produced them, so a watcher learns of a Down within a millisecond.
The speaker is driven only from the event loop's thread, by synchronous calls: no await splits
a change to the table.

Echo (RFC 5880 §6.4, RFC 5881 §4). For an IPv4 session with an interface and a local address,
our echo payloads go through the peer's forwarding plane, as FRR's bfdd expects: a frame to the
peer's MAC, addressed from and to ourselves (`sockets.ForwardingEcho`), which the peer's kernel
routes back to our UDP echo port. Otherwise (IPv6, no interface) they go to the peer's UDP port
3785 with TTL 255, for a peer that loops them in software as we do: a datagram on our echo port
that is not our own and arrived with TTL 255 is a peer's echo, and we send it straight back to
its source with TTL 254, never reflecting anything with a lower TTL, so two reflectors cannot
bounce a packet forever. Looping a peer's forwarding-plane echoes is the host's job
(`net.ipv4.ip_forward`), not ours.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from services.bfd.core.drop import DropReason
from services.bfd.core.events import PacketDropped, SessionFinished
from services.bfd.core.session import Session, SessionParams
from services.bfd.core.table import KeyedEvent, SessionKey, SessionTable
from services.bfd.model import SessionExistsError, SessionNotFoundError, SessionSpec
from services.bfd.sockets import (
    ANCILLARY_SIZE,
    ForwardingEcho,
    close_quietly,
    open_receive_socket,
    open_send_socket,
    parse_ancillary,
    set_ttl,
    source_address,
)

__all__ = ["DEFAULT_PORTS", "Ports", "Speaker"]

log = logging.getLogger(__name__)

IPAddress = IPv4Address | IPv6Address
RECV_BATCH = 64  # datagrams read per readable callback before yielding to the loop
DRAIN_BUDGET = 256  # datagrams read per socket by one timer callback (~10 ms of work)
BACKLOG_GRACE = 0.2  # seconds detection may wait for a socket's backlog to be read
RECV_BUFFER = 512  # larger than any BFD packet (24 + 28 bytes); bigger ones are dropped
ECHO_REFLECT_TTL = 254
_TTL = struct.Struct("=i")
_ZERO_DISCRIMINATOR = bytes(4)


@dataclass(frozen=True, slots=True)
class Ports:
    """UDP ports: RFC 5881 §4 single hop, RFC 5883 §5 multihop, RFC 5881 §4 echo."""

    single_hop: int = 3784
    multihop: int = 4784
    echo: int = 3785


DEFAULT_PORTS = Ports()


@dataclass(slots=True)
class _Route:
    """Where a session's datagrams go, and through which socket."""

    sock: socket.socket
    destination: tuple[str, int] | tuple[str, int, int, int]
    echo_destination: tuple[str, int] | tuple[str, int, int, int]
    echo_key: tuple[int, str] | None
    forwarding: ForwardingEcho | None = None  # IPv4 echo through the peer's forwarding plane

    def close(self) -> None:
        if self.forwarding is not None:
            self.forwarding.close()
            self.forwarding = None


class Speaker:
    """All BFD sessions of this process. See the module docstring."""

    def __init__(
        self,
        on_events: Callable[[list[KeyedEvent]], None],
        *,
        ports: Ports = DEFAULT_PORTS,
        peer_ports: Ports | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._on_events = on_events
        self._ports = ports
        self._peer_ports = peer_ports or ports
        self._rng = rng if rng is not None else random.SystemRandom()
        self.table = SessionTable(random.Random(self._rng.getrandbits(64)))
        self.specs: dict[SessionKey, SessionSpec] = {}  # configured sessions (not the deleted)
        self._routes: dict[SessionKey, _Route] = {}  # also for deleted ones sending AdminDown
        self._rx: dict[tuple[int, bool, str], socket.socket] = {}  # (version, multihop, vrf)
        self._echo: dict[tuple[int, str], socket.socket] = {}  # (version, vrf)
        self._tx: dict[tuple[int, IPAddress | None, str, bool], socket.socket] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._backlog_since: float | None = None  # first timer turn that left packets unread
        self._ifnames: dict[int, str] = {}
        self._addresses: dict[str, IPAddress] = {}  # recvmsg's source text, parsed once
        self.drops: dict[DropReason, int] = {}
        self.send_errors = 0
        self.echo_reflected = 0
        self.closed = False

    # ------------------------------------------------------------------ configuration

    def now(self) -> float:
        return self._loop.time()

    def session(self, key: SessionKey) -> Session:
        session = self.table.get(key)
        if key not in self.specs or session is None:
            raise SessionNotFoundError(f"no BFD session for {_describe(key)}", "key")
        return session

    def add(self, spec: SessionSpec) -> Session:
        """Start a session; it transmits at once unless passive or administratively down."""
        key = spec.key
        if key in self.specs:
            raise SessionExistsError(f"BFD session for {_describe(key)} already exists", "session")
        if key in self.table:
            self.table.forget(key)  # still saying AdminDown after a delete: start afresh
        route = self._route(spec)
        if (previous := self._routes.get(key)) is not None:
            previous.close()
        now = self.now()
        session = self.table.add(
            key, SessionParams.from_profile(spec.profile), now, multihop=spec.multihop
        )
        self.specs[key] = spec
        self._routes[key] = route
        events = self.table.admin_down(key, now) if spec.admin_down else []
        self._after(events, now)
        return session

    def update(self, spec: SessionSpec) -> list[KeyedEvent]:
        """New profile or administrative state; interval changes run a Poll Sequence."""
        key = spec.key
        old = self.specs.get(key)
        if old is None:
            raise SessionNotFoundError(f"no BFD session for {_describe(key)}", "session")
        now = self.now()
        events: list[KeyedEvent] = []
        if spec.profile != old.profile:
            if spec.profile.echo_mode and not old.profile.echo_mode and not spec.multihop:
                self._enable_echo(spec, self._routes[key])
            events += self.table.update(key, SessionParams.from_profile(spec.profile), now)
        if spec.admin_down and not old.admin_down:
            events += self.table.admin_down(key, now)
        elif old.admin_down and not spec.admin_down:
            events += self.table.admin_up(key, now)
        self.specs[key] = spec
        self._after(events, now)
        return events

    def remove(self, key: SessionKey) -> list[KeyedEvent]:
        """Delete: AdminDown for a few detection times (RFC 5880 §6.8.16), then silence."""
        if self.specs.pop(key, None) is None:
            raise SessionNotFoundError(f"no BFD session for {_describe(key)}", "key")
        now = self.now()
        events = self.table.remove(key, now)
        self._after(events, now)
        return events

    def close(self) -> None:
        """Tell every peer AdminDown once (best effort), then release sockets and the timer."""
        if self.closed:
            return
        now = self.now()
        for key in list(self.specs):
            self.table.admin_down(key, now)
        self._send_due(now)
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for sock in [*self._rx.values(), *self._echo.values()]:
            self._loop.remove_reader(sock.fileno())
        for sock in [*self._rx.values(), *self._echo.values(), *self._tx.values()]:
            close_quietly(sock)
        for route in self._routes.values():
            route.close()
        self._rx.clear()
        self._echo.clear()
        self._tx.clear()

    # ------------------------------------------------------------------ sockets

    def _route(self, spec: SessionSpec) -> _Route:
        version = spec.peer.version
        self._receive_socket(version, spec.multihop, spec.vrf)
        tx_key = (version, spec.local, spec.device, spec.multihop)
        sock = self._tx.get(tx_key)
        if sock is None:
            sock = open_send_socket(spec.local, version, spec.device, self._rng)
            self._tx[tx_key] = sock
        port = self._peer_ports.multihop if spec.multihop else self._peer_ports.single_hop
        route = _Route(
            sock,
            self._destination(spec, port),
            self._destination(spec, self._peer_ports.echo),
            None,
        )
        if spec.profile.echo_mode and not spec.multihop:
            self._enable_echo(spec, route)
        return route

    def _enable_echo(self, spec: SessionSpec, route: _Route) -> None:
        """Echo reception (and reflection) socket; for IPv4 on a known link, the raw sender."""
        route.echo_key = self._echo_socket(spec)
        if (
            route.forwarding is None
            and isinstance(spec.peer, IPv4Address)
            and isinstance(spec.local, IPv4Address)
            and spec.interface
        ):
            try:
                route.forwarding = ForwardingEcho(
                    spec.interface,
                    spec.local,
                    spec.peer,
                    route.sock.getsockname()[1],
                    self._peer_ports.echo,
                )
            except OSError as err:
                log.warning("BFD echo to %s falls back to UDP: %s", spec.peer, err)

    def _destination(
        self, spec: SessionSpec, port: int
    ) -> tuple[str, int] | tuple[str, int, int, int]:
        if isinstance(spec.peer, IPv6Address):
            scope = 0
            if spec.peer.is_link_local and spec.interface:
                scope = socket.if_nametoindex(spec.interface)
            return (str(spec.peer), port, 0, scope)
        return (str(spec.peer), port)

    def _receive_socket(self, version: int, multihop: bool, vrf: str) -> None:
        key = (version, multihop, vrf)
        if key in self._rx:
            return
        port = self._ports.multihop if multihop else self._ports.single_hop
        sock = open_receive_socket(version, port, vrf)
        self._rx[key] = sock
        self._loop.add_reader(sock.fileno(), self._on_control, sock, multihop, vrf)

    def _echo_socket(self, spec: SessionSpec) -> tuple[int, str]:
        key = (spec.peer.version, spec.vrf)
        if key not in self._echo:
            sock = open_receive_socket(spec.peer.version, self._ports.echo, spec.vrf)
            set_ttl(sock, spec.peer.version, 255)  # our echoes leave with 255, reflections 254
            self._echo[key] = sock
            self._loop.add_reader(sock.fileno(), self._on_echo, sock)
        return key

    def _ifname(self, ifindex: int) -> str:
        name = self._ifnames.get(ifindex)
        if name is None:
            try:
                name = socket.if_indextoname(ifindex)
            except OSError:
                return ""
            self._ifnames[ifindex] = name
        return name

    def _device_for(self, peer: IPAddress, ifindex: int, vrf: str, multihop: bool) -> str:
        """The SessionKey device a Your-Discriminator-zero packet is looked up with (§6.8.6)."""
        if multihop:
            return vrf
        name = self._ifname(ifindex)
        for device in (name, vrf, ""):
            if SessionKey(peer, device) in self.table:
                return device
        return name

    # ------------------------------------------------------------------ reception

    def _on_control(self, sock: socket.socket, multihop: bool, vrf: str) -> None:
        now = self.now()
        events: list[KeyedEvent] = []
        self._read_control(sock, multihop, vrf, now, limit=RECV_BATCH, into=events)
        self._after(events, now)

    def _read_control(
        self,
        sock: socket.socket,
        multihop: bool,
        vrf: str,
        now: float,
        *,
        limit: int,
        into: list[KeyedEvent],
    ) -> bool:
        """Read up to `limit` datagrams, their events into `into`; True if the socket is empty."""
        for _ in range(limit):
            try:
                data, ancillary, flags, addr = sock.recvmsg(RECV_BUFFER, ANCILLARY_SIZE)
            except BlockingIOError:
                return True
            except OSError as err:
                log.warning("BFD receive failed: %s", err)
                return True
            if flags & socket.MSG_TRUNC:
                continue  # longer than any BFD packet
            ttl, _destination, ifindex = parse_ancillary(ancillary)
            peer = self._addresses.get(addr[0])
            if peer is None:
                peer = self._addresses[addr[0]] = source_address(addr)
                if len(self._addresses) > 4096:  # spoofed sources must not grow it forever
                    self._addresses.clear()
            # Only a zero Your Discriminator (bytes 8-11) selects the session by address and
            # device (RFC 5880 §6.8.6); otherwise the device lookup is wasted work.
            device = (
                self._device_for(peer, ifindex, vrf, multihop)
                if data[8:12] == _ZERO_DISCRIMINATOR
                else ""
            )
            into += self.table.receive_packet(data, ttl, peer, device, now, multihop=multihop)
        return False

    def _on_echo(self, sock: socket.socket) -> None:
        now = self.now()
        events: list[KeyedEvent] = []
        for _ in range(RECV_BATCH):
            try:
                data, ancillary, _flags, addr = sock.recvmsg(RECV_BUFFER, ANCILLARY_SIZE)
            except BlockingIOError:
                break
            except OSError as err:
                log.warning("BFD echo receive failed: %s", err)
                break
            ttl, _destination, _ifindex = parse_ancillary(ancillary)
            result = self.table.receive_echo(data, now)
            if not isinstance(result, DropReason):
                events += result
            elif ttl == 255:
                self._reflect(sock, data, addr)  # a peer's echo: loop it back (RFC 5880 §6.4)
            else:
                self._count_drop(result)
        self._after(events, now)

    def _reflect(self, sock: socket.socket, data: bytes, addr: tuple[str, int]) -> None:
        level, kind = (
            (socket.IPPROTO_IP, socket.IP_TTL)
            if sock.family == socket.AF_INET
            else (socket.IPPROTO_IPV6, socket.IPV6_HOPLIMIT)
        )
        try:
            sock.sendmsg([data], [(level, kind, _TTL.pack(ECHO_REFLECT_TTL))], 0, addr)
        except OSError:
            self.send_errors += 1
            return
        self.echo_reflected += 1

    # ------------------------------------------------------------------ output and timer

    def _count_drop(self, reason: DropReason) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + 1

    def _after(self, events: list[KeyedEvent], now: float) -> None:
        if self.closed:
            return
        self._send_due(now)
        if events:
            for item in events:
                event = item.event
                if isinstance(event, PacketDropped):
                    self._count_drop(event.reason)
                elif isinstance(event, SessionFinished) and item.key not in self.specs:
                    route = self._routes.pop(item.key, None)
                    if route is not None:
                        route.close()
            self._on_events(events)
        self._arm()

    def _send_due(self, now: float) -> None:
        for out in self.table.datagrams_to_send(now):
            route = self._routes.get(out.key)
            if route is None:
                continue
            try:
                if out.echo:
                    if route.forwarding is not None and route.forwarding.send(out.data, now):
                        continue
                    if route.echo_key is None or route.echo_key not in self._echo:
                        continue
                    self._echo[route.echo_key].sendto(out.data, route.echo_destination)
                else:
                    route.sock.sendto(out.data, route.destination)
            except OSError:
                # Link down, no route, buffer full: the peer's detection timer decides.
                self.send_errors += 1

    def _arm(self) -> None:
        deadline = self.table.next_timer()
        if deadline is None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = self._timer_at = None
            return
        if self._timer is not None and self._timer_at is not None:
            if self._timer_at <= deadline:
                return  # fires first, then re-arms
            self._timer.cancel()
        self._timer = self._loop.call_at(deadline, self._on_timer)
        self._timer_at = deadline

    def _on_timer(self) -> None:
        self._timer = self._timer_at = None
        now = self.now()
        # A packet already queued in a socket arrived before `now`: read what is pending first,
        # so a busy loop does not declare a session down whose packets are waiting — but a
        # bounded amount per turn, then send (see "bounded turns" in the module docstring).
        events: list[KeyedEvent] = []
        drained = True
        for (_version, multihop, vrf), sock in self._rx.items():
            if not self._read_control(sock, multihop, vrf, now, limit=DRAIN_BUDGET, into=events):
                drained = False
        if drained:
            self._backlog_since = None
        elif self._backlog_since is None:
            self._backlog_since = now
        detect = self._backlog_since is None or now - self._backlog_since >= BACKLOG_GRACE
        events += self.table.handle_timer(now, detect=detect)
        self._after(events, now)


def _describe(key: SessionKey) -> str:
    return f"peer {key.peer}" + (f" on {key.interface}" if key.interface else "")
