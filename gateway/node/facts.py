"""What a node observes and publishes for `explain` and `status` (pure; issue 16).

The node role already keeps a watch open on its BGP and L2 services (restart detection,
gateway/instance_watch.py); every response of those streams is also handed here, as a
`FactsWatch`, and turned into two kinds of objects in the MetalLB namespace:

- `BGPSessionState` (metallb.io/v1beta1), one per (node, BGP peer): frr-k8s's BGPSessionState
  shape (`node`, `peer` = the neighbour's address, `vrf`, `bgpStatus` as FRR spells the FSM
  state, `bfdStatus` "up"/"down"/... or "N/A" without BFD), plus ours: `bgpPeer` (the BGPPeer's
  name), `since` (RFC 3339, the last state change), `prefixesSent` and `lastError`. A peer the BGP
  service refused (the node reconciler's `peer_errors`) gets one too: `bgpStatus: Refused`,
  `lastError` the refusal. Named `<node>.<peer>`, labelled `metallb.io/node` and `metallb.io/peer`.
- `L2NodeState`, one per node, named after it: every interface and whether ARP and NDP may answer
  on it (MetalLB's interface rules, reference §3.3: "eligible" or the reason), and every address
  the responder holds with the interfaces it really answers on (at most `MAX_ANNOUNCEMENTS`;
  beyond, `truncated: true`).

A watch stream starts with a snapshot: its events are collected and replace what was known at the
end of the snapshot (a reconnect after a restart forgets peers that are gone). While a service's
stream is broken its facts are published as unknown (`bgpStatus: Unknown`, L2 `reachable: false`)
rather than left as they were. `writes()` returns only what changed since the last call; after
each BGP snapshot a `FactPrune` deletes this node's session objects that no longer exist.
"""

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from gateway.instances import ServiceInstance
from metallb.bgp.v1 import bgp_pb2
from metallb.l2.v1 import l2_pb2

SESSIONS, L2_STATES = "bgpsessionstates", "l2nodestates"
FACT_KINDS = {SESSIONS: "BGPSessionState", L2_STATES: "L2NodeState"}
LABEL_NODE = "metallb.io/node"
LABEL_PEER = "metallb.io/peer"
NO_BFD = "N/A"  # frr-k8s's bfdStatus of a session without BFD
MAX_ANNOUNCEMENTS = 4096  # an L2NodeState stays far below etcd's object size limit

#: bgpStatus as FRR (and so frr-k8s's BGPSessionState) spells the RFC 4271 §8 states.
BGP_STATUS = {
    bgp_pb2.SESSION_STATE_UNSPECIFIED: "Unknown",
    bgp_pb2.SESSION_STATE_IDLE: "Idle",
    bgp_pb2.SESSION_STATE_CONNECT: "Connect",
    bgp_pb2.SESSION_STATE_ACTIVE: "Active",
    bgp_pb2.SESSION_STATE_OPEN_SENT: "OpenSent",
    bgp_pb2.SESSION_STATE_OPEN_CONFIRM: "OpenConfirm",
    bgp_pb2.SESSION_STATE_ESTABLISHED: "Established",
}


@dataclass(frozen=True)
class FactsWatch:
    """One response of a node service's watch stream ("bgp": WatchPeers, "l2": WatchEvents)."""

    service: str
    message: Message


@dataclass(frozen=True)
class FactWrite:
    """Write (None: delete) the status of this node's object `name` of `plural`."""

    plural: str
    name: str
    labels: Mapping[str, str]
    status: Mapping[str, Any] | None


@dataclass(frozen=True)
class FactPrune:
    """Delete this node's objects of `plural` whose name is not in `keep`."""

    plural: str
    keep: frozenset[str]


FactOp = FactWrite | FactPrune


def session_name(node: str, peer: str) -> str:
    return f"{node}.{peer}"


