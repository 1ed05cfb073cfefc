"""The node role's reconciler on virtual time (tests/gateway/virtual_time.py): what it sends to
the L2 and BGP services and when, as scenario tables. No services, no asyncio, no sleeps: a
table row is a change, a reply, or time passing, and `Expect` names the commands issued since
the previous one.

Timing under test (gateway/node/reconciler.py): a burst of changes is batched until 20 ms pass
without one (at most 0.5 s); a failed service is forgotten and retried after 0.2 s doubling to
1 s while the other is still served; another instance id of a service resends what it held;
status objects wait while changes come and are written once they stopped for 0.5 s, but at least
every `report_at_least_every`."""

import copy
from typing import Any

import grpc
import pytest
import yaml

from gateway.driver import Failure
from gateway.instances import ServiceInstance
from gateway.node.facts import FactWrite
from gateway.node.reconciler import (
    ListStatusObjects,
    NodeCommand,
    NodeReconciler,
    NodeTiming,
    RenewLease,
    Rpc,
    WriteFacts,
    WriteStatus,
)
from gateway.node.status import (
    BGP,
    L2,
    ConfigurationStateWrite,
    NodeAssigned,
    StatusOp,
    StatusWrite,
)
from gateway.snapshot import Snapshot, key_of
from metallb.bgp.v1 import bgp_pb2
from metallb_rules.announce.layer2 import elect
from tests.gateway.test_node_role import FOLDER
from tests.gateway.virtual_time import (
    Advance,
    Change,
    Check,
    Expect,
    Reply,
    Row,
    VirtualTime,
    play,
)

NS = "metallb-system"
L2_ADVERTISEMENT = {
    "apiVersion": "metallb.io/v1beta1",
    "kind": "L2Advertisement",
    "metadata": {"name": "l2", "namespace": NS},
    "spec": {},
}
WEB = "demo/web"


class Cluster:
    """The objects the source holds; the reconciler reads a copy at each computation."""

    def __init__(self, *extra: dict[str, Any]) -> None:
        self.snap = Snapshot(namespace=NS)
        # test_node_role's objects, with room for more services in the pool.
        for obj in [*yaml.safe_load_all(FOLDER.replace("/28", "/24")), *extra]:
            self.snap.add(copy.deepcopy(obj))

    def snapshot(self) -> Snapshot:
        return Snapshot({k: dict(v) for k, v in self.snap.objects.items()}, NS)

    def put(self, obj: dict[str, Any]) -> tuple[str, str]:
        self.snap.add(obj)
        return (str(obj["kind"]), key_of(obj))

    def remove(self, kind: str, key: str) -> tuple[str, str]:
        self.snap.objects[kind].pop(key)
        return (kind, key)


def describe(command: NodeCommand) -> tuple[Any, ...] | list[tuple[Any, ...]]:
    match command:
        case Rpc(service=service, method=method):
            request: Any = command.request
            detail: Any = ()
            if method == "SetAnnouncements":
                detail = {a.ip for a in request.announcements}
            elif method == "SetAdvertisements":
                detail = {r.prefix for a in request.advertisements for r in a.routes}
            elif method in ("AddPeer", "UpdatePeer"):
                detail = request.peer.name
            elif method == "DeletePeer":
                detail = request.name
            return (service, method) if detail == () else (service, method, detail)
        case ListStatusObjects():
            return ("list status objects",)
        case RenewLease():
            return ("renew lease",)
        case WriteStatus(ops=ops):  # one row per write
            return [describe_op(op) for op in ops]
        case WriteFacts(ops=ops):  # one row per published fact (gateway/node/facts.py)
            return [
                ("fact", op.name, None if op.status is None else op.status["bgpStatus"])
                for op in ops
                if isinstance(op, FactWrite)
            ]
    raise AssertionError(command)


