"""The node role's sans-I/O core: what this node's L2 and BGP services must hold, and when to tell
them (a `gateway.driver.Reconciler`; the I/O is gateway/node/role.py).

Theory of operation. A *pass* recomputes the node's desired state from the source's snapshot
(behaviour reference §3.1) and sends the difference to each service, in two independent lanes:
L2 gets its full announcement set (`SetAnnouncements`, declarative); BGP gets, one request after
the other, `ListPeers` when what it holds is unknown, `DeletePeer`/`AddPeer`/`UpdatePeer` for the
peers that differ, and the full route set (`SetAdvertisements`). A third lane lists this node's
status objects once (adoption). When every lane is done the pass reports status objects and the
ConfigurationState, and the next pass is scheduled:

- batching: a change starts a burst; the pass runs when no change came for `settle_quiet`
  seconds, or at the latest `max(settle_max, 5 × the last pass's duration)` after the burst
  began (each pass sends whole sets, so passes are spaced in proportion to their cost);
- backoff: a failed request forgets what that service holds (resend everything) and the next
  pass runs after 0.2 s, doubling to 1 s; the other service is still served;
- one peer never stops the others: a peer call the BGP service refuses (any status but
  UNAVAILABLE, DEADLINE_EXCEEDED or CANCELLED, which say the service itself is down) is that
  peer's failure alone. It is logged and kept in `peer_errors`, the lane goes on with the next
  peer and the route set, and the peer is tried again on the next pass;
- time alone changes liveness (node Leases, read as client-go reads them: gateway/leases.py): a
  pass recomputes at least every `idle` second;
- this node's Lease is renewed every `renew_every` seconds, whatever the passes do;
- restarts: a `ServiceInstance` change with another instance id forgets what that service held
  (gateway/instances.py) and runs a pass at once, without recomputing;
- status objects wait for announcements: while changes come (or came less than `report_quiet`
  ago) they are not written, except at least every `report_at_least_every` seconds;
- an invalid configuration keeps the last valid one in force (reported in ConfigurationState);
- with a `Liveness` (gateway/node/liveness.py), the L2 members come from BFD and Leases with
  fencing (gateway/node/membership.py): a BFD session change runs a pass at once, a third lane
  keeps the BFD sessions to the other speakers, L2 withdrawals are handed off (answered until
  the L2 service reports another node announcing them, or the hand-off's bound), and `Leave`
  (SIGTERM) drops our sessions and Lease, keeps answering until every address has its new owner
  (or the bound), withdraws, then sets `left`;
  every call first shows its `now` to `Liveness.clock`: after a gap in our clock (the node was
  frozen) the L2 set is forgotten and not sent while `resuming`, then sent again (the L2
  service, frozen too, answers only once a set confirms what it holds).
"""

import functools
import logging
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import Message

from gateway.instances import InstanceTracker, ServiceInstance
from gateway.leases import ObservedLeases
from gateway.node.desired import DesiredMemo, NodeDesired
from gateway.node.facts import FactOp, FactsWatch, NodeFacts
from gateway.node.liveness import BfdSessionState, Liveness, announced_elsewhere
from gateway.node.rpc import AdvertisementBuilder, announcement_specs, peer_conf
from gateway.node.status import BGP, L2, StatusOp, StatusReporter, wanted_statuses
from gateway.reconciler import Failure, IdSequence
from gateway.snapshot import Snapshot
from metallb.bgp.v1 import bgp_pb2
from metallb.l2.v1 import l2_pb2
from metallb_rules.config.model import Config, ConfigError
from metallb_rules.config.parse import parse

log = logging.getLogger(__name__)

NODE_LEASE_PREFIX = "metallb-grpc-node-"  # each node role renews `metallb-grpc-node-<node>`


@dataclass(frozen=True)
class Leave:
    """The role is stopping (SIGTERM): hand our addresses over, then withdraw."""


# (kind, key) from the source, a restart, a response of a service's watch (node facts), a BFD
# session's state, or the order to leave.
NodeChange = tuple[str, str] | ServiceInstance | FactsWatch | BfdSessionState | Leave