def _time(message: Any, name: str) -> str:
    if not message.HasField(name):
        return ""
    stamp = getattr(message, name).ToDatetime(tzinfo=datetime.UTC)
    return str(stamp.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _reason(value: int) -> str:
    """ "eligible", or an IneligibleReason as words ("excluded", "no ipv6 link local")."""
    if value == l2_pb2.INELIGIBLE_REASON_UNSPECIFIED:
        return "eligible"
    name = l2_pb2.IneligibleReason.Name(value).removeprefix("INELIGIBLE_REASON_")
    return name.lower().replace("_", " ")


def session_status(node: str, peer: bgp_pb2.Peer) -> dict[str, Any]:
    conf, state = peer.conf, peer.state
    status: dict[str, Any] = {
        "node": node,
        "peer": conf.peer_address,
        "vrf": conf.vrf,
        "bgpStatus": BGP_STATUS.get(state.session_state, "Unknown"),
        "bfdStatus": state.bfd_status or NO_BFD,
        "bgpPeer": conf.name,
        "prefixesSent": int(state.prefixes_advertised),
        "lastError": state.last_error.message if state.HasField("last_error") else "",
    }
    if since := _time(state, "last_transition_time"):
        status["since"] = since  # (a date-time: absent rather than empty)
    return status


def interface_fact(interface: l2_pb2.Interface) -> dict[str, str]:
    return {
        "name": interface.name,
        "arp": _reason(interface.arp_reason) if not interface.arp_eligible else "eligible",
        "ndp": _reason(interface.ndp_reason) if not interface.ndp_eligible else "eligible",
    }


def announcement_fact(announcement: l2_pb2.Announcement) -> dict[str, Any]:
    status = l2_pb2.AnnouncementStatus.Name(announcement.status).removeprefix(
        "ANNOUNCEMENT_STATUS_"
    )
    return {
        "ip": announcement.ip,
        "status": status.lower().replace("_", " "),
        "answeringOn": sorted(announcement.answering_on),
    }


class NodeFacts:
    """A node's published facts, kept from its services' watch streams (see the module doc)."""

    def __init__(self, node: str) -> None:
        self.node = node
        self._peers: dict[str, dict[str, Any]] = {}  # peer name -> session status
        self._peers_snapshot: dict[str, dict[str, Any]] | None = None
        self._refused: dict[str, dict[str, Any]] = {}  # peer name -> status of a refused peer
        self._interfaces: dict[str, dict[str, str]] = {}
        self._announcements: dict[str, dict[str, Any]] = {}
        self._l2_snapshot: tuple[dict[str, Any], dict[str, Any]] | None = None
        self._up = {"bgp": False, "l2": False}
        self._seen = {"bgp": False, "l2": False}
        self._published: dict[tuple[str, str], Mapping[str, Any]] = {}
        self._prune = False
        self.dirty = False  # something changed since the last `writes()`

    # In.

    def handle(self, change: object) -> bool:
        """Take `change` if it is a fact (True); a `ServiceInstance` is noted and not taken."""
        if isinstance(change, ServiceInstance):
            if change.service in self._up and change.instance is None and self._up[change.service]:
                self._up[change.service] = False
                self.dirty = True
            return False
        if not isinstance(change, FactsWatch):
            return False
        self.dirty = True
        if change.service == "bgp":
            self._bgp(change.message)
        elif change.service == "l2":
            self._l2(change.message)
        return True

    def _bgp(self, message: Any) -> None:
        for event in message.events:
            status = session_status(self.node, event.peer)
            name = event.peer.conf.name
            if event.type == bgp_pb2.PEER_EVENT_TYPE_SNAPSHOT:
                if self._peers_snapshot is None:
                    self._peers_snapshot = {}
                self._peers_snapshot[name] = status
            elif event.type == bgp_pb2.PEER_EVENT_TYPE_DELETED:
                self._peers.pop(name, None)
            else:
                self._peers[name] = status
        if message.HasField("end_of_snapshot"):
            self._peers = self._peers_snapshot or {}
            self._peers_snapshot = None
            self._up["bgp"] = self._seen["bgp"] = True
            self._prune = True

    def _l2(self, message: Any) -> None:
        for event in message.events:
            if event.type == l2_pb2.EVENT_TYPE_SNAPSHOT:
                if self._l2_snapshot is None:
                    self._l2_snapshot = ({}, {})
                into_interfaces, into_announcements = self._l2_snapshot
            else:
                into_interfaces, into_announcements = self._interfaces, self._announcements
            if event.HasField("interface"):
                if event.type == l2_pb2.EVENT_TYPE_INTERFACE_REMOVED:
                    into_interfaces.pop(event.interface.name, None)
                else:
                    into_interfaces[event.interface.name] = interface_fact(event.interface)
            elif event.HasField("announcement"):
                if event.type == l2_pb2.EVENT_TYPE_WITHDRAWN:
                    into_announcements.pop(event.announcement.ip, None)
                else:
                    fact = announcement_fact(event.announcement)
                    into_announcements[event.announcement.ip] = fact
        if message.HasField("end_of_snapshot"):
            interfaces, announcements = self._l2_snapshot or ({}, {})
            self._interfaces, self._announcements = interfaces, announcements
            self._l2_snapshot = None
            self._up["l2"] = self._seen["l2"] = True

    def set_refused(self, errors: Mapping[str, str], addresses: Mapping[str, str]) -> None:
        """The peers the BGP service refused (the node reconciler's `peer_errors`)."""
        refused = {
            name: {
                "node": self.node,
                "peer": addresses.get(name, ""),
                "vrf": "",
                "bgpStatus": "Refused",
                "bfdStatus": NO_BFD,
                "bgpPeer": name,
                "prefixesSent": 0,
                "lastError": error,
            }
            for name, error in errors.items()
        }
        if refused != self._refused:
            self._refused = refused
            self.dirty = True

    # Out.

    def wanted(self) -> dict[tuple[str, str], Mapping[str, Any]]:
        out: dict[tuple[str, str], Mapping[str, Any]] = {}
        if self._seen["bgp"] or self._refused:
            sessions = dict(self._refused)
            for name, status in self._peers.items():
                if self._up["bgp"]:
                    sessions[name] = status
                else:
                    sessions[name] = {**status, "bgpStatus": "Unknown", "bfdStatus": "Unknown"}
                    sessions[name]["lastError"] = "the node's BGP service is not answering"
            for name, status in sessions.items():
                out[(SESSIONS, session_name(self.node, name))] = status
        if self._seen["l2"]:
            announcements = [self._announcements[ip] for ip in sorted(self._announcements)]
            l2: dict[str, Any] = {
                "node": self.node,
                "reachable": self._up["l2"],
                "interfaces": [self._interfaces[n] for n in sorted(self._interfaces)],
                "announcements": announcements[:MAX_ANNOUNCEMENTS],
            }
            if len(announcements) > MAX_ANNOUNCEMENTS:
                l2["truncated"] = True
            out[(L2_STATES, self.node)] = l2
        return out

    def writes(self) -> list[FactOp]:
        """The writes that bring the published objects to what is known now."""
        ops: list[FactOp] = []
        self.dirty = False
        wanted = self.wanted()
        for key in sorted(set(self._published) | set(wanted)):
            new = wanted.get(key)
            if new == self._published.get(key):
                continue
            plural, name = key
            labels = {LABEL_NODE: self.node}
            if plural == SESSIONS and new is not None:
                labels[LABEL_PEER] = str(new["bgpPeer"])
            ops.append(FactWrite(plural, name, labels, new))
            if new is None:
                del self._published[key]
            else:
                self._published[key] = new
        if self._prune:
            self._prune = False
            keep = frozenset(name for plural, name in wanted if plural == SESSIONS)
            ops.append(FactPrune(SESSIONS, keep))
        return ops