def describe_op(op: StatusOp) -> tuple[Any, ...]:
    match op:
        case StatusWrite(plural, key, status):
            return ("status", plural, key, "delete" if status is None else "write")
        case NodeAssigned(service, protocol):
            return ("event", key_of(dict(service)), protocol)
        case ConfigurationStateWrite(valid, _):
            return ("configuration state", "valid" if valid else "invalid")
    raise AssertionError(op)


def service(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"s{i}", "namespace": "demo"},
        "spec": {"type": "LoadBalancer", "clusterIP": f"10.96.0.{i}", "ports": [{"port": 80}]},
        "status": {"loadBalancer": {"ingress": [{"ip": f"192.0.2.{i}"}]}},
    }


def endpoints(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"s{i}-1",
            "namespace": "demo",
            "labels": {"kubernetes.io/service-name": f"s{i}"},
        },
        "endpoints": [
            {"addresses": ["10.244.0.1"], "conditions": {"ready": True}, "nodeName": "node-1"}
        ],
    }


def held(*names: str) -> bgp_pb2.ListPeersResponse:
    """What a BGP service answers to ListPeers: the peers it holds."""
    return bgp_pb2.ListPeersResponse(
        peers=[bgp_pb2.Peer(conf=bgp_pb2.PeerConf(name=n)) for n in names]
    )


OK = None  # a successful RPC's reply, when the reconciler does not read it
UNAVAILABLE = Failure(ConnectionError("the service is down"))
FIRST_SYNC: list[Row] = [
    Expect(("l2", "SetAnnouncements", {"192.0.2.5"}), ("bgp", "ListPeers")),
    Reply(("bgp", "ListPeers"), held()),
    Expect(("bgp", "AddPeer", "router")),
    Reply(("bgp", "AddPeer")),
    Expect(("bgp", "SetAdvertisements", {"192.0.2.5/32"})),
    Reply(("l2", "SetAnnouncements")),
    Reply(("bgp", "SetAdvertisements")),
]


BGP_FIRST_SYNC: list[Row] = [
    Expect(("bgp", "ListPeers")),
    Reply(("bgp", "ListPeers"), held()),
    Reply(("bgp", "AddPeer")),
    Reply(("bgp", "SetAdvertisements")),
    Expect(("bgp", "AddPeer", "router"), ("bgp", "SetAdvertisements", {"192.0.2.5/32"})),
]


def node(
    cluster: Cluster,
    *,
    l2: bool = True,
    bgp: bool = True,
    statuses: bool = False,
    leases: bool = False,
    renew_every: float | None = None,
    **timing: float,
) -> tuple[NodeReconciler, VirtualTime[Any, NodeCommand]]:
    reconciler = NodeReconciler(
        "node-1",
        cluster.snapshot,
        l2=l2,
        leases=leases,
        renew_every=renew_every,
        bgp=bgp,
        statuses=statuses,
        timing=NodeTiming(**timing),
    )
    return reconciler, VirtualTime(reconciler, describe)


def test_the_first_pass_sends_everything_and_an_idle_pass_sends_nothing() -> None:
    reconciler, vt = node(Cluster(L2_ADVERTISEMENT))
    play(
        vt,
        [
            *FIRST_SYNC,
            Expect(),
            Check(lambda: reconciler.syncs == 1),
            # Nothing changes: the pass of every second (node Leases age) sends nothing.
            Advance(1.0),
            Expect(),
            Check(lambda: reconciler.syncs == 2),
        ],
    )


def test_the_bgp_service_holding_other_peers_gets_the_difference_in_order() -> None:
    reconciler, vt = node(Cluster(), l2=False)
    play(
        vt,
        [
            Expect(("bgp", "ListPeers")),
            Reply(("bgp", "ListPeers"), held("old-b", "old-a")),
            # One at a time: each is issued after the previous one succeeded.
            Expect(("bgp", "DeletePeer", "old-a")),
            Reply(("bgp", "DeletePeer")),
            Expect(("bgp", "DeletePeer", "old-b")),
            Reply(("bgp", "DeletePeer")),
            Expect(("bgp", "AddPeer", "router")),
            Reply(("bgp", "AddPeer")),
            Expect(("bgp", "SetAdvertisements", {"192.0.2.5/32"})),
            Reply(("bgp", "SetAdvertisements")),
            Check(lambda: reconciler.syncs == 1),
        ],
    )


