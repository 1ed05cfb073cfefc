"""The node role's liveness part (pure): BFD sessions to the other speakers, the membership they
feed (gateway/node/membership.py), fencing, and make-before-break hand-offs of L2 addresses.

Theory of operation.

- **Sessions.** This node keeps one single-hop BFD session (RFC 5881) per InternalIP of every
  other node that an L2Advertisement names (MetalLB's speakers on the segment), through the node's
  BFD service, with the BFDProfile the node role's `--bfd-profile` names, or `FAST_PROFILE`
  (50 ms × 3: a dead node is out within 150 ms). `bfd_steps` returns the AddSession/DeleteSession
  requests that bring the service to that set; only sessions this role added are ever deleted
  (the BGP service's sessions share the BFD service). A BFD service restart forgets them all.
- **Membership.** Session states arrive from the service's WatchSessions stream (`session`);
  node Leases and our own renewals go straight to `membership`. `live` is the election's member
  set; `layer2` empties the announcements while `membership.fenced`.
- **Hand-off.** An address this node stops owning while it is healthy (another node became the
  owner: exclusion label, selector change, a node back after the hold, or this node leaving) is
  still answered until another node is seen announcing it, so the new owner answers before we
  stop (make-before-break: never neither). The new owner sends its gratuitous ARP / unsolicited
  NA as it starts answering; our L2 service sees it on the wire and reports it in its WatchEvents
  stream (EVENT_TYPE_ANNOUNCED_ELSEWHERE), which `announced_elsewhere` records. The wire, not
  the new owner's status through the API server, because it works while the API server is away
  and says what the client sees: that node answers now. An announcement seen up to
  `ANNOUNCED_RECENTLY` before we stopped owning the address counts (every node learns of the
  change at about the same time, and the new owner may be first); we stop AFTER_SEEN (0.1 s)
  after it, past the new owner's busiest moments. `handoff` seconds is the upper bound, when
  nothing is seen (a new owner on another segment, a lost frame).
- **Resuming.** The node role asks to be woken every `HEARTBEAT` seconds (`clock_deadline`);
  a call arriving more than `FREEZE_GAP` after that (`clock`) means the process did not run
  meanwhile: frozen (SIGSTOP, a paused VM) or starved. The sans-I/O core sees it from the `now`
  of its first call, before the change that call carries, so the verdict does not depend on
  which of the node's processes resumed first. `membership.resumed` then decides whether this
  node was the one cut off (gateway/node/membership.py); the reconciler forgets what the L2
  service holds and, while `membership.resuming`, sends it no new announcement set: the L2
  service, frozen too, holds its answers until the set is confirmed (services/l2/core/resume.py),
  and the set sent is the one decided once the BFD verdicts have arrived. A starved event loop
  (a long pass) looks the same; it costs at most `resume_settle` of delay for a changed set.
- **Leaving.** On SIGTERM the role deletes its sessions (the BFD service sends AdminDown, RFC 5880
  §6.8.16: each peer's session goes Down at its next packet, so they drop us at once, API server
  or not), releases its Lease (for peers without BFD), keeps answering until each of its
  addresses was seen announced by another node (`handed_over_at`), or `handoff` seconds at most,
  then withdraws.
"""

import ipaddress
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message

from gateway.node.desired import L2Announcement
from gateway.node.membership import DEFAULT_MEMBERSHIP_TIMING, Membership, MembershipTiming
from gateway.snapshot import Snapshot
from metallb.bfd.v1 import bfd_pb2
from metallb.l2.v1 import l2_pb2
from metallb_rules.bfd_profile import BFDProfile
from metallb_rules.config.model import Config

log = logging.getLogger(__name__)

