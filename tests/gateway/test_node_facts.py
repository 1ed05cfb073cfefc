"""The node's published facts (gateway/node/facts.py): BGP sessions in frr-k8s's
BGPSessionState shape and the L2 responder's interfaces and addresses, from the services' watch
streams; the refused peers (`peer_errors`); unknown while a service does not answer."""

from collections.abc import Iterable
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from gateway.instances import ServiceInstance
from gateway.node.facts import FactPrune, FactsWatch, FactWrite, NodeFacts
from gateway.node.reconciler import NodeReconciler, WriteFacts
from gateway.snapshot import Snapshot
from metallb.bgp.v1 import bgp_pb2
from metallb.common.v1 import common_pb2
from metallb.l2.v1 import l2_pb2

EOS = common_pb2.EndOfSnapshot()


def peer(name: str, state: int, *, bfd: str = "", sent: int = 0, error: str = "") -> bgp_pb2.Peer:
    out = bgp_pb2.Peer(
        conf=bgp_pb2.PeerConf(name=name, peer_address="192.0.2.1", bfd_profile="p" if bfd else ""),
        state=bgp_pb2.PeerState(session_state=state, bfd_status=bfd, prefixes_advertised=sent),  # type: ignore[arg-type]
    )
    out.state.last_transition_time.CopyFrom(Timestamp(seconds=1_800_000_000))
    if error:
        out.state.last_error.message = error
    return out


def bgp_snapshot(*peers: bgp_pb2.Peer) -> list[FactsWatch]:
    events = [bgp_pb2.PeerEvent(type=bgp_pb2.PEER_EVENT_TYPE_SNAPSHOT, peer=p) for p in peers]
    return [
        FactsWatch("bgp", bgp_pb2.WatchPeersResponse(events=events)),
        FactsWatch("bgp", bgp_pb2.WatchPeersResponse(end_of_snapshot=EOS)),
    ]


def statuses(ops: Iterable[object]) -> dict[str, Any]:
    return {f"{op.plural}/{op.name}": op.status for op in ops if isinstance(op, FactWrite)}


def test_sessions_are_published_in_frr_k8s_shape_and_follow_changes() -> None:
    facts = NodeFacts("node-1")
    for change in bgp_snapshot(peer("router", bgp_pb2.SESSION_STATE_ACTIVE, error="refused")):
        assert facts.handle(change)
    ops = facts.writes()
    assert statuses(ops) == {
        "bgpsessionstates/node-1.router": {
            "node": "node-1",
            "peer": "192.0.2.1",
            "vrf": "",
            "bgpStatus": "Active",
            "bfdStatus": "N/A",
            "bgpPeer": "router",
            "since": "2027-01-15T08:00:00Z",
            "prefixesSent": 0,
            "lastError": "refused",
        }
    }
    write = next(op for op in ops if isinstance(op, FactWrite))
    assert write.labels == {"metallb.io/node": "node-1", "metallb.io/peer": "router"}
    # After a snapshot, objects of peers that no longer exist are deleted.
    assert FactPrune("bgpsessionstates", frozenset({"node-1.router"})) in ops
    assert facts.writes() == []  # nothing changed
    up = peer("router", bgp_pb2.SESSION_STATE_ESTABLISHED, bfd="up", sent=3)
    facts.handle(
        FactsWatch(
            "bgp",
            bgp_pb2.WatchPeersResponse(
                events=[bgp_pb2.PeerEvent(type=bgp_pb2.PEER_EVENT_TYPE_CHANGED, peer=up)]
            ),
        )
    )
    (status,) = statuses(facts.writes()).values()
    assert (status["bgpStatus"], status["bfdStatus"], status["prefixesSent"]) == (
        "Established",
        "up",
        3,
    )
    # The BGP service stops answering: its sessions are unknown, not left as they were.
    assert not facts.handle(ServiceInstance("bgp", None))
    (status,) = statuses(facts.writes()).values()
    assert (status["bgpStatus"], status["bfdStatus"]) == ("Unknown", "Unknown")
    # It comes back without the peer: a new snapshot, the object goes.
    for change in bgp_snapshot():
        facts.handle(change)
    ops = facts.writes()
    assert statuses(ops) == {"bgpsessionstates/node-1.router": None}


