"""What a node reports about the services it announces (behaviour reference §3.1 step 5, §5).

For every service this node announces: a ServiceL2Status (interfaces when the advertisement
names some) and a ServiceBGPStatus (the peers handed one of its prefixes); and a Normal
`nodeAssigned` event (`announcing from node %q with protocol %q`) when it starts announcing it
over a protocol. MetalLB emits that event on every reconcile that announces; we emit it when the
announcement starts, so a busy cluster does not get an event per service per resync.

`StatusReporter` (pure) diffs what is wanted against what it already asked for and returns only
the changes, as `StatusOp`s; the node role's adapter runs them on a `WriteQueue` (latest write per
object wins) through a `StatusWriter` (Kubernetes: gateway/kube/service_status.py; the folder:
gateway/folder.py).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.node.desired import NodeDesired

L2, BGP = "servicel2statuses", "servicebgpstatuses"
PROTOCOL = {L2: "layer2", BGP: "bgp"}
KINDS = {L2: ("ServiceL2Status", "l2-"), BGP: ("ServiceBGPStatus", "bgp-")}  # kind, name prefix
LABEL_NODE = "metallb.io/node"
LABEL_SERVICE_NAME = "metallb.io/service-name"
LABEL_SERVICE_NAMESPACE = "metallb.io/service-namespace"
SPEAKER = "metallb-speaker"  # the component of the node's events


def status_labels(node: str, service_key: str) -> dict[str, str]:
    namespace, _, name = service_key.partition("/")
    return {LABEL_NODE: node, LABEL_SERVICE_NAME: name, LABEL_SERVICE_NAMESPACE: namespace}


def node_assigned_message(node: str, protocol: str) -> str:
    return f'announcing from node "{node}" with protocol "{protocol}"'


def speaker_state_labels(node: str) -> dict[str, str]:
    """The labels of ConfigurationState `speaker-<node>`."""
    return {"metallb.io/component-type": "speaker", "metallb.io/node-name": node}


UNKNOWN: dict[str, Any] = {}  # an object exists, its status is not known: rewrite it


def l2_status(node: str, service_key: str, interfaces: list[str]) -> dict[str, Any]:
    """`interfaces` only when the advertisement names some (empty: all interfaces)."""
    namespace, _, name = service_key.partition("/")
    status: dict[str, Any] = {"node": node, "serviceName": name, "serviceNamespace": namespace}
    if interfaces:
        status["interfaces"] = [{"name": i} for i in interfaces]
    return status


def bgp_status(node: str, service_key: str, peers: list[str]) -> dict[str, Any]:
    namespace, _, name = service_key.partition("/")
    return {"node": node, "serviceName": name, "serviceNamespace": namespace, "peers": peers}


def wanted_statuses(node: str, desired: NodeDesired) -> dict[tuple[str, str], dict[str, Any]]:
    """(plural, service key) -> status, for the services this node announces."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for key, done in desired.services.items():
        if done.layer2:
            out[(L2, key)] = l2_status(node, key, list(done.layer2[0].interfaces))
        if done.routes:
            out[(BGP, key)] = bgp_status(node, key, done.bgp_peers)
    return out


class StatusWriter(Protocol):
    def existing(self) -> set[tuple[str, str]]:
        """(plural, service key) of this node's objects as they are now (read once)."""

    def write(self, plural: str, service_key: str, status: Mapping[str, Any] | None) -> None: ...

    def node_assigned(self, service: Mapping[str, Any], protocol: str) -> None: ...

    def configuration_state(self, valid: bool, message: str) -> None: ...


@dataclass(frozen=True)
class StatusWrite:
    """Write (or, with None, delete) this node's status object of `plural` for a service."""

    plural: str
    service_key: str
    status: Mapping[str, Any] | None

    @property
    def key(self) -> str:
        return f"{self.plural}/{self.service_key}"


@dataclass(frozen=True)
class NodeAssigned:
    """The `nodeAssigned` event for `service` (the Service object) over `protocol`."""

    service: Mapping[str, Any]
    protocol: str


@dataclass(frozen=True)
class ConfigurationStateWrite:
    """ConfigurationState `speaker-<node>`."""

    valid: bool
    message: str


StatusOp = StatusWrite | NodeAssigned | ConfigurationStateWrite


class StatusReporter:
    def __init__(self, node: str) -> None:
        self.node = node
        self._reported: dict[tuple[str, str], Mapping[str, Any]] = {}
        self._configuration: tuple[bool, str] | None = None
        self.adopted = False

    def report_configuration(self, valid: bool, message: str) -> list[StatusOp]:
        """ConfigurationState `speaker-<node>`, written when it changes."""
        if self._configuration == (valid, message):
            return []
        self._configuration = (valid, message)
        return [ConfigurationStateWrite(valid, message)]

    def forget_configuration(self) -> None:
        """The ConfigurationState is gone: the next `report_configuration` writes it."""
        self._configuration = None

    def adopt(self, existing: Iterable[tuple[str, str]]) -> None:
        """Take over the objects a previous run of this node left (`StatusWriter.existing()`),
        so the first report rewrites the ones still wanted and deletes the others."""
        for item in existing:
            self._reported.setdefault(item, UNKNOWN)
        self.adopted = True

    def report(
        self,
        wanted: Mapping[tuple[str, str], Mapping[str, Any]],
        services: Mapping[str, Mapping[str, Any]],
        *,
        protocols: tuple[str, ...] = (L2, BGP),
    ) -> list[StatusOp]:
        """The writes that make the objects of `protocols` match `wanted`."""
        ops: list[StatusOp] = []
        for item in sorted(set(self._reported) | set(wanted)):
            plural, key = item
            if plural not in protocols:
                continue
            new, old = wanted.get(item), self._reported.get(item)
            if new == old:
                continue
            ops.append(StatusWrite(plural, key, new))
            if new is None:
                del self._reported[item]
                continue
            self._reported[item] = new
            service = services.get(key)
            if old is None and service is not None:
                ops.append(NodeAssigned(service, PROTOCOL[plural]))
        return ops
