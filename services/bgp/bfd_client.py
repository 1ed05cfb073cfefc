"""The BGP service's client of the BFD service (`metallb.bfd.v1`), behind the `BfdClient` seam.

Theory of operation. A peer with a bfdProfile gets a BFD session (single hop, or multihop for
ebgpMultiHop) once its BGP session is Established, with the profile's settings from its
PeerConf; an unnumbered peer's is single hop to its learned link-local address, bound to its
interface. The client keeps the set of sessions it wants (`_sessions`, by BGP peer) and one
WatchSessions stream open while that set is not empty:

- The stream opens with a snapshot and the end-of-snapshot marker. Snapshot events are state,
  not transitions: a session that is Down in the snapshot tears nothing down (after a BFD
  restart every re-added session starts Down). At the marker every wanted session missing from
  the snapshot is added again (the BFD service restarted, or someone deleted it), and a session
  we last saw Up that the snapshot shows Down went down while we were not watching: that is
  reported as a Down, as if we had seen the transition. That is why a reconnection sends no
  resume token: what decides is the state now, not the history missed (replayed, a Down that
  has since come back Up would tear down a BGP session that survived it). A stream that falls
  behind gets a fresh snapshot in the same way, mid-stream.
- After the marker, a STATE_CHANGED from Up to Down tears the BGP session down at once, with
  BFD's diagnostic as the reason. Two Up→non-Up transitions do not (RFC 5882 §3.2: an
  administrative action is not a path failure, and a dead path never says AdminDown):
  Up→AdminDown (someone set our session administratively down through the BFD API), and
  Up→Down because the peer signalled AdminDown (its BFD was shut down or is restarting
  gracefully; the forwarding path is fine). This differs from MetalLB: FRR 8.4 (its FRR mode)
  and BIRD 2.0.12 both end their BGP session when their BFD peer says AdminDown (seen in the
  lab). The BGP session then runs without BFD protection until BFD comes Up again.
- If the BFD service is unreachable nothing is torn down: the stream is retried (the channel
  reconnects within 0.5 s of the service coming back) and `register` fails without forgetting
  the session, so it is added as soon as the service answers.

Every change of a session's state is also passed to the peer's `on_status` (its `bfd_status`).
The channel speaks TLS or mutual TLS to the BFD service when given a `ClientTLS`
(`metallb-grpc bgp --bfd-tls-ca F [--bfd-tls-client-cert F --bfd-tls-client-key F]`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import ip_address

import grpc

from metallb.bfd.v1 import bfd_pb2, bfd_pb2_grpc
from metallb.bgp.v1 import bgp_pb2
from metallb_rules.addresses import IPAddress
from metallb_runtime.channel import service_channel
from metallb_runtime.transport import ClientTLS

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # (peer address, interface, VRF): the BFD service's SessionKey

RPC_TIMEOUT = 5.0  # seconds, for AddSession, UpdateSession and DeleteSession

_E = bfd_pb2.SessionEventType
_UP, _DOWN, _ADMIN_DOWN = bfd_pb2.STATE_UP, bfd_pb2.STATE_DOWN, bfd_pb2.STATE_ADMIN_DOWN


class BfdRegistrationError(Exception):
    """The BFD service did not take a session: it is unreachable, or it refused it."""

    @classmethod
    def from_rpc(cls, err: grpc.aio.AioRpcError) -> BfdRegistrationError:
        what = (
            "BFD service unreachable"
            if err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
            else "BFD service refused the session"
        )
        return cls(f"{what} ({err.code().name}: {err.details()})")


def _key(conf: bfd_pb2.SessionConf) -> Key:
    return (conf.peer_address, conf.interface, conf.vrf)


def _diagnostic(value: bfd_pb2.Diagnostic) -> str:
    """DIAGNOSTIC_CONTROL_DETECTION_TIME_EXPIRED -> "control detection time expired"."""
    return bfd_pb2.Diagnostic.Name(value).removeprefix("DIAGNOSTIC_").lower().replace("_", " ")


def _state(value: bfd_pb2.State) -> str:
    return bfd_pb2.State.Name(value).removeprefix("STATE_").lower().replace("_", " ")


def describe(state: bfd_pb2.SessionState) -> str:
    """A session's state as the peer's bfd_status shows it: "up", "down: <diagnostic>"..."""
    if state.local_state == _DOWN and state.remote_state == _ADMIN_DOWN:
        return "down: the peer signalled AdminDown (BGP session kept, RFC 5882 §3.2)"
    if state.local_state == _ADMIN_DOWN:
        return "admin down (set through the BFD service; BGP session kept)"
    text = _state(state.local_state)
    if state.local_state != _UP and state.local_diagnostic not in (
        bfd_pb2.DIAGNOSTIC_UNSPECIFIED,
        bfd_pb2.DIAGNOSTIC_NONE,
    ):
        text += f": {_diagnostic(state.local_diagnostic)}"
    return text


def is_path_failure(state: bfd_pb2.SessionState) -> bool:
    """An Up session now in `state` lost its path (not an administrative action, §3.2)."""
    return state.local_state == _DOWN and state.remote_state != _ADMIN_DOWN


@dataclass
class _Registered:
    conf: bfd_pb2.SessionConf
    on_down: Callable[[str], None]
    on_status: Callable[[str], None]

    @property
    def key(self) -> Key:
        return _key(self.conf)


def bfd_profile(settings: bgp_pb2.BfdSettings) -> bfd_pb2.Profile:
    """A peer's BFD settings (BGP's own message) as the BFD service's Profile (the same fields:
    intervals as Durations; what is unset stays unset, for the BFD service's defaults)."""
    profile = bfd_pb2.Profile()
    for name in ("receive_interval", "transmit_interval", "echo_interval"):
        if settings.HasField(name):
            getattr(profile, name).CopyFrom(getattr(settings, name))
    for name in ("detect_multiplier", "echo_mode", "passive_mode", "minimum_ttl"):
        if settings.HasField(name):
            setattr(profile, name, getattr(settings, name))
    return profile