@dataclass(frozen=True)
class NodeTiming:
    """The node role's clocks, in seconds."""

    settle_quiet: float = 0.02  # without a change: a burst is over
    settle_max: float = 0.5  # a steady stream of changes still gets a pass this often
    idle: float = 1.0  # recompute at least this often (Lease liveness changes with time)
    retry_first: float = 0.2  # after a failed pass; doubles
    retry_max: float = 1.0
    # Status objects (two API writes each) wait until changes stopped for report_quiet, so a
    # burst's announcements are not slowed by them, but are written at least this often.
    report_quiet: float = 0.5
    report_at_least_every: float = 30.0


DEFAULT_TIMING = NodeTiming()


@dataclass(frozen=True)
class Rpc:
    """Call `method` of the node's `service` ("l2" or "bgp") with `request`."""

    request_id: int
    service: str
    method: str
    request: Message


@dataclass(frozen=True)
class ListStatusObjects:
    """`StatusWriter.existing()`: this node's status objects as they are now."""

    request_id: int


@dataclass(frozen=True)
class WriteStatus:
    """Queue status writes (retried by the write queue; no result expected): a pass's, at once."""

    request_id: int
    ops: tuple[StatusOp, ...]


@dataclass(frozen=True)
class RenewLease:
    """Renew this node's Lease `metallb-grpc-node-<node>` (its result: True while we hold it)."""

    request_id: int


@dataclass(frozen=True)
class WriteFacts:
    """Queue writes of this node's published facts (gateway/node/facts.py; no result)."""

    request_id: int
    ops: tuple[FactOp, ...]


@dataclass(frozen=True)
class ReleaseLease:
    """Give up this node's Lease (leaving): peers without BFD see us gone."""

    request_id: int


NodeCommand = Rpc | ListStatusObjects | WriteStatus | RenewLease | WriteFacts | ReleaseLease

# A step of a lane: the RPC, what to record once it succeeded, and the BGP peer it is about
# ("" for a step that concerns the whole service).
_Step = tuple[str, Message, Callable[[object], None], str]

#: gRPC status names that mean the service itself cannot be reached or is not ready.
SERVICE_DOWN = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED"})


@dataclass
class _Lane:
    service: str
    steps: deque[_Step] = field(default_factory=deque)
    in_flight: int | None = None  # request id
    after: Callable[[object], None] | None = None
    peer: str = ""  # the BGP peer the request in flight is about
    abandoned: bool = False  # stopped without syncing (its service restarted meanwhile)


@dataclass
class _Pass:
    started: float
    lanes: list[_Lane] = field(default_factory=list)
    synced: list[str] = field(default_factory=list)  # plurals whose service now holds the state
    failed: bool = False
    listing: int | None = None  # request id of ListStatusObjects