def test_a_burst_of_changes_is_batched_until_it_stops() -> None:
    cluster = Cluster()
    _, vt = node(cluster, l2=False)
    play(vt, BGP_FIRST_SYNC)
    # Ten services 10 ms apart: no pass until 20 ms pass without a change.
    for i in range(1, 11):
        vt.change(cluster.put(endpoints(i)))
        vt.change(cluster.put(service(i)))
        play(vt, [Advance(0.01), Expect()])
    play(
        vt,
        [
            Advance(0.0099),
            Expect(),
            Advance(0.0001),
            Expect(("bgp", "SetAdvertisements", {f"192.0.2.{i}/32" for i in range(1, 11)})),
        ],
    )


def test_changes_that_never_stop_still_get_a_pass_every_half_second() -> None:
    cluster = Cluster()
    _, vt = node(cluster, l2=False)
    play(vt, BGP_FIRST_SYNC)
    passes = []
    for i in range(1, 120):  # a change every 10 ms for 1.2 s
        vt.change(cluster.put(endpoints(i)))
        vt.change(cluster.put(service(i)))
        vt.advance(0.01)
        for command in vt.issued:
            passes.append(round(vt.now, 2))
            vt.answer(command, OK)
        vt.issued.clear()
    # The burst began at t=0: a pass at most every 0.5 s.
    assert passes == [pytest.approx(0.5), pytest.approx(1.0)]


def test_a_failed_service_is_retried_with_backoff_and_the_other_is_still_served() -> None:
    cluster = Cluster(L2_ADVERTISEMENT)
    reconciler, vt = node(cluster)
    play(
        vt,
        [
            Expect(("l2", "SetAnnouncements", {"192.0.2.5"}), ("bgp", "ListPeers")),
            Reply(("bgp", "ListPeers"), UNAVAILABLE),
            Reply(("l2", "SetAnnouncements")),
            Expect(),
            # Retried 0.2 s later, then 0.4, 0.8, and 1 s at most; L2 holds its set already.
            Advance(0.19),
            Expect(),
            Advance(0.01),
            Expect(("bgp", "ListPeers")),
            Reply(("bgp", "ListPeers"), UNAVAILABLE),
            Advance(0.39),
            Expect(),
            Advance(0.01),
            Expect(("bgp", "ListPeers")),
            Reply(("bgp", "ListPeers"), UNAVAILABLE),
            Advance(0.8),
            Expect(("bgp", "ListPeers")),
            Reply(("bgp", "ListPeers"), UNAVAILABLE),
            Advance(1.0),
            Expect(("bgp", "ListPeers")),
            Reply(("bgp", "ListPeers"), UNAVAILABLE),
            Advance(1.0),
            Expect(("bgp", "ListPeers")),
            # Meanwhile a change reaches L2 at once (batched only by its 20 ms).
            Change(lambda: cluster.put(endpoints(9))),
            Change(lambda: cluster.put(service(9))),
            Reply(("bgp", "ListPeers"), UNAVAILABLE),
            Advance(0.02),
            Expect(("l2", "SetAnnouncements", {"192.0.2.5", "192.0.2.9"}), ("bgp", "ListPeers")),
            # BGP is back: it gets everything, and the backoff starts over.
            Reply(("bgp", "ListPeers"), held()),
            Expect(("bgp", "AddPeer", "router")),
            Reply(("bgp", "AddPeer")),
            Expect(("bgp", "SetAdvertisements", {"192.0.2.5/32", "192.0.2.9/32"})),
            Reply(("bgp", "SetAdvertisements")),
            Reply(("l2", "SetAnnouncements")),
            Advance(1.0),
            Expect(),
        ],
    )
    # Passes: at 0, 0.2, 0.6, 1.4, 2.4, 3.4 (failed), after the change, and 1 s later.
    assert reconciler.syncs == 8


