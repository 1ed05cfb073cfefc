"""The node role with BFD liveness (gateway/node/liveness.py wired into gateway/node/reconciler.py)
on virtual time: failover at the BFD Down, fencing, the API outage, make-before-break hand-offs
and leaving. Three nodes; this one is node-1, the others have InternalIPs 10.0.0.2 and 10.0.0.3.
"""

from typing import Any

import grpc

from gateway.driver import Failure
from gateway.instances import ServiceInstance
from gateway.node.facts import FactsWatch
from gateway.node.liveness import BfdSessionState, Liveness
from gateway.node.reconciler import (
    Leave,
    NodeCommand,
    NodeReconciler,
    ReleaseLease,
    RenewLease,
    Rpc,
)
from metallb.l2.v1 import l2_pb2
from metallb_rules.announce.layer2 import elect
from tests.gateway.test_node_reconciler import (
    L2_ADVERTISEMENT,
    WEB,
    Cluster,
    endpoints,
    lease,
    service,
)
from tests.gateway.virtual_time import (
    Advance,
    Change,
    Check,
    Expect,
    Freeze,
    Reply,
    VirtualTime,
    play,
)

NODES = {"node-1", "node-2", "node-3"}
ADDRESS = {"node-2": "10.0.0.2", "node-3": "10.0.0.3"}
EXCLUDE = "node.kubernetes.io/exclude-from-external-load-balancers"


def describe(command: NodeCommand) -> tuple[Any, ...]:
    match command:
        case Rpc(service="l2", method="SetAnnouncements", request=request):
            return ("l2", {a.ip for a in request.announcements})  # type: ignore[attr-defined]
        case Rpc(service="bfd", method=method, request=request):
            r: Any = request
            address = r.session.peer_address if method == "AddSession" else r.key.peer_address
            return ("bfd", method, address)
        case RenewLease():
            return ("renew lease",)
        case ReleaseLease():
            return ("release lease",)
    raise AssertionError(command)


def node_obj(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}
    if labels:
        obj["metadata"]["labels"] = labels
    if name in ADDRESS:
        obj["status"] = {"addresses": [{"type": "InternalIP", "address": ADDRESS[name]}]}
    return obj


def address_owned_by(first: str, *, then: str | None = None) -> int:
    """The last octet of an address of 192.0.2.0/24 that `first` wins among the three nodes
    (and `then` once `first` is gone)."""
    for i in range(1, 255):
        order = elect(f"192.0.2.{i}", NODES)
        if order[0] == first and (then is None or order[1] == then):
            return i
    raise AssertionError("no such address")


def cluster_for(i: int) -> Cluster:
    slice_ = endpoints(i)
    for n in ("node-2", "node-3"):
        slice_["endpoints"].append(
            {"addresses": ["10.244.1.1"], "conditions": {"ready": True}, "nodeName": n}
        )
    cluster = Cluster(
        L2_ADVERTISEMENT,
        node_obj("node-2"),
        node_obj("node-3"),
        *(lease(n, "t0") for n in sorted(NODES)),
        service(i),
        slice_,
    )
    cluster.remove("Service", WEB)
    return cluster


def start(
    cluster: Cluster, renew_every: float = 30.0
) -> tuple[NodeReconciler, VirtualTime[Any, NodeCommand]]:
    """node-1's reconciler (renewing its Lease every 30 s unless told: out of the way)."""
    reconciler = NodeReconciler(
        "node-1",
        cluster.snapshot,
        l2=True,
        bgp=False,
        renew_every=renew_every,
        liveness=Liveness("node-1", bfd=True, handoff=1.0),
    )
    return reconciler, VirtualTime(reconciler, describe)


def up(node: str, state: bool = True) -> Change:
    return Change(BfdSessionState(ADDRESS[node], state))


def synced(ip: set[str]) -> list[Any]:
    """The first pass: our renewal, the sessions to both peers, the announcements; all Up."""
    return [
        Expect(("renew lease",), ("bfd", "AddSession", "10.0.0.2"), ("l2", ip)),
        Reply(("renew lease",), True),
        Reply(("bfd", "AddSession")),
        Expect(("bfd", "AddSession", "10.0.0.3")),
        Reply(("bfd", "AddSession")),
        Reply(("l2",)),
        up("node-2"),
        up("node-3"),
        Advance(0.5),
        Expect(),
    ]


def test_the_next_node_takes_over_at_the_bfd_down_without_waiting_for_the_lease() -> None:
    i = address_owned_by("node-2", then="node-1")
    ip = f"192.0.2.{i}"
    _, vt = start(cluster_for(i))
    play(vt, [
        *synced(set()),
        Advance(2.0),
        up("node-2", False),  # node-2 dies; its Lease is current for 14 more seconds
        Expect(("l2", {ip})),  # at once: no batching delay, no Lease expiry
        Reply(("l2",)),
        # node-2 is back: counted in after the 2 s hold; we hand the address back and keep
        # answering for the 1 s hand-off.
        Advance(1.0),
        up("node-2"),
        Advance(1.99),
        Expect(),
        Advance(0.01),
        Expect(),  # still ours for the hand-off
        Advance(1.0),
        Expect(("l2", set())),
    ])  # fmt: skip


