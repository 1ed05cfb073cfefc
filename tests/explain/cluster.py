"""A small cluster for the explain and status scenarios, and the three ways to read it: the pure
facts, `metallb-grpc up`'s folder (written by the roles' own writers) and the fake API server.

demo/web: L2, pool `default` (192.0.2.10/31), externalTrafficPolicy Local with its endpoint on
node-1 (so node-1 owns it and node-2 is not eligible: no local endpoint); node-1's responder
answers on eth0. demo/api: BGP, pool `bgp-pool` (requested by annotation), advertised to both
peers of both nodes (router: iBGP, so LOCAL_PREF; other: eBGP), every session Established.
"""

import copy
import datetime
from pathlib import Path
from typing import Any

import yaml

from gateway.folder import FolderFactsWriter, FolderWriter
from gateway.node.facts import FACT_KINDS, L2_STATES, SESSIONS
from gateway.snapshot import Snapshot
from metallb_cli.explain import Facts

NS = "metallb-system"

Obj = dict[str, Any]


def _meta(name: str, namespace: str | None = NS, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **extra}
    if namespace:
        meta["namespace"] = namespace
    return meta


def inputs() -> list[Obj]:
    """What an operator applies (and what the API server holds for Services and slices)."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta("demo", None)},
        {
            "apiVersion": "metallb.io/v1beta1",
            "kind": "IPAddressPool",
            "metadata": _meta("default"),
            "spec": {"addresses": ["192.0.2.10/31"]},
        },
        {
            "apiVersion": "metallb.io/v1beta1",
            "kind": "IPAddressPool",
            "metadata": _meta("bgp-pool"),
            "spec": {"addresses": ["198.51.100.0/30"], "autoAssign": False},
        },
        {
            "apiVersion": "metallb.io/v1beta1",
            "kind": "L2Advertisement",
            "metadata": _meta("l2"),
            "spec": {"ipAddressPools": ["default"]},
        },
        {
            "apiVersion": "metallb.io/v1beta2",
            "kind": "BGPPeer",
            "metadata": _meta("router"),
            "spec": {"myASN": 64512, "peerASN": 64512, "peerAddress": "192.0.2.1"},
        },
        {
            "apiVersion": "metallb.io/v1beta2",
            "kind": "BGPPeer",
            "metadata": _meta("other"),
            "spec": {"myASN": 64512, "peerASN": 64513, "peerAddress": "192.0.2.2"},
        },
        {
            "apiVersion": "metallb.io/v1beta1",
            "kind": "BGPAdvertisement",
            "metadata": _meta("bgp"),
            "spec": {
                "ipAddressPools": ["bgp-pool"],
                "communities": ["65000:7"],
                "localPref": 150,
            },
        },
        {"apiVersion": "v1", "kind": "Node", "metadata": _meta("node-1", None)},
        {"apiVersion": "v1", "kind": "Node", "metadata": _meta("node-2", None)},
        _service("web", "192.0.2.10", externalTrafficPolicy="Local"),
        _slice("web", "node-1"),
        _service(
            "api",
            "198.51.100.1",
            annotations={"metallb.io/address-pool": "bgp-pool"},
            clusterIP="10.96.0.2",
        ),
        _slice("api", "node-2"),
    ]


def _service(
    name: str, ip: str | None, annotations: dict[str, str] | None = None, **spec: Any
) -> Obj:
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, "demo", annotations=annotations or {}),
        "spec": {
            "type": "LoadBalancer",
            "clusterIP": "10.96.0.1",
            "clusterIPs": [spec.pop("clusterIP", "10.96.0.1")],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
            "externalTrafficPolicy": "Cluster",
            **spec,
        },
        "status": {"loadBalancer": {"ingress": [{"ip": ip}]} if ip else {}},
    }
    obj["spec"]["clusterIP"] = obj["spec"]["clusterIPs"][0]
    return obj


def _slice(service: str, node: str) -> Obj:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": _meta(f"{service}-1", "demo", labels={"kubernetes.io/service-name": service}),
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["10.244.0.1"], "conditions": {"ready": True}, "nodeName": node}
        ],
    }


def session(
    node: str, peer: str, address: str, state: str = "Established", bfd: str = "N/A"
) -> Obj:
    return {
        "node": node,
        "peer": address,
        "vrf": "",
        "bgpStatus": state,
        "bfdStatus": bfd,
        "bgpPeer": peer,
        "since": "2026-12-07T11:00:00Z",
        "prefixesSent": 1,
        "lastError": "",
    }


def l2_state(node: str, answering: dict[str, list[str]]) -> Obj:
    return {
        "node": node,
        "reachable": True,
        "interfaces": [
            {"name": "eth0", "arp": "eligible", "ndp": "eligible"},
            {"name": "lo", "arp": "excluded", "ndp": "excluded"},
        ],
        "announcements": [
            {"ip": ip, "status": "announcing" if on else "no interface", "answeringOn": on}
            for ip, on in sorted(answering.items())
        ],
    }


def published() -> dict[tuple[str, str], Obj]:
    """What the nodes publish: (plural, name) -> status."""
    out: dict[tuple[str, str], Obj] = {}
    for node in ("node-1", "node-2"):
        out[(SESSIONS, f"{node}.router")] = session(node, "router", "192.0.2.1")
        out[(SESSIONS, f"{node}.other")] = session(node, "other", "192.0.2.2")
    out[(L2_STATES, "node-1")] = l2_state("node-1", {"192.0.2.10": ["eth0"]})
    out[(L2_STATES, "node-2")] = l2_state("node-2", {})
    return out


class World:
    """One scenario's cluster: the inputs, what the roles wrote, the node Leases."""

    def __init__(self) -> None:
        self.objects = inputs()
        self.facts = published()
        # component -> (valid, message), as the roles write them
        self.states: dict[str, tuple[bool, str]] = {"controller": (True, "")}
        # node -> seconds since its Lease was renewed (cluster only: a folder has no Leases)
        self.leases = {"node-1": 1.0, "node-2": 1.0}

    def find(self, kind: str, name: str) -> Obj:
        return next(o for o in self.objects if o["kind"] == kind and o["metadata"]["name"] == name)

    def remove(self, kind: str, name: str) -> None:
        self.objects.remove(self.find(kind, name))

    # The three readings.

    def pure(self, *, leases: bool = True) -> Facts:
        snap = Snapshot(namespace=NS)
        for obj in self.objects:
            snap.add(copy.deepcopy(obj))
        for (plural, name), status in self.facts.items():
            snap.add({"kind": FACT_KINDS[plural], "metadata": _meta(name), "status": status})
        for component, (valid, message) in self.states.items():
            snap.add(_configuration_state(component, valid, message))
        if leases:
            for lease in self._leases():
                snap.add(lease)
        return Facts(snap, NOW_REAL(), leases=leases, source="test")

    def _leases(self) -> list[Obj]:
        return [
            {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": _meta(f"metallb-grpc-node-{node}"),
                "spec": {
                    "holderIdentity": node,
                    "leaseDurationSeconds": 15,
                    "renewTime": _micro(NOW_REAL() - datetime.timedelta(seconds=ago)),
                },
            }
            for node, ago in self.leases.items()
        ]

    def to_folder(self, folder: Path) -> None:
        """The manifests, and `.status/` as `up`'s roles write it (their own writers)."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "all.yaml").write_text(yaml.safe_dump_all(self.objects))
        writers: dict[str, FolderFactsWriter] = {}
        for (plural, name), status in self.facts.items():
            node = str(status["node"])
            writer = writers.setdefault(node, FolderFactsWriter(folder, node))
            writer.write_fact(plural, name, {"metallb.io/node": node}, status)
        for component, (valid, message) in self.states.items():
            if component == "controller":
                FolderWriter(folder).write_configuration_state(valid, message)

    def to_cluster(self, kube: Any) -> None:
        """Every object in the fake API server, status through the status subresource."""
        for obj in [*self.objects, *self._leases()]:
            _create(kube, copy.deepcopy(obj))
        for (plural, name), status in self.facts.items():
            body = {
                "apiVersion": "metallb.io/v1beta1",
                "kind": FACT_KINDS[plural],
                "metadata": _meta(name, labels={"metallb.io/node": status["node"]}),
                "spec": {},
                "status": status,
            }
            _create(kube, body)
        for component, (valid, message) in self.states.items():
            _create(
                kube,
                {
                    "apiVersion": "metallb.io/v1beta1",
                    **_configuration_state(component, valid, message),
                },
            )


def NOW_REAL() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _micro(stamp: datetime.datetime) -> str:
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _configuration_state(component: str, valid: bool, message: str) -> Obj:
    from gateway.configuration_state import configuration_status

    condition = "poolReconcilerValid" if component == "controller" else "configReconcilerValid"
    return {
        "kind": "ConfigurationState",
        "metadata": _meta(component),
        "status": configuration_status(condition, valid, message),
    }


def _create(kube: Any, obj: Obj) -> None:
    status = obj.pop("status", None)
    created = kube.create(obj)
    if status:
        kube.update_status({**created, "status": status})
