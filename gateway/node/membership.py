"""Who takes part in the L2 election, and whether this node must stop answering (pure).

MetalLB's speakers elect an address's owner among the members of their memberlist (behaviour
reference §3.5); `metallb_rules.announce.layer2.elect` is that election, and this module says who
the members are. Its inputs are what this node observes, each timed on its own monotonic clock:

- the BFD sessions (RFC 5880) it keeps to the other speaker nodes, Up or Down;
- the other nodes' Leases, read as client-go reads them (gateway/leases.py): a renewal is a
  change of the record this process saw;
- the outcome of renewing its own Lease, which also says whether the API server is reachable.

Theory of operation. For each other node the verdict is, in this order:

1. its BFD sessions all Down after one was Up: **out at once** (a dead, frozen or cut-off node
   is out within a detection time, 150 ms with 50 ms × 3, instead of a Lease duration);
2. a session Up: in, except that a node coming back after a Down must stay Up for `rejoin_hold`
   seconds first (hysteresis: a flapping link does not move addresses back and forth);
3. no session ever Up (no BFD to it yet, or none configured): its Lease decides, current as
   observed. While the API server is unreachable the Lease verdicts are frozen as they were when
   it became unreachable (nothing is withdrawn because Leases stopped changing), and when it is
   reachable again every Lease counts as renewed at that moment (client-go's start-up rule),
   since renewals could not be seen meanwhile.

This node itself is always a member, unless it is **fenced**: it has lost BFD to every peer (one
was Up, none is now) *and* it cannot renew its own Lease. When BFD to every peer is lost,
`renewal_wanted` asks for a renewal at once, and only outcomes *after the loss* answer the
question: a renewal then failed (fenced), or succeeded (not fenced, until none succeeds for
`renew_deadline` seconds), or no outcome came within `renewal_wait` (fenced). A failure from
before the loss says nothing: the API server may have come back since (a renewal failed during an
outage that has just ended, then a planned leave and a restart took both peers' sessions Down: the
node fenced itself on that stale failure and left an address unanswered for 3.5 s). A fenced node
must stop answering: the other nodes see its sessions Down and have elected someone else. The
bound: a fenced node stops answering within the detection time plus one renewal (at most
`renewal_wait`) after it was cut off. It answers again only once it has not met
the fencing condition for `rejoin_hold` seconds, the same hold its peers apply before counting it
in again, so it does not flap, and not while a peer back Up is still in its hold (it would elect
itself for that peer's addresses for a moment).

A node that has lost BFD to every peer but renews its Lease keeps answering: either its peers are
all gone (it is the survivor) or its link is cut (then no client hears it anyway).

**Resumed after a freeze** (SIGSTOP and SIGCONT, a VM paused, a process starved): the caller
reports a gap in this node's own monotonic clock with `resumed` (gateway/node/liveness.py sees
it as a call arriving long after the heartbeat it asked for). For as long as the gap lasted
this node observed nothing, while its peers (whose BFD sessions to a frozen BFD service timed
out) counted it out and took its addresses. So, after a resume:

- every Lease counts as renewed at that moment (client-go's start-up rule: renewals could not be
  seen meanwhile), so a frozen-for-long node does not believe its peers dead;
- for one BFD detection time plus `resume_settle` (`resuming`: 0.5 s at 50 ms x 3) the BFD
  sessions' verdicts are still arriving from a
  BFD service that was frozen too: the caller keeps its announcements as they were (sends
  nothing new: gateway/node/reconciler.py), and a session going Down then says **this node was
  the one cut off**, not that its peers died: it is **cut off** (fenced: announces nothing), and
  rejoins the way its peers count it in again: once a peer's session is Up and out of its
  `rejoin_hold` (and at least `rejoin_hold` after it was cut off). Without that rule it would
  elect itself for every peer's addresses until BFD is Up again plus the hold, answering beside
  the nodes that took them over (issue 13's double answers after a SIGCONT);
- if no peer comes back and none keeps its Lease current (they did die meanwhile), it is the
  survivor and answers again when their Leases expire, as observed from the resume on.

A gap with BFD staying Up (only the node role was frozen or its event loop stalled) changes
nothing once `resume_settle` has passed: the peers never counted this node out.
"""

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.leases import ObservedLeases