def test_refused_peers_are_published_with_the_refusal() -> None:
    facts = NodeFacts("node-1")
    facts.set_refused({"bad": "INVALID_ARGUMENT: spec.interface"}, {"bad": "192.0.2.9"})
    (status,) = statuses(facts.writes()).values()
    assert status == {
        "node": "node-1",
        "peer": "192.0.2.9",
        "vrf": "",
        "bgpStatus": "Refused",
        "bfdStatus": "N/A",
        "bgpPeer": "bad",
        "prefixesSent": 0,
        "lastError": "INVALID_ARGUMENT: spec.interface",
    }
    facts.set_refused({}, {})
    assert statuses(facts.writes()) == {"bgpsessionstates/node-1.bad": None}


def test_l2_interfaces_and_responder_are_published() -> None:
    facts = NodeFacts("node-1")
    eth0 = l2_pb2.Interface(name="eth0", arp_eligible=True, ndp_eligible=True)
    lo = l2_pb2.Interface(
        name="lo",
        arp_reason=l2_pb2.INELIGIBLE_REASON_EXCLUDED,
        ndp_reason=l2_pb2.INELIGIBLE_REASON_EXCLUDED,
    )
    held = l2_pb2.Announcement(
        ip="192.0.2.5", answering_on=["eth0"], status=l2_pb2.ANNOUNCEMENT_STATUS_ANNOUNCING
    )
    snap = l2_pb2.EVENT_TYPE_SNAPSHOT
    facts.handle(
        FactsWatch(
            "l2",
            l2_pb2.WatchEventsResponse(
                events=[
                    l2_pb2.Event(type=snap, announcement=held),
                    l2_pb2.Event(type=snap, interface=eth0),
                    l2_pb2.Event(type=snap, interface=lo),
                ]
            ),
        )
    )
    assert facts.writes() == []  # the snapshot is not over yet
    facts.handle(FactsWatch("l2", l2_pb2.WatchEventsResponse(end_of_snapshot=EOS)))
    assert statuses(facts.writes()) == {
        "l2nodestates/node-1": {
            "node": "node-1",
            "reachable": True,
            "interfaces": [
                {"name": "eth0", "arp": "eligible", "ndp": "eligible"},
                {"name": "lo", "arp": "excluded", "ndp": "excluded"},
            ],
            "announcements": [{"ip": "192.0.2.5", "status": "announcing", "answeringOn": ["eth0"]}],
        }
    }
    gone = l2_pb2.Event(type=l2_pb2.EVENT_TYPE_WITHDRAWN, announcement=held)
    facts.handle(FactsWatch("l2", l2_pb2.WatchEventsResponse(events=[gone])))
    (status,) = statuses(facts.writes()).values()
    assert status["announcements"] == []


def test_the_node_reconciler_publishes_a_watch_response_at_once() -> None:
    """The hook: a watch response becomes a WriteFacts command without waiting for a pass (the
    refused peers: tests/gateway/test_node_reconciler.py)."""
    rec = NodeReconciler("node-1", Snapshot, l2=False, bgp=True, statuses=True)
    for change in bgp_snapshot(peer("router", bgp_pb2.SESSION_STATE_IDLE)):
        rec.handle(change, 0.0)
    (command,) = rec.commands()
    assert isinstance(command, WriteFacts)
    assert statuses(command.ops)["bgpsessionstates/node-1.router"]["bgpStatus"] == "Idle"


def test_without_status_objects_no_facts_are_published() -> None:
    rec = NodeReconciler("node-1", Snapshot, l2=False, bgp=True)
    for change in bgp_snapshot(peer("router", bgp_pb2.SESSION_STATE_IDLE)):
        rec.handle(change, 0.0)
    assert list(rec.commands()) == []