def test_an_isolated_owner_fences_after_one_failed_renewal_and_comes_back_after_the_hold() -> None:
    i = address_owned_by("node-1")
    ip = f"192.0.2.{i}"
    _, vt = start(cluster_for(i))
    play(vt, [
        *synced({ip}),
        Advance(2.0),
        up("node-2", False),
        Expect(),
        up("node-3", False),  # BFD to every peer lost: are we the one cut off?
        Expect(("renew lease",)),
        Reply(("renew lease",), Failure(TimeoutError("read timed out"))),
        Expect(("l2", set())),  # fenced: stop answering
        Reply(("l2",)),
        Advance(3.0),
        up("node-2"),  # the link is back
        Advance(1.99),
        Expect(),
        Advance(0.01),
        Expect(("l2", {ip})),  # after the hold, as node-2 counts us in again
    ])  # fmt: skip


def test_the_survivor_of_its_peers_keeps_answering_and_takes_their_addresses() -> None:
    i = address_owned_by("node-2")
    ip = f"192.0.2.{i}"
    _, vt = start(cluster_for(i))
    play(vt, [
        *synced(set()),
        up("node-2", False),
        up("node-3", False),
        Expect(("renew lease",), ("l2", {ip})),
        Reply(("l2",)),
        Reply(("renew lease",), True),  # the API answers: we are not the one cut off
        Advance(0.5),
        Expect(),
    ])  # fmt: skip


def test_an_api_outage_with_healthy_nodes_changes_nothing() -> None:
    i = address_owned_by("node-2")
    cluster = cluster_for(i)
    reconciler, vt = start(cluster, renew_every=5.0)
    unreachable = Failure(ConnectionRefusedError("API server down"))
    rows: list[Any] = [*synced(set()), Advance(4.5)]
    for _ in range(12):  # 60 s: no renewal succeeds, no Lease changes
        rows += [Expect(("renew lease",)), Reply(("renew lease",), unreachable), Advance(5.0)]
    rows += [Expect(("renew lease",))]
    rows += [Check(lambda: not reconciler.liveness.membership.api_reachable)]  # type: ignore[union-attr]
    play(vt, rows)


def test_an_excluded_owner_keeps_answering_for_the_hand_off() -> None:
    i = address_owned_by("node-1")
    ip = f"192.0.2.{i}"
    cluster = cluster_for(i)
    _, vt = start(cluster)
    play(vt, [
        *synced({ip}),
        Change(lambda: cluster.put(node_obj("node-1", {EXCLUDE: ""}))),
        Advance(0.99),
        Expect(),  # the new owner announces meanwhile
        Advance(0.05),
        Expect(("l2", set())),
    ])  # fmt: skip


def seen_elsewhere(*ips: str) -> Change:
    """Our L2 service saw another node announce `ips` (its gratuitous ARP / unsolicited NA)."""
    foreign = [
        l2_pb2.Event(
            type=l2_pb2.EVENT_TYPE_ANNOUNCED_ELSEWHERE,
            foreign=l2_pb2.ForeignAnnouncement(ip=ip, mac="02:00:00:00:00:02", interface="eth0"),
        )
        for ip in ips
    ]
    return Change(FactsWatch("l2", l2_pb2.WatchEventsResponse(events=foreign)))


def test_an_excluded_owner_stops_answering_once_it_sees_the_new_owner_announce() -> None:
    i = address_owned_by("node-1")
    ip = f"192.0.2.{i}"
    cluster = cluster_for(i)
    _, vt = start(cluster)
    play(vt, [
        *synced({ip}),
        Change(lambda: cluster.put(node_obj("node-1", {EXCLUDE: ""}))),
        Advance(0.2),
        Expect(),  # still ours: nobody else announced it yet
        seen_elsewhere("192.0.2.250"),  # not one of ours: nothing to do
        Advance(0.01),
        Expect(),
        seen_elsewhere(ip),
        Advance(0.09),
        Expect(),  # still answering while the new owner settles in
        Advance(0.01),
        Expect(("l2", set())),  # 0.1 s after it was seen, not after the 1 s bound
    ])  # fmt: skip


def test_a_new_owner_seen_just_before_the_hand_off_counts_and_an_old_one_does_not() -> None:
    i = address_owned_by("node-1")
    ip = f"192.0.2.{i}"
    cluster = cluster_for(i)
    _, vt = start(cluster)
    play(vt, [
        *synced({ip}),
        seen_elsewhere(ip),  # the new owner learnt of the label before us
        Advance(0.3),
        Change(lambda: cluster.put(node_obj("node-1", {EXCLUDE: ""}))),
        Advance(0.1),
        Expect(("l2", set())),  # the pass that hands it off withdraws it too (seen 0.4 s ago)
        Reply(("l2",)),
        Change(lambda: cluster.put(node_obj("node-1"))),
        Advance(0.1),
        Expect(("l2", {ip})),  # ours again
        Reply(("l2",)),
        Advance(1.0),
        seen_elsewhere(ip),  # a conflict, 0.6 s before the next hand-off: too old to count
        Advance(0.6),
        Change(lambda: cluster.put(node_obj("node-1", {EXCLUDE: ""}))),
        Advance(0.9),
        Expect(),
        Advance(0.2),
        Expect(("l2", set())),  # the bound
    ])  # fmt: skip


