"""The asyncio adapter: sockets, timers and BFD around the sans-I/O peers of services/bgp/fsm.

Theory of operation (STYLE.md §1, layer 4). Each peer is a `fsm.Peer` plus a `_Driver` that
does what the peer asks after every call: `Connect` opens a socket (MD5, TTL, VRF and source
address set before the SYN, sockets.py), `Send` writes, `Close` closes; one `loop.call_at`
timer is re-armed at `peer.next_deadline()`. Incoming connections arrive on one listening
socket per (address family, port, VRF) that some peer needs and are handed to the peer whose
address they come from. The core's `now` is `loop.time()`.

All of it runs on the event loop's thread: RPC commands reach the speaker through the
service's StateOwner task, protocol callbacks run as loop callbacks, and no call awaits in the
middle of a change, so nothing here needs a lock.

BFD: a peer with a bfdProfile registers a session through the `BfdClient` seam when it is
Established; a Down report tears the session down at once (Cease / BFD Down). The real client is
`bfd_client.GrpcBfdClient` (`metallb-grpc bgp --bfd ADDR`), which decides what counts as Down
(not an AdminDown) and keeps the peer's bfd_status; without one the peer's bfd_status says so
and nothing is ever torn down (an unreachable BFD service must not take sessions down either).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import socket
import struct
import zlib
from collections.abc import Callable, Coroutine, Mapping
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any, Protocol

from services.bgp import sockets
from services.bgp.codec import CeaseSubcode, Family
from services.bgp.codec.prefixes import Prefix
from services.bgp.fsm import Peer, PeerConfig, Reason
from services.bgp.fsm.config import DynamicASN, IPAddress
from services.bgp.fsm.peer import Close, Connect, Send
from services.bgp.fsm.rib import RouteAttrs, families_of, family_of
from services.bgp.unnumbered.links import UnnumberedLinks
from services.bgp.unnumbered.tracker import LinkCounters, LinkEvent, View, session_action

log = logging.getLogger(__name__)

SIOCGIFADDR = 0x8915  # linux/sockios.h
_LINK_REASONS = {
    LinkEvent.LINK_DOWN: (Reason.LINK_DOWN, "link down or without a link-local address"),
    LinkEvent.NEIGHBOR_CHANGED: (Reason.NEIGHBOR_CHANGED, ""),
    LinkEvent.ADDRESS_CHANGED: (Reason.ADDRESS_CHANGED, "our addresses changed"),
}
#: Seconds between two log lines about a peer's malformed attributes (RFC 7606).
ISSUE_LOG_INTERVAL = 60.0


class BfdClient(Protocol):
    """The seam to the BFD service (`metallb.bfd.v1`); see bfd_client.GrpcBfdClient.

    `register` may raise (the BFD service is unreachable) but the client keeps the session and
    adds it when the service answers; `on_down(reason)` tears the BGP session down; `on_status`
    gets the session's state as text for the peer's bfd_status. `unregister` forgets it.
    """

    async def register(
        self,
        peer: str,
        peer_address: IPAddress,
        local_address: IPAddress,
        profile: str,
        on_down: Callable[[str], None],
        *,
        on_status: Callable[[str], None],
    ) -> None: ...

    async def unregister(self, peer: str) -> None: ...

    async def close(self) -> None: ...


def _addr(value: str) -> IPAddress:
    return ip_address(value.split("%", 1)[0])


def _ipv4_of(name: str) -> IPv4Address | None:
    """The primary IPv4 address of interface `name` (SIOCGIFADDR), if any."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            raw = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
        except OSError:
            return None
    return IPv4Address(raw[20:24])


def _ipv6_entries() -> list[tuple[IPv6Address, int, str]]:
    """(address, scope, interface) from /proc/net/if_inet6."""
    out: list[tuple[IPv6Address, int, str]] = []
    try:
        with open("/proc/net/if_inet6") as f:
            for line in f:
                fields = line.split()
                if len(fields) == 6:
                    out.append((IPv6Address(int(fields[0], 16)), int(fields[3], 16), fields[5]))
    except OSError:
        pass
    return out