def test_a_restarted_service_gets_what_it_held_again_without_recomputing() -> None:
    cluster = Cluster(L2_ADVERTISEMENT)
    _, vt = node(cluster)
    play(
        vt,
        [
            Change(ServiceInstance("bgp", "stream-1")),
            Change(ServiceInstance("l2", "stream-1")),
            *FIRST_SYNC,
            Expect(),
            # The same instance again (a watch that reconnected): nothing to resend.
            Change(ServiceInstance("bgp", None)),
            Change(ServiceInstance("bgp", "stream-1")),
            Expect(),
            # Another instance: BGP lost everything; L2 did not.
            Change(ServiceInstance("bgp", "stream-2")),
            Expect(("bgp", "ListPeers")),
            Reply(("bgp", "ListPeers"), held()),
            Expect(("bgp", "AddPeer", "router")),
            Reply(("bgp", "AddPeer")),
            Expect(("bgp", "SetAdvertisements", {"192.0.2.5/32"})),
            Reply(("bgp", "SetAdvertisements")),
            Change(ServiceInstance("l2", "stream-2")),
            Expect(("l2", "SetAnnouncements", {"192.0.2.5"})),
            Reply(("l2", "SetAnnouncements")),
            Expect(),
        ],
    )


def test_a_restart_while_a_pass_lists_the_peers_lists_them_again() -> None:
    _, vt = node(Cluster(), l2=False, statuses=True)
    play(
        vt,
        [
            Expect(("list status objects",), ("bgp", "ListPeers")),
            Reply(("list status objects",), set()),
            Change(ServiceInstance("bgp", "stream-1")),
            Change(ServiceInstance("bgp", "stream-2")),  # the list comes from the old instance
            Reply(("bgp", "ListPeers"), held("router")),
            # That pass did not sync BGP: no status object says it announces.
            Expect(("configuration state", "valid"), ("bgp", "ListPeers")),
            Reply(("bgp", "ListPeers"), held()),
            Expect(("bgp", "AddPeer", "router")),
        ],
    )


def test_an_invalid_configuration_keeps_the_last_valid_one() -> None:
    cluster = Cluster(L2_ADVERTISEMENT)
    reconciler, vt = node(cluster, statuses=True)
    bad_pool = dict(copy.deepcopy(cluster.snap.objects["IPAddressPool"][f"{NS}/pool"]))
    bad_pool["spec"]["addresses"] = ["not an address"]
    play(
        vt,
        [
            Expect(
                ("list status objects",),
                ("l2", "SetAnnouncements", {"192.0.2.5"}),
                ("bgp", "ListPeers"),
            ),
            Reply(("list status objects",), set()),
            *FIRST_SYNC[1:],
            Expect(
                ("configuration state", "valid"),
                ("status", BGP, WEB, "write"),
                ("event", WEB, "bgp"),
                ("status", L2, WEB, "write"),
                ("event", WEB, "layer2"),
            ),
            Change(lambda: cluster.put(bad_pool)),
            Advance(0.02),
            # Nothing withdrawn; the error is reported.
            Expect(("configuration state", "invalid")),
            Check(lambda: reconciler.config_error is not None),
        ],
    )


