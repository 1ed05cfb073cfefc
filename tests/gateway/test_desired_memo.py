"""DesiredMemo (the node role's incremental computation) always equals desired_for_node.

A random sequence of changes, made the way sources make them (a changed object is a new
object), is applied to one snapshot; after every step the memo's answer must be the one the pure
function computes from scratch, and it must have recomputed only what changed.
"""

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.node.desired import DesiredMemo, desired_for_node, services_with_ingress
from gateway.snapshot import Snapshot, key_of
from metallb_rules.config.parse import parse

NS = "metallb-system"
CONFIG: list[dict[str, Any]] = [
    {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "IPAddressPool",
        "metadata": {"name": "pool", "namespace": NS},
        "spec": {"addresses": ["192.0.2.0/28"]},
    },
    {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "L2Advertisement",
        "metadata": {"name": "l2", "namespace": NS},
        "spec": {"ipAddressPools": ["pool"]},
    },
    {
        "apiVersion": "metallb.io/v1beta2",
        "kind": "BGPPeer",
        "metadata": {"name": "router", "namespace": NS},
        "spec": {"myASN": 64512, "peerASN": 64513, "peerAddress": "192.0.2.100"},
    },
    {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "BGPAdvertisement",
        "metadata": {"name": "bgp", "namespace": NS},
        "spec": {"ipAddressPools": ["pool"], "communities": ["65000:1"]},
    },
]
NODES = ("node-1", "node-2", "node-3")


def node(name: str, zone: str = "a") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"z": zone}}}


def service(i: int, ip: int | None, policy: str = "Cluster") -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"s{i}", "namespace": "default", "labels": {"app": f"s{i}"}},
        "spec": {
            "type": "LoadBalancer",
            "clusterIP": f"10.96.0.{i}",
            "externalTrafficPolicy": policy,
            "selector": {"app": f"s{i}"},
        },
    }
    if ip is not None:
        obj["status"] = {"loadBalancer": {"ingress": [{"ip": f"192.0.2.{ip}"}]}}
    return obj


def endpoints(i: int, on: str) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"s{i}-x",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": f"s{i}"},
        },
        "endpoints": [{"addresses": ["10.244.0.1"], "conditions": {"ready": True}, "nodeName": on}],
    }


OPS = st.lists(
    st.tuples(
        st.sampled_from(["service", "local", "delete", "endpoints", "no-endpoints", "node"]),
        st.integers(0, 5),
        st.integers(0, 15),
        st.sampled_from(NODES),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(OPS)
def test_memo_equals_from_scratch_after_every_change(ops: list[tuple[str, int, int, str]]) -> None:
    snap = Snapshot(namespace=NS)
    for obj in [*CONFIG, *(node(n) for n in NODES)]:
        snap.add(copy.deepcopy(obj))
    config = parse(snap.cluster_resources())
    memo = DesiredMemo("node-1")  # told what changed, as the node role does
    scanning = DesiredMemo("node-1")  # told nothing: checks every service
    memo.compute(Snapshot({k: dict(v) for k, v in snap.objects.items()}, NS), config, None, None)
    for op, i, ip, on in ops:
        if op in ("service", "local"):
            snap.add(service(i, ip, "Local" if op == "local" else "Cluster"))
            change = ("Service", f"default/s{i}")
        elif op == "delete":
            snap.objects.get("Service", {}).pop(f"default/s{i}", None)
            change = ("Service", f"default/s{i}")
        elif op == "endpoints":
            snap.add(endpoints(i, on))
            change = ("EndpointSlice", f"default/s{i}-x")
        elif op == "no-endpoints":
            snap.objects.get("EndpointSlice", {}).pop(f"default/s{i}-x", None)
            change = ("EndpointSlice", f"default/s{i}-x")
        else:
            snap.add(node(on, zone=str(ip)))
            change = ("Node", on)
        # A source hands out a fresh snapshot each time (same objects, new dicts).
        view = Snapshot({k: dict(v) for k, v in snap.objects.items()}, NS)
        before = memo.recomputed
        assert scanning.compute(view, config) == memo.compute(view, config, None, {change})
        if change[0] != "Node":  # a node's labels change everything; anything else one service
            assert memo.recomputed - before <= 1
        view = Snapshot({k: dict(v) for k, v in snap.objects.items()}, NS)
        before = memo.recomputed
        got = memo.compute(view, config, None, set())
        want = desired_for_node(view, config, "node-1", services_with_ingress(view))
        assert got.layer2 == want.layer2
        assert got.routes == want.routes
        assert {k: v for k, v in got.services.items() if v.layer2 or v.routes} == {
            k: v for k, v in want.services.items() if v.layer2 or v.routes
        }
        assert memo.recomputed == before  # nothing changed since: nothing recomputed


def test_unchanged_objects_are_not_recomputed() -> None:
    snap = Snapshot(namespace=NS)
    for obj in [*CONFIG, node("node-1")]:
        snap.add(copy.deepcopy(obj))
    for i in range(50):
        snap.add(service(i, i % 16))
        snap.add(endpoints(i, "node-1"))
    config = parse(snap.cluster_resources())
    memo = DesiredMemo("node-1")
    first = memo.compute(Snapshot(dict(snap.objects), NS), config)
    assert memo.recomputed == 50 and len(first.routes) == 16
    snap.add(service(7, 3))
    memo.compute(Snapshot({k: dict(v) for k, v in snap.objects.items()}, NS), config)
    assert memo.recomputed == 51
    assert key_of(service(7, 3)) == "default/s7"