#: The default for the sessions between speakers: a dead node is out after 150 ms.
FAST_PROFILE = BFDProfile(
    name="metallb-grpc-node-default", receive_interval=50, transmit_interval=50
)
#: Seconds an address is still answered after another node became its owner, at most (until
#: the new owner is seen announcing it).
DEFAULT_HANDOFF = 1.0
#: The node role is woken at least this often (seconds), so a gap in its clock shows.
HEARTBEAT = 0.05
#: A call later than the heartbeat by more than this (seconds): the process was frozen. Above
#: a loaded machine's scheduling delays; heartbeat plus gap (130 ms) is under the 150 ms of a
#: 50 ms x 3 detection time, so any freeze long enough for the peers to count us out is seen,
#: and so is every freeze after which the L2 service holds its answers (a beat gap over 150 ms:
#: services/l2/core/resume.py), so that this role always confirms the set it holds.
FREEZE_GAP = 0.08
#: Seconds before a hand-off began during which another node seen announcing the address counts
#: as the new owner's announcement.
ANNOUNCED_RECENTLY = 0.5
#: Seconds we still answer after the new owner was seen announcing: its first moments are its
#: busiest (table, groups, burst, replies to its role), and answers 10 ms late were measured then.
AFTER_SEEN = 0.1

# A BFD lane step: the method, its request, and what to record once it succeeded.
BfdStep = tuple[str, Message, Callable[[object], None]]


@dataclass(frozen=True)
class BfdSessionState:
    """A change from the BFD service's WatchSessions: the session to `peer_address` is Up or
    not (`deleted`: it no longer exists)."""

    peer_address: str
    up: bool
    deleted: bool = False


def profile_proto(profile: BFDProfile) -> bfd_pb2.Profile:
    def ms(value: int) -> Duration:
        out = Duration()
        out.FromMilliseconds(value)
        return out

    return bfd_pb2.Profile(
        name=profile.name,
        receive_interval=ms(profile.receive_interval),
        transmit_interval=ms(profile.transmit_interval),
        detect_multiplier=profile.detect_multiplier,
        echo_interval=ms(profile.echo_interval),
        echo_mode=profile.echo_mode,
        passive_mode=profile.passive_mode,
    )


def internal_ips(node: Mapping[str, Any]) -> list[str]:
    """A Node's InternalIP addresses (status.addresses), valid ones only."""
    out = []
    for entry in (node.get("status") or {}).get("addresses") or []:
        if entry.get("type") != "InternalIP":
            continue
        try:
            out.append(str(ipaddress.ip_address(str(entry.get("address")))))
        except ValueError:
            continue
    return out