class NodeReconciler:
    def __init__(
        self,
        node: str,
        snapshot: Callable[[], Snapshot],
        *,
        l2: bool,
        bgp: bool,
        leases: bool = False,
        renew_every: float | None = None,
        lb_class: str = "",
        statuses: bool = False,
        timing: NodeTiming = DEFAULT_TIMING,
        liveness: Liveness | None = None,
    ) -> None:
        self.node = node
        self.liveness = liveness
        self._urgent_at: float | None = None  # membership changed: a pass at once
        self._liveness_at: float | None = None  # liveness changes with time alone then
        self._leave_at: float | None = None  # leaving: withdraw then
        self._leave_from = 0.0  # leaving since
        self._withdrawing: int | None = None
        self.left = False
        self._snapshot = snapshot
        self._l2 = l2
        self._bgp = bgp
        # With `leases`, only nodes whose Lease we saw renewed within its duration are L2
        # candidates (MetalLB's memberlist membership); without, every Node is.
        self._leases = ObservedLeases() if leases else None
        # This node's own Lease, renewed every `renew_every` seconds (None: no Lease to renew),
        # independently of the passes.
        self._renew_every = renew_every
        self._renew_at: float | None = float("-inf") if renew_every is not None else None
        self._renewing: int | None = None  # request id of the renewal in flight
        self._timing = timing
        self.config: Config | None = None
        self.config_error: ConfigError | None = None
        self.desired = NodeDesired()
        self.syncs = 0  # passes completed
        self._memo = DesiredMemo(node, lb_class)
        self._ids = IdSequence()
        self._out: list[NodeCommand] = []
        self._instances = InstanceTracker()
        self._reporter = StatusReporter(node) if statuses else None
        # Facts published for explain/status (BGP sessions, L2 interfaces and responders).
        self.facts = NodeFacts(node) if statuses else None
        # What each service holds as far as we know; None: unknown, send everything. A
        # restart bumps the service's epoch, so a reply to a request sent before it is ignored.
        self._l2_sent: list[l2_pb2.AnnouncementSpec] | None = None
        self._peers_sent: dict[str, bgp_pb2.PeerConf] | None = None
        self._ads_sent: list[bgp_pb2.PeerAdvertisements] | None = None
        # Peers the BGP service refused on the last attempt: name -> "CODE: details".
        self.peer_errors: dict[str, str] = {}
        self._epoch = {"l2": 0, "bgp": 0, "bfd": 0}
        self._ads = AdvertisementBuilder()
        self._services: Mapping[str, Mapping[str, Any]] = {}
        # (kind, key) changed since the last computation; None: unknown, look at everything.
        self._changed: set[tuple[str, str]] | None = None
        self._state_changed = False  # a change to our ConfigurationState was noted
        # Scheduling.
        self._pass: _Pass | None = None
        self._pending = False  # source changes not yet computed
        self._burst_at = 0.0  # when the pending burst began
        self._last_change_at = float("-inf")
        self._wake_at: float | None = None  # a pass without recomputing (a service is back)
        self._tick_at = float("-inf")  # the next recomputing pass (idle or retry); first: now
        self._lease_expires_at: float | None = None  # a live node's Lease, if not renewed
        self._ended_at = float("-inf")
        self._backoff = timing.retry_first
        self._pass_seconds = 0.0
        self._reported_at = float("-inf")

    # The Reconciler protocol.

    def handle(self, change: NodeChange, now: float) -> None:
        self._clock(now)
        if isinstance(change, Leave):
            self._leave(now)
            return
        if isinstance(change, BfdSessionState):
            if self.liveness is not None and self.liveness.session(change, now):
                self._urgent(now)
            return
        if isinstance(change, FactsWatch) and change.service == "l2":
            self._announced_elsewhere(announced_elsewhere(change.message), now)
        if self.facts is not None and self.facts.handle(change):
            self._publish_facts()
            return
        if isinstance(change, FactsWatch):
            return  # (no facts are published without status objects)
        if self.facts is not None:
            self._publish_facts()  # a service's watch broke: its facts become unknown
        if isinstance(change, ServiceInstance):
            if self._instances.observe(change):
                log.info("%s restarted (instance %s): resending", change.service, change.instance)
                self._forget(change.service)
            if self._wake_at is None:
                self._wake_at = now
            return
        if not self._pending:
            self._pending = True
            self._burst_at = now
        self._last_change_at = now
        kind, key = change
        if kind == "ConfigurationState" and key.endswith(f"/speaker-{self.node}"):
            self._state_changed = True
        if self._changed is not None:
            self._changed.add(change)

    def handle_result(self, request_id: int, result: object, now: float) -> None:
        self._clock(now)
        if request_id == self._withdrawing:
            self._withdrawing = None
            self.left = True
            return
        if request_id == self._renewing:
            self._renewing = None
            if self.liveness is not None:
                failed = isinstance(result, Failure)
                self.liveness.membership.renewal(result is True, now, api_reachable=not failed)
                self._urgent(now)  # fenced or not may have changed
            if isinstance(result, Failure):
                log.warning("node Lease not renewed: %s", describe_error(result.error))
            elif not result:
                log.warning("node Lease of %s is held by another process", self.node)
            return
        current = self._pass
        if current is None:
            return
        if request_id == current.listing:
            current.listing = None
            self._adopted(result)
        for lane in current.lanes:
            if lane.in_flight == request_id:
                self._lane_result(current, lane, result)
        self._maybe_finish(current, now)

    def commands(self) -> Iterable[NodeCommand]:
        out, self._out = self._out, []
        return out

    def next_deadline(self) -> float | None:
        if self._leave_at is not None:
            return self._leave_at if self._withdrawing is None and not self.left else None
        deadline = self._pass_deadline()
        if self._renew_at is not None and self._renewing is None:
            deadline = self._renew_at if deadline is None else min(deadline, self._renew_at)
        heartbeat = self.liveness.clock_deadline() if self.liveness is not None else None
        if heartbeat is not None:
            deadline = heartbeat if deadline is None else min(deadline, heartbeat)
        return deadline

    def _clock(self, now: float) -> None:
        if self.liveness is not None and self._leave_at is None and self.liveness.clock(now):
            self._forget("l2")  # it may have been frozen too: confirm the set once decided
            self._urgent(now)

    def _pass_deadline(self) -> float | None:
        if self._pass is not None:
            return None  # waiting for the services' replies
        deadline = self._tick_at
        for at in (self._urgent_at, self._liveness_at):
            if at is not None:
                deadline = min(deadline, at)
        if self._lease_expires_at is not None:
            deadline = min(deadline, self._lease_expires_at)
        if self._wake_at is not None:
            deadline = min(deadline, self._wake_at)
        if self._pending:
            t = self._timing
            burst_start = max(self._burst_at, self._ended_at)
            longest = burst_start + max(t.settle_max, 5 * self._pass_seconds)
            deadline = min(deadline, self._last_change_at + t.settle_quiet, longest)
        return deadline

    def handle_timer(self, now: float) -> None:
        self._clock(now)
        if self._leave_at is not None:
            if now >= self._leave_at and self._withdrawing is None and not self.left:
                if not self._l2:
                    self.left = True
                    return
                self._withdrawing = self._ids()
                request = l2_pb2.SetAnnouncementsRequest(announcements=[])
                self._out.append(Rpc(self._withdrawing, "l2", "SetAnnouncements", request))
            return
        membership = self.liveness.membership if self.liveness is not None else None
        wanted = membership is not None and membership.renewal_wanted()
        if wanted and self._renew_at is not None and self._renewing is None:
            # BFD to every peer lost: renew at once (not again while that renewal is out).
            self._renew_at = min(self._renew_at, now)
        if self._renew_at is not None and self._renewing is None and now >= self._renew_at:
            assert self._renew_every is not None
            self._renewing = self._ids()
            self._renew_at = now + self._renew_every
            self._out.append(RenewLease(self._renewing))
        deadline = self._pass_deadline()
        if deadline is None or now < deadline:
            return
        expired = self._lease_expires_at is not None and now >= self._lease_expires_at
        for at in (self._urgent_at, self._liveness_at):
            expired = expired or (at is not None and now >= at)
        self._urgent_at = self._liveness_at = None
        recompute = self._pending or expired or now >= self._tick_at
        if expired:
            self._lease_expires_at = None  # the computation sets the next one
        self._pending = False
        self._wake_at = None
        self._start_pass(now, recompute)

    # A pass.

    def _start_pass(self, now: float, recompute: bool) -> None:
        if recompute:
            self._compute(now)
        current = _Pass(started=now)
        self._pass = current
        if self._reporter is not None and not self._reporter.adopted:
            current.listing = self._ids()
            self._out.append(ListStatusObjects(current.listing))
        layer2 = self.desired.layer2
        if self.liveness is not None:
            layer2 = self.liveness.layer2(layer2, now)
            self._liveness_at = self.liveness.next_deadline(now)
            if self.liveness.bfd:
                lane = _Lane("bfd")
                current.lanes.append(lane)
                for method, request, after in self.liveness.bfd_steps(now):
                    lane.steps.append((method, request, after, ""))
                self._advance(current, lane)
        if self._l2:
            lane = _Lane("l2")
            current.lanes.append(lane)
            specs = announcement_specs(layer2)
            resuming = self.liveness is not None and self.liveness.membership.resuming(now)
            if specs != self._l2_sent and not (resuming and specs):
                request = l2_pb2.SetAnnouncementsRequest(announcements=specs)
                lane.steps.append(("SetAnnouncements", request, self._l2_recorder(specs), ""))
            self._advance(current, lane)
        if self._bgp:
            lane = _Lane("bgp")
            current.lanes.append(lane)
            if self._peers_sent is None:
                listed = self._peers_listed(lane)
                lane.steps.append(("ListPeers", bgp_pb2.ListPeersRequest(), listed, ""))
            else:
                self._plan_bgp(lane)
            self._advance(current, lane)
        self._maybe_finish(current, now)

    def _compute(self, now: float) -> None:
        snap = self._snapshot()
        try:
            self.config = parse(snap.cluster_resources())
            self.config_error = None
        except ConfigError as err:
            self.config_error = err
            log.error("configuration error: %s (keeping the last valid one)", err.describe())
        if self.config is None:
            return
        changed, self._changed = self._changed, set()
        if self.liveness is not None:
            self.liveness.want_sessions(snap, self.config)
        self.desired = self._memo.compute(snap, self.config, self._live(snap, now), changed)
        self._services = snap.objects.get("Service", {})
        # Our ConfigurationState changed and is gone (deleted by hand): write it again.
        if self._state_changed and self._reporter is not None:
            state = f"{snap.namespace}/speaker-{self.node}"
            if state not in snap.objects.get("ConfigurationState", {}):
                self._reporter.forget_configuration()
        self._state_changed = False

    def _live(self, snap: Snapshot, now: float) -> Collection[str] | None:
        """The nodes with a current Lease (None: every node counts as live), or with a
        `Liveness`, its members."""
        if self.liveness is not None:
            self.liveness.leases(
                (
                    (name.removeprefix(NODE_LEASE_PREFIX), lease.get("spec") or {})
                    for lease in snap.of("Lease")
                    if (name := str((lease.get("metadata") or {}).get("name") or "")).startswith(
                        NODE_LEASE_PREFIX
                    )
                ),
                now,
            )
            return self.liveness.live([n.name for n in snap.nodes()], now)
        if self._leases is None:
            return None
        leases = (
            (name, lease.get("spec") or {})
            for lease in snap.of("Lease")
            if (name := str((lease.get("metadata") or {}).get("name") or "")).startswith(
                NODE_LEASE_PREFIX
            )
        )
        self._leases.observe_all(leases, now)
        self._lease_expires_at = self._leases.next_expiry(now)
        return {name.removeprefix(NODE_LEASE_PREFIX) for name in self._leases.current(now)}

    def _l2_recorder(self, specs: list[l2_pb2.AnnouncementSpec]) -> Callable[[object], None]:
        epoch = self._epoch["l2"]

        def record(_: object) -> None:
            if self._epoch["l2"] == epoch:
                self._l2_sent = specs

        return record

    def _peers_listed(self, lane: _Lane) -> Callable[[object], None]:
        epoch = self._epoch["bgp"]

        def record(reply: object) -> None:
            if self._epoch["bgp"] != epoch:
                # Restarted meanwhile: that list is stale; the pass the restart asked for lists
                # again.
                lane.steps.clear()
                lane.abandoned = True
                return
            assert isinstance(reply, bgp_pb2.ListPeersResponse)
            self._peers_sent = {p.conf.name: p.conf for p in reply.peers}
            self._plan_bgp(lane)

        return record

    def _plan_bgp(self, lane: _Lane) -> None:
        """The BGP requests, in order: peers to delete, add and update, then the route set."""
        sent = self._peers_sent
        assert sent is not None
        profiles = self.config.bfd_profiles if self.config is not None else {}
        wanted = {p.name: peer_conf(p, profiles) for p in self.desired.peers}
        epoch = self._epoch["bgp"]
        errors = self.peer_errors
        for name in set(errors) - set(wanted) - set(sent):
            del errors[name]  # neither wanted nor held: nothing left to fail
        for name in sorted(set(sent) - set(wanted)):
            request: Message = bgp_pb2.DeletePeerRequest(name=name)
            done = functools.partial(_peer_deleted, sent, errors, name)
            lane.steps.append(("DeletePeer", request, done, name))
        for name, conf in sorted(wanted.items()):
            if name not in sent:
                method, request = "AddPeer", bgp_pb2.AddPeerRequest(peer=conf)
            elif sent[name] != conf:
                method, request = "UpdatePeer", bgp_pb2.UpdatePeerRequest(peer=conf)
            else:
                continue
            done = functools.partial(_peer_set, sent, errors, name, conf)
            lane.steps.append((method, request, done, name))
        ads = self._ads.build(self.desired.routes)
        if ads is not self._ads_sent and ads != self._ads_sent:

            def record(_: object) -> None:
                if self._epoch["bgp"] == epoch:
                    self._ads_sent = ads

            request = bgp_pb2.SetAdvertisementsRequest(advertisements=ads)
            lane.steps.append(("SetAdvertisements", request, record, ""))

    def _advance(self, current: _Pass, lane: _Lane) -> None:
        """Issue the lane's next request, or count the lane as synced when none is left."""
        if not lane.steps:
            lane.in_flight = None
            plural = {"l2": L2, "bgp": BGP}.get(lane.service)
            if not lane.abandoned and plural is not None:
                current.synced.append(plural)
            return
        method, request, after, peer = lane.steps.popleft()
        lane.in_flight, lane.after, lane.peer = self._ids(), after, peer
        self._out.append(Rpc(lane.in_flight, lane.service, method, request))

    def _lane_result(self, current: _Pass, lane: _Lane, result: object) -> None:
        lane.in_flight = None
        if (
            lane.service == "bfd"
            and isinstance(result, Failure)
            and _code(result.error)
            in (
                "ALREADY_EXISTS",  # held since an earlier run of this role
                "NOT_FOUND",  # already gone
            )
        ):
            result = None
        if isinstance(result, Failure) and lane.peer and not _service_down(result.error):
            # This peer's failure alone: the other peers and the route set still go out.
            self.peer_errors[lane.peer] = describe_error(result.error)
            log.error("BGP peer %s refused: %s", lane.peer, self.peer_errors[lane.peer])
            self._advance(current, lane)
            return
        if isinstance(result, Failure):
            log.warning("%s failed (%s)", lane.service, describe_error(result.error))
            lane.steps.clear()
            current.failed = True
            self._forget(lane.service)
            return
        if lane.after is not None:
            lane.after(result)
        self._advance(current, lane)

    def _adopted(self, result: object) -> None:
        assert self._reporter is not None
        if isinstance(result, Failure):  # the API is unreachable: try again on the next pass
            log.warning("status objects of %s not listed: %s", self.node, result.error)
            return
        assert isinstance(result, Iterable)
        self._reporter.adopt(result)

    def _maybe_finish(self, current: _Pass, now: float) -> None:
        if current.listing is not None or any(lane.in_flight is not None for lane in current.lanes):
            return
        self._report(current.synced, now)
        self.syncs += 1
        self._pass = None
        self._pass_seconds = now - current.started
        self._ended_at = now
        t = self._timing
        if current.failed:
            self._tick_at = now + self._backoff
            self._backoff = min(self._backoff * 2, t.retry_max)
        else:
            self._tick_at = now + t.idle
            self._backoff = t.retry_first

    def _forget(self, service: str) -> None:
        self._epoch[service] += 1
        if service == "l2":
            self._l2_sent = None
        elif service == "bgp":
            self._peers_sent = None
            self._ads_sent = None
        elif service == "bfd" and self.liveness is not None:
            self.liveness.forget_sessions()

    def _urgent(self, now: float) -> None:
        """Membership may have changed: recompute at once (failover waits for no batching)."""
        if self._urgent_at is None:
            self._urgent_at = now

    def _leave(self, now: float) -> None:
        if self._leave_at is not None:
            return
        if self.liveness is None:
            self.left = True  # no peers to hand over to
            return
        for method, request, _ in self.liveness.leave_steps():
            self._out.append(Rpc(self._ids(), "bfd", method, request))
        if self._renew_every is not None:
            self._out.append(ReleaseLease(self._ids()))
        self._leave_at = now + self.liveness.handoff
        self._leave_from = now

    def _announced_elsewhere(self, ips: list[str], now: float) -> None:
        """Other nodes were seen announcing `ips`: withdraw what they took over from us."""
        if not ips or self.liveness is None:
            return
        if self.liveness.announced_elsewhere(ips, now) and self._wake_at is None:
            self._wake_at = now  # a pass withdraws the hand-offs that ended
        if self._leave_at is not None and self._withdrawing is None and not self.left:
            held = {a.ip for a in self._l2_sent} if self._l2_sent is not None else None
            at = None if held is None else self.liveness.handed_over_at(held, self._leave_from)
            if at is not None:
                self._leave_at = min(self._leave_at, at)  # every address has its new owner

    def _report(self, synced: list[str], now: float) -> None:
        """Status objects and events for what the services now hold (after a successful sync,
        as MetalLB writes them after SetBalancer), and the configuration's state."""
        reporter = self._reporter
        if reporter is None:
            return
        err = self.config_error
        message = "" if err is None else f"configuration error: {err.describe()}"
        ops = reporter.report_configuration(err is None, message)
        if self.config is not None and reporter.adopted:
            t = self._timing
            busy = self._pending or now - self._last_change_at < t.report_quiet
            if not busy or now - self._reported_at >= t.report_at_least_every:
                # (While changes come the status objects wait: announcements first.)
                self._reported_at = now
                protocols = tuple(
                    plural
                    for plural, enabled in ((L2, self._l2), (BGP, self._bgp))
                    if enabled and plural in synced
                )
                wanted = wanted_statuses(self.node, self.desired)
                ops += reporter.report(wanted, self._services, protocols=protocols)
        if ops:
            self._out.append(WriteStatus(self._ids(), tuple(ops)))
        if self.facts is not None:
            addresses = {p.name: p.address for p in self.desired.peers}
            self.facts.set_refused(self.peer_errors, addresses)
            self._publish_facts()

    def _publish_facts(self) -> None:
        assert self.facts is not None
        if self.facts.dirty and (ops := self.facts.writes()):
            self._out.append(WriteFacts(self._ids(), tuple(ops)))