@dataclass(frozen=True)
class MembershipTiming:
    """Seconds."""

    # A peer back Up after a Down is counted in after this long; a fenced node answers again
    # after this long without meeting the fencing condition.
    rejoin_hold: float = 2.0
    # Without a successful renewal of our own Lease for this long, we "cannot renew" it even
    # while a renewal is still outstanding (client-go's renewDeadline).
    renew_deadline: float = 10.0
    # BFD to every peer lost: how long the renewal asked for may take to answer before we count
    # it failed (gateway/node/app.py: two requests of RENEW_TIMEOUT, 1 s, each).
    renewal_wait: float = 2.5
    # After a resume, a BFD session going Down within one detection time plus this long means
    # we were the one cut off: our BFD service, frozen too, declares its sessions Down at the
    # latest one detection time after it runs again (the packets queued meanwhile refresh them
    # once), and its report reaches us well within this.
    resume_settle: float = 0.35


DEFAULT_MEMBERSHIP_TIMING = MembershipTiming()


@dataclass
class _Peer:
    sessions: dict[str, bool] = field(default_factory=dict)  # session key -> Up
    ever_up: bool = False
    down_at: float | None = None  # when its last Up session went down (None: never)
    up_at: float | None = None  # when it last came Up


class Membership:
    def __init__(self, node: str, timing: MembershipTiming = DEFAULT_MEMBERSHIP_TIMING) -> None:
        self.node = node
        self.timing = timing
        self._peers: dict[str, _Peer] = {}
        self._leases = ObservedLeases()
        self._api_reachable = True
        self._frozen: frozenset[str] | None = None  # Lease verdicts while the API is unreachable
        self._renewed_at: float | None = None  # our own Lease, last success
        self._renew_failed_at: float | None = None  # last failure
        self._fenced = False
        self._clear_since: float | None = None  # fenced, not meeting the condition since then
        self._all_lost_at: float | None = None  # BFD to every peer lost since
        self._renewal_wanted = False
        self._resumed_at: float | None = None  # the last resume after a gap in our clock
        self._settle = timing.resume_settle  # after that resume
        self._cut_off_at: float | None = None  # a session went Down while resuming

    # Inputs.

    def bfd(self, peer: str, session: str, up: bool, now: float) -> None:
        """Session `session` (e.g. its peer address) to node `peer` is Up (True) or not."""
        state = self._peers.setdefault(peer, _Peer())
        was_up = any(state.sessions.values())
        state.sessions[session] = up
        is_up = any(state.sessions.values())
        if is_up and not was_up:
            state.ever_up = True
            state.up_at = now
        elif was_up and not is_up:
            state.down_at = now
            if self.resuming(now):
                self._cut_off_at = now  # our BFD service's view catching up with the freeze
        self._update(now)

    def bfd_removed(self, peer: str, session: str, now: float) -> None:
        """Session `session` to `peer` no longer exists (we deleted it: the peer is no longer a
        speaker on our segment); without sessions the peer's Lease decides again."""
        state = self._peers.get(peer)
        if state is None:
            return
        state.sessions.pop(session, None)
        if not state.sessions:
            del self._peers[peer]
        self._update(now)

    def leases(self, leases: Iterable[tuple[str, Mapping[str, Any]]], now: float) -> None:
        """Every node Lease as read at `now` (node name, spec); those not listed are gone. While
        the API server is unreachable the listing is stale and ignored."""
        if self._api_reachable:
            self._leases.observe_all(leases, now)

    def renewal(self, renewed: bool, now: float, *, api_reachable: bool = True) -> None:
        """The outcome of renewing our own Lease: `renewed`, or not (`api_reachable` False when
        the API server did not answer)."""
        self._renewal_wanted = False  # asked and answered
        if renewed:
            self._renewed_at = now
        else:
            self._renew_failed_at = now
        self.api(api_reachable, now)
        self._update(now)

    def api(self, reachable: bool, now: float) -> None:
        """Whether the API server answers (a renewal, a watch)."""
        if reachable == self._api_reachable:
            return
        self._api_reachable = reachable
        if not reachable:
            self._frozen = frozenset(self._leases.current(now))
        else:
            self._frozen = None
            # Renewals could not be seen while it was away: every Lease counts as renewed now.
            self._leases.restart(now)

    def resumed(self, now: float, detection: float = 0.15) -> None:
        """This node's clock jumped: it was frozen (or starved) until `now`; `detection`: the
        detection time of its BFD sessions (seconds)."""
        self._resumed_at = now
        self._settle = detection + self.timing.resume_settle
        self._leases.restart(now)  # renewals could not be seen meanwhile

    # Outputs.

    @property
    def api_reachable(self) -> bool:
        return self._api_reachable

    def live(self, candidates: Collection[str], now: float) -> set[str]:
        """The members among `candidates` (this node always, fenced or not: see `fenced`)."""
        self._update(now)
        return {n for n in candidates if n == self.node or self._member(n, now)}

    def fenced(self, now: float) -> bool:
        """This node must not answer for any address (fenced, or cut off after a resume)."""
        self._update(now)
        return self._fenced or self._cut_off_at is not None

    def resuming(self, now: float) -> bool:
        """Just resumed, BFD verdicts still arriving: announce nothing new."""
        return (
            self._resumed_at is not None
            and self._cut_off_at is None
            and now - self._resumed_at < self._settle
        )

    def renewal_wanted(self) -> bool:
        """BFD to every peer was just lost: renew our Lease now to know whether to fence."""
        return self._renewal_wanted

    def next_deadline(self, now: float) -> float | None:
        """When a verdict can change with time alone."""
        times: list[float] = []
        hold = self.timing.rejoin_hold
        for state in self._peers.values():
            if any(state.sessions.values()) and state.down_at is not None and state.up_at:
                times.append(state.up_at + hold)
        if self._fenced and self._clear_since is not None:
            times.append(self._clear_since + hold)
        if self._resumed_at is not None:
            times.append(self._resumed_at + self._settle)
        if self._cut_off_at is not None:
            times.append(self._cut_off_at + hold)
        if not self._fenced and self._all_lost_at is not None:
            ok = self._renewed_at
            if ok is not None and ok >= self._all_lost_at:
                times.append(ok + self.timing.renew_deadline)
            else:
                times.append(self._all_lost_at + self.timing.renewal_wait)
        if self._api_reachable:
            expiry = self._leases.next_expiry(now)
            if expiry is not None:
                times.append(expiry)
        later = [t for t in times if t > now]
        return min(later, default=None)

    # The rules.

    def _member(self, node: str, now: float) -> bool:
        state = self._peers.get(node)
        if state is not None and state.ever_up:
            if not any(state.sessions.values()):
                return False  # rule 1
            if state.down_at is not None and state.up_at is not None:
                return now - state.up_at >= self.timing.rejoin_hold  # rule 2, coming back
            return True
        if self._frozen is not None:  # rule 3
            return node in self._frozen
        return node in self._leases.current(now)

    def _bfd_all_lost(self) -> bool:
        peers = [p for p in self._peers.values() if p.sessions]
        return any(p.ever_up for p in peers) and not any(any(p.sessions.values()) for p in peers)

    def _cannot_renew(self, now: float, since: float) -> bool:
        """Our Lease cannot be renewed, as renewals after `since` (BFD to every peer lost)
        tell."""
        ok, failed = self._renewed_at, self._renew_failed_at
        if failed is not None and failed >= since and (ok is None or failed > ok):
            return True  # the renewal asked for failed
        if ok is not None and ok >= since:
            return now - ok >= self.timing.renew_deadline  # the survivor, while it renews
        return now - since >= self.timing.renewal_wait  # no answer yet

    def _rejoining(self, now: float) -> bool:
        """A peer is Up but still within its hold: not counted in yet."""
        return any(
            any(p.sessions.values())
            and p.down_at is not None
            and p.up_at is not None
            and now - p.up_at < self.timing.rejoin_hold
            for p in self._peers.values()
        )

    def _lease_alive(self, node: str, now: float) -> bool:
        if self._frozen is not None:
            return node in self._frozen
        return node in self._leases.current(now)

    def _rejoined(self, now: float) -> bool:
        """Cut off after a resume, and counted in again by the peers: a peer is Up and out of
        its hold, at least `rejoin_hold` after we were cut off (they apply the same hold to us);
        or no peer is Up and none keeps its Lease current (they died: we are the survivor)."""
        assert self._cut_off_at is not None
        up = [n for n, p in self._peers.items() if any(p.sessions.values())]
        if up:
            held = now - self._cut_off_at >= self.timing.rejoin_hold
            return held and not self._rejoining(now)
        return not any(self._lease_alive(n, now) for n, p in self._peers.items() if p.sessions)

    def _update(self, now: float) -> None:
        if self._cut_off_at is not None and self._rejoined(now):
            self._cut_off_at = None
            self._resumed_at = None
        lost = self._bfd_all_lost()
        if lost and self._all_lost_at is None:
            self._all_lost_at = now
            self._renewal_wanted = True
        elif not lost:
            self._all_lost_at = None
            self._renewal_wanted = False
        condition = self._all_lost_at is not None and self._cannot_renew(now, self._all_lost_at)
        if condition:
            self._fenced = True
            self._clear_since = None
        elif self._fenced:
            if self._clear_since is None:
                self._clear_since = now
            if now - self._clear_since >= self.timing.rejoin_hold and not self._rejoining(now):
                self._fenced = False
                self._clear_since = None