def interface_addresses(local: IPAddress) -> list[IPAddress]:
    """Global addresses on the interface that holds `local` (empty if it cannot be found)."""
    v6 = _ipv6_entries()
    if isinstance(local, IPv6Address):
        name = next((n for a, _, n in v6 if a == local), None)
    else:
        name = next((n for _, n in socket.if_nameindex() if _ipv4_of(n) == local), None)
    if name is None:
        return []
    out: list[IPAddress] = []
    v4 = _ipv4_of(name)
    if v4 is not None:
        out.append(v4)
    out += [a for a, scope, n in v6 if n == name and scope == 0]
    return out


class _Driver:
    """Runs one peer's actions and timer on the event loop."""

    def __init__(self, speaker: Speaker, peer: Peer) -> None:
        self.speaker = speaker
        self.peer = peer
        self.loop = asyncio.get_running_loop()
        self.transports: dict[int, asyncio.Transport] = {}
        self.connecting: dict[int, asyncio.Task[None]] = {}
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at: float | None = None
        self.bfd_status = "" if not peer.config.bfd_profile else "not registered"
        self.bfd_registered = False
        self.issues_logged = 0  # RFC 7606 issues already reported in the log
        self.issues_logged_at: float | None = None
        self.limit_logged = False
        #: An unnumbered peer's link: its learned neighbour and the interface's index.
        self.view = View()
        self.neighbour: IPv6Address | None = None
        self.scope_id = 0

    @property
    def name(self) -> str:
        return self.peer.config.name

    def remote(self) -> IPAddress | None:
        """The address to connect to: the configured one, or the learned neighbour."""
        return self.peer.config.peer_address or self.neighbour

    def now(self) -> float:
        return self.loop.time()

    def ttl(self) -> int:
        cfg = self.peer.config
        if cfg.gtsm:
            return sockets.GTSM_TTL  # RFC 5082 §3
        internal = cfg.dynamic_asn is DynamicASN.INTERNAL or (
            cfg.dynamic_asn is DynamicASN.NONE and cfg.peer_asn == cfg.local_as
        )
        return 255 if internal or cfg.ebgp_multihop else 1

    def min_ttl(self) -> int:
        """RFC 5082: with gtsm only a directly connected sender's segments are accepted."""
        return sockets.GTSM_TTL if self.peer.config.gtsm else 0

    def flush(self) -> None:
        for action in self.peer.take_actions():
            if isinstance(action, Send):
                transport = self.transports.get(action.conn)
                if transport is not None and not transport.is_closing():
                    transport.write(action.data)
            elif isinstance(action, Close):
                task = self.connecting.pop(action.conn, None)
                if task is not None:
                    task.cancel()
                transport = self.transports.pop(action.conn, None)
                if transport is not None:
                    transport.close()
            elif isinstance(action, Connect):
                self.connecting[action.conn] = self.loop.create_task(
                    self._connect(action.conn), name=f"bgp-connect-{self.name}"
                )
        deadline = self.peer.next_deadline()
        if deadline != self.timer_at:
            if self.timer is not None:
                self.timer.cancel()
            self.timer = self.loop.call_at(deadline, self._fire) if deadline is not None else None
            self.timer_at = deadline
        if self.peer.take_changed():
            if self.peer.config.unnumbered:
                established = self.peer.established() is not None
                self.speaker.links.session_state(self.peer.config.interface, established)
            self._bfd_follow()
            self._log_attribute_issues()
            self._log_prefix_limit()
            self.speaker.on_change(self.name)

    def _log_prefix_limit(self) -> None:
        """Once per session: the peer sent more prefixes than max_prefixes."""
        reached = self.peer.prefix_limit_reached
        if reached and not self.limit_logged:
            cfg = self.peer.config
            what = "session closed" if cfg.max_prefix_cease else "not counting further prefixes"
            log.warning(
                "peer %s: more than %d prefixes received (max_prefixes): %s",
                self.name,
                cfg.max_prefixes,
                what,
            )
        self.limit_logged = reached

    def _log_attribute_issues(self) -> None:
        """One warning per peer per ISSUE_LOG_INTERVAL at most, however many arrive (a peer
        sending malformed attributes in every UPDATE must not flood the log)."""
        counters = self.peer.counters
        total = counters.updates_treated_as_withdraw + counters.attributes_discarded
        if total == self.issues_logged:
            return
        now = self.now()
        if self.issues_logged_at is not None and now - self.issues_logged_at < ISSUE_LOG_INTERVAL:
            return
        log.warning(
            "peer %s: %d malformed attribute(s) handled without a reset (RFC 7606), last: %s",
            self.name,
            total - self.issues_logged,
            self.peer.last_attribute_issue,
        )
        self.issues_logged, self.issues_logged_at = total, now

    def _fire(self) -> None:
        due = self.timer_at
        self.timer = self.timer_at = None
        self.peer.handle_timer(max(self.now(), due or 0.0))
        self.flush()

    def prepare(self, local: IPAddress) -> None:
        """Addresses the core cannot know: a default router ID, other-family next hops."""
        cfg = self.peer.config
        others: list[IPAddress] = []
        if cfg.dual_stack or (cfg.router_id is None and not isinstance(local, IPv4Address)):
            others = interface_addresses(local)
        v4 = next((a for a in others if isinstance(a, IPv4Address)), None)
        v6 = next((a for a in others if isinstance(a, IPv6Address)), None)
        self.peer.default_router_id = v4 or self.speaker.default_router_id
        if cfg.unnumbered:
            # RFC 8950 for IPv4 (no IPv4 next hop); RFC 2545: our global address on the
            # interface, if any, goes before the link-local one
            globals_ = self.view.globals
            self.peer.extra_next_hop4 = None
            self.peer.extra_next_hop6 = globals_[0] if globals_ else None
        elif cfg.dual_stack:
            self.peer.extra_next_hop4, self.peer.extra_next_hop6 = v4, v6

    def link_state(self) -> tuple[View, LinkCounters] | None:
        """An unnumbered peer's link as the API shows it (None for another peer)."""
        cfg = self.peer.config
        if not cfg.unnumbered:
            return None
        runner = self.speaker.links.runner(cfg.interface)
        return self.view, runner.tracker.counters if runner is not None else LinkCounters()

    def follow(self, view: View, event: LinkEvent | None) -> None:
        """An unnumbered peer's link changed: the new neighbour and scope; on an event the
        session restarts (towards the new neighbour, or waiting for one)."""
        old = self.neighbour
        self.view = view
        self.neighbour, self.scope_id = view.neighbour_address, view.index
        if old != self.neighbour:
            self.speaker.neighbour_moved(self, old)
            if self.bfd_registered and self.speaker.bfd is not None:
                # the BFD session goes to the new neighbour once the BGP session is back up
                self.bfd_registered = False
                self.bfd_status = "not registered"
                self.speaker.spawn(self.speaker.bfd.unregister(self.name))
        if event is None:
            self.speaker.on_change(self.name)
            return
        reason, text = _LINK_REASONS[event]
        where = self.peer.config.interface
        if event is LinkEvent.NEIGHBOR_CHANGED:
            text = f"neighbour on {where}: {old or 'none'} -> {self.neighbour or 'none'}"
        else:
            text = f"{where}: {text}"
        self.peer.stop(
            self.now(),
            reason=reason,
            subcode=CeaseSubcode.OTHER_CONFIGURATION_CHANGE,
            message=text,
            restart=self.peer.admin_up,
        )
        self.flush()
        self.speaker.on_change(self.name)

    async def _connect(self, conn: int) -> None:
        cfg = self.peer.config
        sock: socket.socket | None = None
        remote = self.remote()
        if remote is None:
            why = "no neighbour learned yet" if self.view.link_up else "link down"
            self.peer.connection_failed(conn, self.now(), f"{cfg.interface}: {why}")
            self.flush()
            self.connecting.pop(conn, None)
            return
        try:
            sock = sockets.client_socket(
                remote,
                password=cfg.password,
                ttl=self.ttl(),
                min_ttl=self.min_ttl(),
                source=cfg.source_address,
                vrf=cfg.vrf,
            )
            target: tuple[Any, ...] = (str(remote), cfg.peer_port)
            if isinstance(remote, IPv6Address) and remote.is_link_local:
                target = (str(remote), cfg.peer_port, 0, self.scope_id)
            await self.loop.sock_connect(sock, target)
            await self.loop.create_connection(
                lambda: _BGPProtocol(self.speaker, self, conn), sock=sock
            )
            sock = None  # the transport owns it now
        except asyncio.CancelledError:
            raise
        except OSError as err:
            self.peer.connection_failed(conn, self.now(), err.strerror or str(err))
            self.flush()
        finally:
            self.connecting.pop(conn, None)
            if sock is not None:
                sock.close()

    def attach(self, conn: int, transport: asyncio.Transport) -> None:
        self.transports[conn] = transport

    def _bfd_follow(self) -> None:
        """Register the BFD session once Established (the seam; see the module docstring)."""
        cfg = self.peer.config
        if not cfg.bfd_profile or self.bfd_registered:
            return
        client = self.speaker.bfd
        if client is None:
            self.bfd_status = "BFD service not wired (no BFD client)"
            return
        conn = self.peer.established()
        remote = self.remote()
        if conn is None or conn.local is None or remote is None:
            return
        self.bfd_registered = True
        self.bfd_status = "registering"
        self.speaker.spawn(self._bfd_register(client, remote, conn.local))

    async def _bfd_register(self, client: BfdClient, remote: IPAddress, local: IPAddress) -> None:
        cfg = self.peer.config
        try:
            await client.register(
                cfg.name,
                remote,
                local,
                cfg.bfd_profile,
                self.bfd_down,
                on_status=self.bfd_state,
            )
            if self.bfd_status == "registering":
                self.bfd_state("registered")
        except Exception as err:  # BFD unreachable: never tear the session down for it
            # The client keeps the session and adds it when the service answers.
            self.bfd_state(str(err) or f"BFD registration failed: {type(err).__name__}")

    def bfd_state(self, status: str) -> None:
        if status != self.bfd_status:
            self.bfd_status = status
            self.speaker.on_change(self.name)

    def bfd_down(self, reason: str) -> None:
        self.peer.bfd_down(self.now(), reason)
        self.flush()

    async def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = self.timer_at = None
        tasks = list(self.connecting.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.connecting.clear()
        for transport in self.transports.values():
            transport.close()
        self.transports.clear()
        if self.bfd_registered and self.speaker.bfd is not None:
            with contextlib.suppress(Exception):
                await self.speaker.bfd.unregister(self.name)


class _BGPProtocol(asyncio.Protocol):
    """One TCP connection; outgoing ones know their driver, incoming ones find it."""

    def __init__(
        self,
        speaker: Speaker,
        driver: _Driver | None,
        conn: int | None,
        listener: ListenKey | None = None,
    ) -> None:
        self.speaker = speaker
        self.driver = driver
        self.conn = conn
        self.listener = listener

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        local = _addr(transport.get_extra_info("sockname")[0])
        peername = transport.get_extra_info("peername")
        remote = _addr(peername[0])
        scope_id = peername[3] if len(peername) > 3 else 0
        if self.driver is not None and self.conn is not None:
            self.driver.attach(self.conn, transport)
            self.driver.prepare(local)
            self.driver.peer.connection_made(self.conn, self.driver.now(), local, remote)
            self.driver.flush()
            return
        driver = self.speaker.driver_for(remote, self.listener, scope_id)
        if driver is None and scope_id and isinstance(remote, IPv6Address):
            driver = self.speaker.learn_from_connection(remote, self.listener, scope_id)
        if driver is None:
            transport.close()
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sockets.set_ttl(sock, sock.family, driver.ttl())
            if driver.min_ttl():  # a failure here must not leave the peer unprotected
                try:
                    sockets.set_min_ttl(sock, sock.family, driver.min_ttl())
                except OSError as err:
                    log.warning("peer %s: cannot set the minimum TTL: %s", driver.name, err)
                    transport.close()
                    return
        driver.prepare(local)
        conn = driver.peer.incoming(driver.now(), local, remote)
        if conn is None:
            transport.close()
            driver.flush()
            return
        self.driver, self.conn = driver, conn
        driver.attach(conn, transport)
        driver.flush()

    def data_received(self, data: bytes) -> None:
        if self.driver is not None and self.conn is not None:
            self.driver.peer.data_received(self.conn, data, self.driver.now())
            self.driver.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        driver, conn = self.driver, self.conn
        if driver is None or conn is None:
            return
        if driver.transports.get(conn) is not None:
            driver.transports.pop(conn, None)
        message = str(exc) if exc else "connection closed"
        driver.peer.connection_lost(conn, driver.now(), message)
        driver.flush()


ListenKey = tuple[int, int, str]  # (address family, port, vrf)


class Speaker:
    """The peers, their listeners, and the advertisement set."""

    def __init__(
        self,
        on_change: Callable[[str], None] = lambda name: None,
        *,
        default_router_id: IPv4Address | None = None,
        bfd: BfdClient | None = None,
    ) -> None:
        self.on_change = on_change
        self.default_router_id = default_router_id or IPv4Address(
            zlib.crc32(socket.gethostname().encode()).to_bytes(4, "little")
        )
        self.bfd = bfd
        self.drivers: dict[str, _Driver] = {}
        # Per peer name, the routes it should hold (kept for a peer not added yet), and the
        # families they are in.
        self.routes: dict[str, Mapping[Prefix, RouteAttrs]] = {}
        self.route_families: dict[str, frozenset[Family]] = {}
        self.routes_set = False
        self.listeners: dict[ListenKey, asyncio.Server] = {}
        self.listen_errors: dict[ListenKey, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._process_start = True
        self.links = UnnumberedLinks(self._link_changed)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- peers -----------------------------------------------------------------------------

    def driver_for(
        self, remote: IPAddress, listener: ListenKey | None = None, scope_id: int = 0
    ) -> _Driver | None:
        """The peer a connection from `remote` on `listener` (family, port, VRF) belongs to;
        a link-local `remote` belongs to an unnumbered peer on the interface `scope_id`."""
        for driver in self.drivers.values():
            cfg = driver.peer.config
            if listener is not None and self._key(cfg) != listener:
                continue
            if cfg.unnumbered:
                if scope_id and driver.scope_id == scope_id and driver.neighbour == remote:
                    return driver
            elif cfg.peer_address == remote:
                return driver
        return None

    def learn_from_connection(
        self, remote: IPv6Address, listener: ListenKey | None, scope_id: int
    ) -> _Driver | None:
        """A link-local connection no peer claims, on an unnumbered peer's interface: offer its
        source to that link's tracker (it becomes the neighbour unless a session to another is
        up), then look again."""
        if not remote.is_link_local:
            return None
        for driver in list(self.drivers.values()):
            cfg = driver.peer.config
            if cfg.unnumbered and driver.scope_id == scope_id:
                self.links.incoming_connection(cfg.interface, remote)
                break
        return self.driver_for(remote, listener, scope_id)

    def _link_changed(self, interface: str, before: View, after: View) -> None:
        event = session_action(before, after)
        for driver in list(self.drivers.values()):
            if driver.peer.config.interface == interface:
                driver.follow(after, event)

    def neighbour_moved(self, driver: _Driver, old: IPv6Address | None) -> None:
        """The listener's TCP MD5 key and GTSM filter follow an unnumbered peer's neighbour."""
        cfg = driver.peer.config
        if old is not None:
            self._listener_md5(cfg, old, "")
        if driver.neighbour is not None:
            self._listener_md5(cfg, driver.neighbour, cfg.password)
        self._gtsm_filter(self._key(cfg))

    def peer(self, name: str) -> Peer | None:
        driver = self.drivers.get(name)
        return driver.peer if driver is not None else None

    async def add_peer(self, config: PeerConfig) -> None:
        loop = asyncio.get_running_loop()
        peer = Peer(config, loop.time(), default_router_id=self.default_router_id, restarting=True)
        driver = _Driver(self, peer)
        self.drivers[config.name] = driver
        await self._listen_for(config)
        if config.unnumbered:
            view = await self.links.attach(config.interface, config.name)
            driver.view, driver.scope_id = view, view.index
            driver.neighbour = view.neighbour_address
            self.neighbour_moved(driver, None)
        if self.routes_set:
            peer.set_routes(self._routes(peer))
        peer.start(loop.time())
        driver.flush()

    async def update_peer(self, config: PeerConfig) -> bool:
        """Replace a peer's configuration; restarts the session if anything changed."""
        driver = self.drivers[config.name]
        if driver.peer.config == config:
            return False
        await self.delete_peer(
            config.name,
            reason=Reason.CONFIG_CHANGED,
            subcode=CeaseSubcode.OTHER_CONFIGURATION_CHANGE,
        )
        await self.add_peer(config)
        return True

    async def delete_peer(
        self,
        name: str,
        *,
        reason: Reason = Reason.PEER_DELETED,
        subcode: int = CeaseSubcode.PEER_DECONFIGURED,
    ) -> None:
        driver = self.drivers.pop(name)
        driver.peer.stop(driver.now(), reason=reason, subcode=subcode)
        driver.flush()
        await driver.close()
        cfg = driver.peer.config
        if cfg.unnumbered:
            if driver.neighbour is not None:
                self._listener_md5(cfg, driver.neighbour, "")
            await self.links.detach(cfg.interface, cfg.name)
        await self._release_listener(cfg)

    def reset_peer(self, name: str) -> None:
        driver = self.drivers[name]
        driver.peer.stop(
            driver.now(),
            reason=Reason.ADMIN_RESET,
            subcode=CeaseSubcode.ADMINISTRATIVE_RESET,
            restart=True,
        )
        driver.flush()

    # ---- advertisements --------------------------------------------------------------------

    def set_routes(
        self, routes: Mapping[str, Mapping[Prefix, RouteAttrs]]
    ) -> list[tuple[str, int, int]]:
        """Replace, per peer, the routes it should hold (a peer not named: none); returns
        (peer, announced, withdrawn) for every peer, in name order. Routes are keyed by
        `Prefix` (services/bgp/codec/prefixes.py: parse_prefix, make_prefix...)."""
        for name, held in routes.items():
            sample: object = next(iter(held), b"\x01")
            if not isinstance(sample, bytes):  # e.g. an ipaddress network: a caller's mistake
                kind = type(sample).__name__
                raise TypeError(f"routes of {name} are keyed by {kind}, not Prefix")
        self.route_families = {name: families_of(held) for name, held in routes.items()}
        self.routes = dict(routes)
        self.routes_set = True
        out: list[tuple[str, int, int]] = []
        for name in sorted(self.drivers):
            driver = self.drivers[name]
            wanted = self._routes(driver.peer)
            before: Mapping[Prefix, RouteAttrs] = driver.peer.rib.desired
            if driver.peer.rib_ready and wanted == before:
                out.append((name, 0, 0))
                continue
            if before:
                announced = sum(1 for p, a in wanted.items() if before.get(p) != a)
                withdrawn = sum(1 for p in before if p not in wanted)
            else:  # a first set (200,000 routes at start): no per-route lookups
                announced, withdrawn = len(wanted), 0
            driver.peer.set_routes(wanted)
            driver.flush()
            out.append((name, announced, withdrawn))
        return out

    def _routes(self, peer: Peer) -> Mapping[Prefix, RouteAttrs]:
        """The routes for `peer`, in the families its session carries (its own, or both)."""
        routes = self.routes.get(peer.config.name, {})
        families = peer.families()
        if self.route_families.get(peer.config.name, frozenset()) <= families:
            return routes  # no copy: the rib copies what it keeps
        return {prefix: attrs for prefix, attrs in routes.items() if family_of(prefix) in families}

    # ---- listeners -------------------------------------------------------------------------

    @staticmethod
    def _key(config: PeerConfig) -> ListenKey:
        family = socket.AF_INET if config.ipv4_transport else socket.AF_INET6
        return family, config.peer_port, config.vrf

    async def _listen_for(self, config: PeerConfig) -> None:
        key = self._key(config)
        server = self.listeners.get(key)
        if server is None and key not in self.listen_errors:
            try:
                sock = sockets.listening_socket(*key)
            except OSError as err:
                # the session still works actively; the state says why nothing listens
                self.listen_errors[key] = str(err)
                log.warning("cannot listen on port %d (%s): %s", key[1], key[2] or "default", err)
                return
            server = await asyncio.get_running_loop().create_server(
                lambda: _BGPProtocol(self, None, None, key), sock=sock
            )
            self.listeners[key] = server
        if config.peer_address is not None:
            self._listener_md5(config, config.peer_address, config.password)
        self._gtsm_filter(key)

    def _listener_md5(self, config: PeerConfig, address: IPAddress, key: str) -> None:
        """The listener's TCP MD5 key for `address` (empty: remove it)."""
        server = self.listeners.get(self._key(config))
        if server is not None and config.password:
            for sock in server.sockets:
                with contextlib.suppress(OSError):
                    sockets.set_md5(sock, address, key)

    def _gtsm_filter(self, key: ListenKey) -> None:
        """The listener's BPF filter: the GTSM peers on it must arrive with TTL 255."""
        server = self.listeners.get(key)
        if server is None:
            return
        peers = [
            remote
            for d in self.drivers.values()
            if d.peer.config.gtsm
            and self._key(d.peer.config) == key
            and (remote := d.remote()) is not None
        ]
        for sock in server.sockets:
            try:
                sockets.set_gtsm_filter(sock, key[0], peers)
            except (OSError, ValueError) as err:
                # accepted connections still get the minimum TTL (connection_made)
                log.warning("GTSM filter on port %d (%s): %s", key[1], key[2] or "default", err)

    async def _release_listener(self, config: PeerConfig) -> None:
        key = self._key(config)
        server = self.listeners.get(key)
        if config.peer_address is not None:
            self._listener_md5(config, config.peer_address, "")
        if any(self._key(d.peer.config) == key for d in self.drivers.values()):
            self._gtsm_filter(key)
            return
        self.listen_errors.pop(key, None)
        if server is not None:
            del self.listeners[key]
            server.close()
            await server.wait_closed()

    async def close(self) -> None:
        """Stop every session with Cease / Administrative Shutdown and close every socket."""
        for name in list(self.drivers):
            await self.delete_peer(
                name, reason=Reason.ADMIN_STOP, subcode=CeaseSubcode.ADMINISTRATIVE_SHUTDOWN
            )
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for server in self.listeners.values():
            server.close()
            await server.wait_closed()
        self.listeners.clear()
        await self.links.close()


__all__ = ["BfdClient", "Speaker", "interface_addresses"]