def test_leaving_withdraws_once_every_address_was_seen_announced_by_its_new_owner() -> None:
    i = address_owned_by("node-1")
    ip = f"192.0.2.{i}"
    reconciler, vt = start(cluster_for(i))
    play(vt, [
        *synced({ip}),
        Change(Leave()),
        Expect(
            ("bfd", "DeleteSession", "10.0.0.2"),
            ("bfd", "DeleteSession", "10.0.0.3"),
            ("release lease",),
        ),
        Advance(0.1),
        Expect(),
        seen_elsewhere(ip),  # the next owner took over at our AdminDown and announced
        Advance(0.09),
        Expect(),
        Advance(0.01),
        Expect(("l2", set())),
        Reply(("l2",)),
        Check(lambda: reconciler.left),
    ])  # fmt: skip


def test_leaving_drops_our_sessions_and_lease_then_withdraws_after_the_hand_off() -> None:
    i = address_owned_by("node-1")
    ip = f"192.0.2.{i}"
    reconciler, vt = start(cluster_for(i))
    play(vt, [
        *synced({ip}),
        Change(Leave()),
        Expect(
            ("bfd", "DeleteSession", "10.0.0.2"),
            ("bfd", "DeleteSession", "10.0.0.3"),
            ("release lease",),
        ),
        Advance(0.99),
        Expect(),  # still answering while the peers elect the next owner
        Advance(0.01),
        Expect(("l2", set())),
        Check(lambda: not reconciler.left),
        Reply(("l2",)),
        Check(lambda: reconciler.left),
    ])  # fmt: skip


def test_a_restarted_bfd_service_gets_our_sessions_again() -> None:
    i = address_owned_by("node-2")
    _, vt = start(cluster_for(i))
    play(vt, [
        Change(ServiceInstance("bfd", "first")),
        *synced(set()),
        Change(BfdSessionState("192.0.2.99", False)),  # not ours (a BGP peer's): ignored
        Advance(0.5),
        Expect(),
        Change(ServiceInstance("bfd", "second")),
        Expect(("bfd", "AddSession", "10.0.0.2")),
        Reply(("bfd", "AddSession")),
        Expect(("bfd", "AddSession", "10.0.0.3")),
        # One left over from before: ALREADY_EXISTS counts as held, not as a failure.
        Reply(("bfd", "AddSession"), Failure(AlreadyExistsError())),
        Advance(1.0),
        Expect(),
    ])  # fmt: skip


class AlreadyExistsError(Exception):
    def code(self) -> Any:
        return grpc.StatusCode.ALREADY_EXISTS

    def details(self) -> str:
        return "session exists"


def test_a_resumed_owner_whose_sessions_went_down_announces_nothing_until_counted_in() -> None:
    # node-1 owns the address; frozen for 2 s, node-2 took it over. On the resume node-1's
    # BFD service reports both sessions Down (timed out while frozen): node-1 was the one cut
    # off. Its Lease still renews, yet it announces nothing, and takes nobody's address, until
    # its peers count it in again (Up, then the 2 s hold they apply too).
    i = address_owned_by("node-1", then="node-2")
    ip = f"192.0.2.{i}"
    _, vt = start(cluster_for(i))
    play(vt, [
        *synced({ip}),
        Advance(2.0),
        Freeze(2.0),
        up("node-2", False),
        up("node-3", False),
        Expect(("l2", set())),  # at once: cut off
        Reply(("l2",)),
        Advance(0.1),
        Expect(("renew lease",)),  # BFD to every peer lost: renew to know whether to fence
        Reply(("renew lease",), True),  # the API answers: still cut off
        Advance(0.9),
        Expect(),
        up("node-2"),
        up("node-3"),
        Advance(1.99),
        Expect(),
        Advance(0.01),
        Expect(("l2", {ip})),  # counted in by both after the hold: its address is back
    ])  # fmt: skip


def test_a_resumed_owner_whose_sessions_stayed_up_confirms_its_set_after_the_settle() -> None:
    # Only the node role was frozen (or its loop starved): BFD never went Down, nobody took
    # the address. The set is sent again once the BFD verdicts had time to arrive, so an L2
    # service frozen with it answers again (it waits for that confirmation).
    i = address_owned_by("node-1")
    ip = f"192.0.2.{i}"
    _, vt = start(cluster_for(i))
    play(vt, [
        *synced({ip}),
        Advance(2.0),
        Freeze(2.0),
        Advance(0.49),
        Expect(),  # resuming: nothing sent yet
        Advance(0.01),
        Expect(("l2", {ip})),
    ])  # fmt: skip