def test_status_objects_follow_announcements_and_adopt_what_a_previous_run_left() -> None:
    cluster = Cluster(L2_ADVERTISEMENT)
    _, vt = node(cluster, statuses=True)
    play(
        vt,
        [
            Expect(
                ("list status objects",),
                ("l2", "SetAnnouncements", {"192.0.2.5"}),
                ("bgp", "ListPeers"),
            ),
            Reply(("list status objects",), {(BGP, WEB), (BGP, "demo/gone")}),
            *FIRST_SYNC[1:],
            # The previous run's objects: still wanted ones rewritten (their status is not
            # known), the others deleted; an event only for what starts being announced.
            Expect(
                ("configuration state", "valid"),
                ("status", BGP, "demo/gone", "delete"),
                ("status", BGP, WEB, "write"),
                ("status", L2, WEB, "write"),
                ("event", WEB, "layer2"),
            ),
            # ConfigurationState deleted by hand: written again.
            Change(lambda: cluster.remove("Service", WEB)),
            Change(("ConfigurationState", f"{NS}/speaker-node-1")),
            Advance(0.02),
            Expect(("l2", "SetAnnouncements", set()), ("bgp", "SetAdvertisements", set())),
            Reply(("l2", "SetAnnouncements")),
            Reply(("bgp", "SetAdvertisements")),
            Expect(("configuration state", "valid")),
            # The status objects of the service no longer announced go once changes stopped.
            Advance(1.0),
            Expect(("status", BGP, WEB, "delete"), ("status", L2, WEB, "delete")),
        ],
    )


def lease(node_name: str, renewed: str) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": f"metallb-grpc-node-{node_name}", "namespace": NS},
        # A renewTime from a clock far from ours: only its changes count.
        "spec": {"holderIdentity": node_name, "renewTime": renewed, "leaseDurationSeconds": 15},
    }


def test_l2_ownership_moves_when_the_owner_stops_renewing_its_lease() -> None:
    # An address node-2 wins over node-1 (MetalLB's election, metallb_rules), on a service
    # with an endpoint on each node.
    ips = (f"192.0.2.{i}" for i in range(1, 255))
    ip = next(ip for ip in ips if elect(ip, {"node-1", "node-2"})[0] == "node-2")
    i = int(ip.rsplit(".", 1)[1])
    slice_ = endpoints(i)
    slice_["endpoints"].append(
        {"addresses": ["10.244.1.1"], "conditions": {"ready": True}, "nodeName": "node-2"}
    )
    cluster = Cluster(
        L2_ADVERTISEMENT,
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-2"}},
        lease("node-1", "1999-01-01T00:00:00Z"),
        lease("node-2", "1999-01-01T00:00:00Z"),
        service(i),
        slice_,
    )
    cluster.remove("Service", WEB)
    _, vt = node(cluster, bgp=False, leases=True)

    def renew(node_name: str, at: int) -> Change:
        return Change(lambda: cluster.put(lease(node_name, f"1999-01-01T00:00:{at:02}Z")))

    play(
        vt,
        [
            Expect(("l2", "SetAnnouncements", set())),  # node-2 is live and owns it
            Reply(("l2", "SetAnnouncements")),
            Advance(9.0),
            renew("node-1", 9),
            Advance(0.5),
            renew("node-2", 9),
            Advance(8.5),
            # node-2 renewed last at 9.5, seen by the pass 20 ms later: its lease ends at 24.52
            # (the passes of every second come at 24.02 and 25.02).
            renew("node-1", 18),
            Advance(6.5),
            Expect(),
            Advance(0.05),  # a pass at 24.52: node-1 takes over
            Expect(("l2", "SetAnnouncements", {ip})),
            Reply(("l2", "SetAnnouncements")),
            renew("node-2", 25),  # node-2 is back: it owns the address again
            Advance(0.02),
            Expect(("l2", "SetAnnouncements", set())),
        ],
    )