class GrpcBfdClient:
    def __init__(self, address: str, tls: ClientTLS | None = None) -> None:
        self._address = address
        self._tls = tls  # None: plaintext (`metallb-grpc bgp --bfd-tls-ca ...`)
        self._channel: grpc.aio.Channel | None = None
        self._stub: bfd_pb2_grpc.BFDServiceStub | None = None
        self._peers: dict[str, bgp_pb2.PeerConf] = {}
        self._sessions: dict[str, _Registered] = {}
        self._up: dict[Key, int] = {}  # sessions we last saw Up: when they came Up (Unix ns)
        self._watch: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def remember(self, conf: bgp_pb2.PeerConf) -> None:
        """The peer's configuration, for the profile settings, hop mode and VRF.

        A registered session whose settings change (the BFDProfile was edited: UpdatePeer does
        not restart the BGP session for that) is updated in the BFD service.
        """
        self._peers[conf.name] = conf
        entry = self._sessions.get(conf.name)
        if entry is None:
            return
        address, local = ip_address(entry.conf.peer_address), ip_address(entry.conf.local_address)
        wanted = self.session_conf(conf.name, address, local, conf.bfd_profile)
        if wanted != entry.conf and conf.bfd_profile:
            entry.conf = wanted
            task = asyncio.get_running_loop().create_task(self._apply(conf.name, entry))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _apply(self, peer: str, entry: _Registered) -> None:
        try:
            session = await self._add(entry.conf)
        except grpc.aio.AioRpcError as err:
            entry.on_status(str(BfdRegistrationError.from_rpc(err)))
            return
        await self._settle(peer, entry, session)

    async def _settle(self, peer: str, entry: _Registered, session: bfd_pb2.Session) -> None:
        """After adding `entry`: report its state, or delete it if it was given up meanwhile."""
        if self._sessions.get(peer) is entry:
            self._seen(session)
        elif all(other.key != entry.key for other in self._sessions.values()):
            await self._delete(entry.key)

    def _connect(self) -> bfd_pb2_grpc.BFDServiceStub:
        if self._stub is None:
            self._channel = service_channel(self._address, self._tls)
            self._stub = bfd_pb2_grpc.BFDServiceStub(self._channel)
        return self._stub

    def session_conf(
        self, peer: str, peer_address: IPAddress, local_address: IPAddress, profile: str
    ) -> bfd_pb2.SessionConf:
        conf = self._peers.get(peer)
        session = bfd_pb2.SessionConf(
            peer_address=str(peer_address),
            local_address=str(local_address),
            # an unnumbered peer: single hop over the interface, to its link-local address
            interface=conf.interface if conf else "",
            vrf=conf.vrf if conf else "",
            hop_mode=(
                bfd_pb2.HOP_MODE_MULTIHOP
                if conf is not None and conf.ebgp_multihop
                else bfd_pb2.HOP_MODE_SINGLE_HOP
            ),
        )
        if conf is not None and conf.HasField("bfd"):
            session.profile.CopyFrom(bfd_profile(conf.bfd))
        session.profile.name = profile
        return session

    async def register(
        self,
        peer: str,
        peer_address: IPAddress,
        local_address: IPAddress,
        profile: str,
        on_down: Callable[[str], None],
        *,
        on_status: Callable[[str], None] = lambda status: None,
    ) -> None:
        """Add the peer's session; raises BfdRegistrationError but keeps it wanted (see above)."""
        entry = _Registered(
            self.session_conf(peer, peer_address, local_address, profile), on_down, on_status
        )
        self._sessions[peer] = entry
        if self._watch is None or self._watch.done():
            self._watch = asyncio.get_running_loop().create_task(self._follow(), name="bfd-watch")
        try:
            session = await self._add(entry.conf)
        except grpc.aio.AioRpcError as err:
            raise BfdRegistrationError.from_rpc(err) from None
        await self._settle(peer, entry, session)

    async def _add(self, conf: bfd_pb2.SessionConf) -> bfd_pb2.Session:
        """AddSession; a session already there (kept across our restart) gets our profile."""
        stub = self._connect()
        try:
            added: bfd_pb2.AddSessionResponse = await stub.AddSession(
                bfd_pb2.AddSessionRequest(session=conf), timeout=RPC_TIMEOUT
            )
            return added.session
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise
        try:
            updated: bfd_pb2.UpdateSessionResponse = await stub.UpdateSession(
                bfd_pb2.UpdateSessionRequest(session=conf), timeout=RPC_TIMEOUT
            )
            return updated.session
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.INVALID_ARGUMENT:
                raise
        # Another local address or hop mode: only a new session can have them.
        await self._delete(_key(conf))
        again: bfd_pb2.AddSessionResponse = await stub.AddSession(
            bfd_pb2.AddSessionRequest(session=conf), timeout=RPC_TIMEOUT
        )
        return again.session

    async def _delete(self, key: Key) -> None:
        address, interface, vrf = key
        request = bfd_pb2.DeleteSessionRequest(
            key=bfd_pb2.SessionKey(peer_address=address, interface=interface, vrf=vrf)
        )
        with contextlib.suppress(grpc.aio.AioRpcError):
            await self._connect().DeleteSession(request, timeout=RPC_TIMEOUT)

    async def unregister(self, peer: str) -> None:
        entry = self._sessions.pop(peer, None)
        if entry is None:
            return
        if all(other.key != entry.key for other in self._sessions.values()):
            self._up.pop(entry.key, None)
            await self._delete(entry.key)
        if not self._sessions and self._watch is not None:
            self._watch.cancel()
            self._watch = None

    # ---- the watch -------------------------------------------------------------------------

    async def _follow(self) -> None:
        """Watch sessions while some are wanted; reconnect after the BFD service restarts."""
        backoff = 0.1
        while self._sessions:
            try:
                stream = self._connect().WatchSessions(
                    bfd_pb2.WatchSessionsRequest(), wait_for_ready=True
                )
                snapshot: dict[Key, bfd_pb2.Session] = {}
                async for reply in stream:
                    for event in reply.events:
                        if event.type == _E.SESSION_EVENT_TYPE_SNAPSHOT:
                            snapshot[_key(event.session.conf)] = event.session
                        else:
                            await self._handle(event)
                    if reply.HasField("end_of_snapshot"):  # a full snapshot: never resumed
                        await self._resync(snapshot)
                        snapshot = {}
                    backoff = 0.1
                # The service ended the stream itself: it is stopping (a graceful stop).
                self._unreachable("stream ended")
            except grpc.aio.AioRpcError as err:
                self._unreachable(err.code().name)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 0.5)

    def _unreachable(self, why: str) -> None:
        log.info("BFD watch ended (%s); sessions are kept", why)
        for entry in list(self._sessions.values()):
            entry.on_status(f"BFD service unreachable ({why}); session kept")

    async def _resync(self, snapshot: dict[Key, bfd_pb2.Session]) -> None:
        """After a full snapshot: add what is missing, report what went down while unwatched."""
        self._up = {key: at for key, at in self._up.items() if key in snapshot}
        for entry in list(self._sessions.values()):
            session = snapshot.get(entry.key)
            if session is not None:
                self._seen(session, missed=True)
                continue
            try:
                self._seen(await self._add(entry.conf))
            except grpc.aio.AioRpcError as err:
                entry.on_status(str(BfdRegistrationError.from_rpc(err)))

    async def _handle(self, event: bfd_pb2.SessionEvent) -> None:
        kind = event.type
        if kind == _E.SESSION_EVENT_TYPE_STATE_CHANGED:
            transition = event.transition
            was_up = getattr(transition, "from") == _UP
            self._seen(event.session, transition=was_up)
        elif kind in (_E.SESSION_EVENT_TYPE_ADDED, _E.SESSION_EVENT_TYPE_UPDATED):
            self._seen(event.session)
        elif kind == _E.SESSION_EVENT_TYPE_DELETED:
            key = _key(event.session.conf)
            self._up.pop(key, None)
            wanted = next((e for e in self._sessions.values() if e.key == key), None)
            if wanted is not None:  # deleted by someone else: we still want it
                with contextlib.suppress(grpc.aio.AioRpcError):
                    self._seen(await self._add(wanted.conf))

    def _seen(
        self, session: bfd_pb2.Session, *, missed: bool = False, transition: bool = False
    ) -> None:
        """A session's current state; an Up that is gone is a Down when it is a path failure.

        `transition`: a STATE_CHANGED from Up. `missed`: a snapshot; the session went down
        unseen if it did so after the Up we saw (times compared, so an old snapshot is harmless).
        """
        key, state = _key(session.conf), session.state
        entries = [entry for entry in self._sessions.values() if entry.key == key]
        if not entries:
            return  # not ours (another client's session, or one we have just given up)
        up_since = self._up.get(key)
        was_up = transition or (
            missed and up_since is not None and state.last_down_time.ToNanoseconds() > up_since
        )
        if state.local_state == _UP:
            self._up[key] = state.last_up_time.ToNanoseconds()
        else:
            self._up.pop(key, None)
        status = describe(state)
        down = was_up and is_path_failure(state)
        for entry in entries:
            entry.on_status(status)
            if down:
                reason = f"BFD down: {_diagnostic(state.local_diagnostic)}"
                entry.on_down(reason + (" (while the watch was reconnecting)" if missed else ""))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        if self._channel is not None:
            await self._channel.close()
            self._channel = self._stub = None