class Liveness:
    def __init__(
        self,
        node: str,
        *,
        bfd: bool,
        profile: str = "",
        handoff: float = DEFAULT_HANDOFF,
        timing: MembershipTiming = DEFAULT_MEMBERSHIP_TIMING,
    ) -> None:
        self.node = node
        self.bfd = bfd
        self.profile = profile
        self.handoff = handoff
        self.membership = Membership(node, timing)
        # Sessions this role holds in the BFD service: address -> (node, conf); None: unknown.
        self._sent: dict[str, tuple[str, bfd_pb2.SessionConf]] | None = {}
        self._owner_of: dict[str, str] = {}  # session address -> node (wanted or held)
        self._wanted: dict[str, tuple[str, bfd_pb2.SessionConf]] = {}  # as of the last pass
        self._layer2_last: list[L2Announcement] = []
        # ip -> (since, until, entries): handed off at `since`, answered until seen announced
        # elsewhere or `until`.
        self._held: dict[str, tuple[float, float, list[L2Announcement]]] = {}
        self._elsewhere: dict[str, float] = {}  # ip -> when another node last announced it
        self.leaving = False
        self._fenced = False
        self._clock_at: float | None = None  # the last call's time
        self._detection = _detection(FAST_PROFILE)  # of the sessions we hold (seconds)

    # Our own clock.

    def clock(self, now: float) -> bool:
        """Every call of the core passes its `now` here first; True if this node just resumed
        after a gap in its clock (then `membership.resumed` was told)."""
        last, self._clock_at = self._clock_at, now
        if last is None or now - last <= HEARTBEAT + FREEZE_GAP:
            return False
        log.warning(
            "resumed after %.3f s without running (frozen or starved): the peers may have "
            "counted us out",
            now - last,
        )
        self.membership.resumed(now, self._detection)
        return True

    def clock_deadline(self) -> float | None:
        """When the core wants to be woken at the latest (the heartbeat)."""
        return None if self._clock_at is None else self._clock_at + HEARTBEAT

    # BFD sessions.

    def wanted_sessions(
        self, snap: Snapshot, config: Config | None
    ) -> dict[str, tuple[str, bfd_pb2.SessionConf]]:
        if not self.bfd or config is None or self.leaving:
            return {}
        speakers = {n for ad in config.l2_advertisements for n in ad.nodes} - {self.node}
        chosen = config.bfd_profiles.get(self.profile) if self.profile else None
        self._detection = _detection(chosen or FAST_PROFILE)
        profile = profile_proto(chosen or FAST_PROFILE)
        out: dict[str, tuple[str, bfd_pb2.SessionConf]] = {}
        for obj in snap.of("Node"):
            name = str((obj.get("metadata") or {}).get("name") or "")
            if name not in speakers:
                continue
            for address in internal_ips(obj):
                conf = bfd_pb2.SessionConf(
                    peer_address=address,
                    hop_mode=bfd_pb2.HOP_MODE_SINGLE_HOP,
                    profile=profile,
                )
                out[address] = (name, conf)
        return out

    def want_sessions(self, snap: Snapshot, config: Config | None) -> None:
        """Recompute the wanted sessions (on each recomputing pass)."""
        self._wanted = self.wanted_sessions(snap, config)

    def bfd_steps(self, now: float) -> list[BfdStep]:
        """The requests that bring the BFD service to the wanted sessions."""
        wanted = self._wanted
        steps: list[BfdStep] = []
        if self._sent is None:
            self._sent = {}  # after a restart the service holds none of ours
        sent = self._sent
        for address in sorted(set(sent) - set(wanted)):
            key = bfd_pb2.SessionKey(peer_address=address)
            request = bfd_pb2.DeleteSessionRequest(key=key)
            steps.append(("DeleteSession", request, self._deleted(address, now)))
        for address, (node, conf) in sorted(wanted.items()):
            self._owner_of[address] = node
            held = sent.get(address)
            if held is not None and held[1] == conf:
                continue
            if held is not None:  # another node or profile: delete and add again
                key = bfd_pb2.SessionKey(peer_address=address)
                steps.append(("DeleteSession", bfd_pb2.DeleteSessionRequest(key=key), _ignore))
            add = bfd_pb2.AddSessionRequest(session=conf)
            steps.append(("AddSession", add, self._added(address, node, conf)))
        return steps

    def leave_steps(self) -> list[BfdStep]:
        """Delete every session of ours: the BFD service tells each peer AdminDown (RFC 5880
        §6.8.16), so its session goes Down at the next packet and it drops us at once."""
        self.leaving = True
        steps: list[BfdStep] = []
        for address in sorted(self._sent or {}):
            key = bfd_pb2.SessionKey(peer_address=address)
            steps.append(("DeleteSession", bfd_pb2.DeleteSessionRequest(key=key), _ignore))
        return steps

    def forget_sessions(self) -> None:
        """The BFD service restarted: it holds none of our sessions."""
        self._sent = None

    def _added(
        self, address: str, node: str, conf: bfd_pb2.SessionConf
    ) -> Callable[[object], None]:
        def record(_: object) -> None:
            if self._sent is not None:
                self._sent[address] = (node, conf)

        return record

    def _deleted(self, address: str, now: float) -> Callable[[object], None]:
        def record(_: object) -> None:
            if self._sent is not None:
                self._sent.pop(address, None)
            node = self._owner_of.pop(address, None)
            if node is not None:
                self.membership.bfd_removed(node, address, now)

        return record

    def session(self, change: BfdSessionState, now: float) -> bool:
        """A session of ours changed state; True if it is one (its node is known)."""
        node = self._owner_of.get(change.peer_address)
        if node is None:
            return False
        if change.deleted:
            self.membership.bfd_removed(node, change.peer_address, now)
        else:
            self.membership.bfd(node, change.peer_address, change.up, now)
        return True

    # Membership and announcements.

    def leases(self, leases: Iterable[tuple[str, Mapping[str, Any]]], now: float) -> None:
        self.membership.leases(leases, now)

    def live(self, candidates: Collection[str], now: float) -> set[str]:
        return self.membership.live(candidates, now)

    def layer2(self, wanted: list[L2Announcement], now: float) -> list[L2Announcement]:
        """What to announce: nothing while fenced; else `wanted` plus the addresses handed to
        another owner less than `handoff` seconds ago."""
        fenced = self.membership.fenced(now)
        if fenced != self._fenced:
            self._fenced = fenced
            if fenced:
                log.warning(
                    "fenced (no BFD peer left and our Lease not renewed, or cut off while "
                    "frozen): withdrawing"
                )
            else:
                log.warning("no longer fenced: answering again")
        if fenced:
            self._held.clear()
            self._layer2_last = []
            return []
        ips = {a.ip for a in wanted}
        dropped: dict[str, list[L2Announcement]] = {}
        for a in self._layer2_last:
            if a.ip not in ips:
                dropped.setdefault(a.ip, []).append(a)
        for ip, entries in dropped.items():
            if ip not in self._held:
                self._held[ip] = (now, now + self.handoff, entries)
        for ip, (since, until, _) in list(self._held.items()):
            if ip in ips:
                del self._held[ip]  # ours again
            elif (seen := self._taken_over(ip, since)) is not None and now >= seen + AFTER_SEEN:
                log.info("%s: handed over after %.3f s (new owner seen)", ip, now - since)
                del self._held[ip]
            elif until <= now:
                log.info("%s: handed over after %.3f s (no new owner seen)", ip, now - since)
                del self._held[ip]
        recent = now - ANNOUNCED_RECENTLY
        self._elsewhere = {ip: t for ip, t in self._elsewhere.items() if t >= recent}
        out = list(wanted) + [a for _, _, entries in self._held.values() for a in entries]
        self._layer2_last = out
        return out

    def announced_elsewhere(self, ips: Iterable[str], now: float) -> bool:
        """Another node was seen announcing `ips` (our L2 service's EVENT_TYPE_ANNOUNCED_ELSEWHERE);
        True if that ends a hand-off (a pass should withdraw them)."""
        ended = False
        for ip in ips:
            key = _canonical(ip)
            self._elsewhere[key] = now
            ended = ended or any(_canonical(held) == key for held in self._held)
        return ended

    def handed_over_at(self, ips: Iterable[str], since: float) -> float | None:
        """When every one of `ips` is handed over (AFTER_SEEN after the last was seen announced
        by another node since a hand-off began at `since`, or up to ANNOUNCED_RECENTLY before),
        or None while one was not seen."""
        seen = [self._taken_over(ip, since) for ip in ips]
        if any(t is None for t in seen):
            return None
        return max((t for t in seen if t is not None), default=since) + AFTER_SEEN

    def _taken_over(self, ip: str, since: float) -> float | None:
        """When another node was seen announcing `ip` (counted from since - ANNOUNCED_RECENTLY)."""
        seen = self._elsewhere.get(_canonical(ip))
        return seen if seen is not None and seen >= since - ANNOUNCED_RECENTLY else None

    def next_deadline(self, now: float) -> float | None:
        times = [until for _, until, _ in self._held.values() if until > now]
        for ip, (since, _, _) in self._held.items():
            seen = self._taken_over(ip, since)
            if seen is not None and seen + AFTER_SEEN > now:
                times.append(seen + AFTER_SEEN)
        membership = self.membership.next_deadline(now)
        if membership is not None:
            times.append(membership)
        return min(times, default=None)


def _detection(profile: BFDProfile) -> float:
    """The detection time of a session with `profile` at both ends (RFC 5880 §6.8.4), seconds."""
    interval = max(profile.receive_interval, profile.transmit_interval)
    return profile.detect_multiplier * interval / 1000


def _ignore(_: object) -> None:
    pass


def _canonical(ip: str) -> str:
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return ip


def announced_elsewhere(message: Message) -> list[str]:
    """The addresses another node was seen announcing, in an L2 WatchEvents response."""
    if not isinstance(message, l2_pb2.WatchEventsResponse):
        return []
    return [
        event.foreign.ip
        for event in message.events
        if event.type == l2_pb2.EVENT_TYPE_ANNOUNCED_ELSEWHERE
    ]