def test_the_node_lease_is_renewed_on_its_own_schedule() -> None:
    _, vt = node(Cluster(), l2=False, renew_every=5.0)
    play(
        vt,
        [
            Expect(("renew lease",), ("bgp", "ListPeers")),
            # A pass waiting for BGP does not hold the renewal back, nor the reverse.
            Advance(5.0),
            Expect(),  # (the previous renewal has not answered: no second one)
            Reply(("renew lease",), True),
            Expect(("renew lease",)),  # overdue: at once, the next one at 10
            Reply(("renew lease",), True),
            Advance(4.99),
            Expect(),
            Advance(0.01),
            Expect(("renew lease",)),
            # A failed or refused renewal is tried again on schedule.
            Reply(("renew lease",), Failure(ConnectionError("API server unreachable"))),
            Advance(5.0),
            Expect(("renew lease",)),
            Reply(("renew lease",), False),
            Advance(5.0),
            Expect(("renew lease",)),
            Reply(("bgp", "ListPeers"), held()),
            Expect(("bgp", "AddPeer", "router")),
        ],
    )


def test_a_peer_the_service_refuses_does_not_hold_back_the_others() -> None:
    """Issue 12: a refused peer stopped the node's whole BGP sync (no SetAdvertisements). Now
    it is that peer's failure alone, and it is tried again at the next pass."""
    second_peer = {
        "apiVersion": "metallb.io/v1beta2",
        "kind": "BGPPeer",
        "metadata": {"name": "router2", "namespace": NS},
        "spec": {"myASN": 64512, "peerASN": 64513, "peerAddress": "127.0.0.2"},
    }
    reconciler, vt = node(Cluster(second_peer), l2=False)
    refused = Failure(
        grpc.aio.AioRpcError(
            grpc.StatusCode.INVALID_ARGUMENT, grpc.aio.Metadata(), grpc.aio.Metadata(), "no"
        )
    )
    play(
        vt,
        [
            Expect(("bgp", "ListPeers")),
            Reply(("bgp", "ListPeers"), held()),
            Expect(("bgp", "AddPeer", "router")),
            Reply(("bgp", "AddPeer"), refused),
            Expect(("bgp", "AddPeer", "router2")),
            Reply(("bgp", "AddPeer")),
            Expect(("bgp", "SetAdvertisements", {"192.0.2.5/32"})),
            Reply(("bgp", "SetAdvertisements")),
            Check(lambda: set(reconciler.peer_errors) == {"router"}),
            Check(lambda: reconciler.syncs == 1),
            # The next (idle) pass tries the refused peer alone again.
            Advance(1.0),
            Expect(("bgp", "AddPeer", "router")),
            Reply(("bgp", "AddPeer")),
            Check(lambda: reconciler.peer_errors == {}),
        ],
    )


def test_a_refused_peer_is_published_and_unpublished_once_accepted() -> None:
    """Issue 16: `peer_errors` was written nowhere; the pass that ends with a refusal publishes
    the peer's BGPSessionState as Refused, and the pass that adds it takes that back."""
    _, vt = node(Cluster(), l2=False, statuses=True)
    refused = Failure(
        grpc.aio.AioRpcError(
            grpc.StatusCode.INVALID_ARGUMENT, grpc.aio.Metadata(), grpc.aio.Metadata(), "no"
        )
    )
    play(
        vt,
        [
            Expect(("list status objects",), ("bgp", "ListPeers")),
            Reply(("list status objects",), set()),
            Reply(("bgp", "ListPeers"), held()),
            Expect(("bgp", "AddPeer", "router")),
            Reply(("bgp", "AddPeer"), refused),
            Expect(("bgp", "SetAdvertisements", {"192.0.2.5/32"})),
            Reply(("bgp", "SetAdvertisements")),
            Expect(
                ("configuration state", "valid"),
                # (ServiceBGPStatus says configured intent, as MetalLB's: reference §5.)
                ("status", BGP, WEB, "write"),
                ("event", WEB, "bgp"),
                ("fact", "node-1.router", "Refused"),
            ),
            Advance(1.0),
            Expect(("bgp", "AddPeer", "router")),
            Reply(("bgp", "AddPeer")),
            Expect(("fact", "node-1.router", None)),
        ],
    )