def _peer_deleted(
    sent: dict[str, bgp_pb2.PeerConf], errors: dict[str, str], name: str, _: object
) -> None:
    sent.pop(name, None)
    errors.pop(name, None)


def _peer_set(
    sent: dict[str, bgp_pb2.PeerConf],
    errors: dict[str, str],
    name: str,
    conf: bgp_pb2.PeerConf,
    _: object,
) -> None:
    sent[name] = conf
    errors.pop(name, None)


def _code(err: Exception) -> str:
    """The gRPC status name of `err` ("" if it has none), without importing grpc."""
    code = getattr(err, "code", None)
    return str(getattr(code(), "name", "")) if callable(code) else ""


def _service_down(err: Exception) -> bool:
    """True unless `err` is a gRPC status that refuses this one call (without importing grpc:
    an error without a status code counts as the service being down)."""
    code = getattr(err, "code", None)
    if not callable(code):
        return True
    return str(getattr(code(), "name", "UNAVAILABLE")) in SERVICE_DOWN


def describe_error(err: Exception) -> str:
    """`CODE: details` for a gRPC error (without importing grpc), else the exception's text."""
    code, details = getattr(err, "code", None), getattr(err, "details", None)
    if callable(code) and callable(details):
        return f"{getattr(code(), 'name', code())}: {details()}"
    return f"{type(err).__name__}: {err}"
