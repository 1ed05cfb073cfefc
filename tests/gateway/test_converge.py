"""MetalLB's convergeBalancer (reference §1.3) as the rules package decides it."""

from typing import Any

from metallb_rules.allocator.allocator import Allocator
from metallb_rules.allocator.pools import PoolSpec
from metallb_rules.balancer import Decision, Outcome, decide_batch, service_request, set_balancer
from metallb_rules.service import ServiceSpec, service_from_k8s

POOLS = [
    PoolSpec("default", ("10.0.0.0/30", "fd00::/126")),
    PoolSpec("other", ("10.9.0.0/30",), auto_assign=False),
]


def allocator(pools: list[PoolSpec] = POOLS) -> Allocator:
    alloc = Allocator()
    alloc.set_pools(pools)
    alloc.restore([], complete=True)
    return alloc


def lb(
    name: str,
    *,
    ingress: tuple[str, ...] = (),
    cluster: tuple[str, ...] = ("172.30.0.1",),
    annotations: dict[str, str] | None = None,
    policy: str = "SingleStack",
    lb_ip: str = "",
    type_: str = "LoadBalancer",
) -> ServiceSpec:
    obj: dict[str, Any] = {
        "metadata": {"namespace": "demo", "name": name, "annotations": annotations or {}},
        "spec": {
            "type": type_,
            "clusterIPs": list(cluster),
            "ipFamilyPolicy": policy,
            "ports": [{"port": 80, "protocol": "TCP"}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ingress]}},
    }
    if lb_ip:
        obj["spec"]["loadBalancerIP"] = lb_ip
    return service_from_k8s(obj)


def events(result: Decision) -> list[tuple[str, str, str]]:
    return [(e.type, e.reason, e.message) for e in result.events]


def test_converge_rules() -> None:
    port = allocator()
    r = set_balancer(lb("a"), port, {})
    assert (r.ingress, r.pool) == (["10.0.0.0"], "default")
    assert events(r) == [("Normal", "IPAllocated", 'Assigned IP ["10.0.0.0"]')]
    # Re-converging a service with status keeps its address, silently.
    r = set_balancer(lb("a", ingress=("10.0.0.0",)), port, {})
    assert (r.ingress, r.events) == (["10.0.0.0"], [])
    # A status address no pool allows: cleared, then a new one.
    r = set_balancer(lb("b", ingress=("192.0.2.9",)), port, {})
    assert r.ingress == ["10.0.0.1"]
    assert events(r)[0] == (
        "Normal",
        "ClearAssignment",
        'current IP for "demo/b" not allowed by config, will attempt for new IP '
        'assignment: ["192.0.2.9"] is not allowed in config',
    )
    # The pool annotation moves a service to the requested pool.
    moved = lb("b", ingress=("10.0.0.1",), annotations={"metallb.io/address-pool": "other"})
    r = set_balancer(moved, port, {})
    assert (r.ingress, r.pool) == (["10.9.0.0"], "other")
    # Requested IPs that differ from the status are re-requested.
    asked = lb("a", ingress=("10.0.0.0",), annotations={"metallb.io/loadBalancerIPs": "10.0.0.3"})
    r = set_balancer(asked, port, {})
    assert r.ingress == ["10.0.0.3"]
    both = lb("c", annotations={"metallb.io/loadBalancerIPs": "10.0.0.2"}, lb_ip="10.0.0.2")
    r = set_balancer(both, port, {})
    assert not r.converged and events(r) == [
        (
            "Warning",
            "AllocationFailed",
            'Failed to allocate IP for "demo/c": service can not have both '
            "metallb.io/loadBalancerIPs and svc.Spec.LoadBalancerIP",
        )
    ]
    r = set_balancer(lb("d", policy="RequireDualStack"), port, {})
    assert not r.converged and events(r)[0][:2] == ("Warning", "not enough clusterips")
    dual = lb(
        "e",
        cluster=("172.30.0.5", "fd30::5"),
        policy="PreferDualStack",
        ingress=("10.0.0.2",),
    )
    r = set_balancer(dual, port, {})
    assert r.ingress == ["10.0.0.2", "fd00::"]
    assert events(r) == [("Normal", "IPAllocated", 'Assigned additional IP "fd00::"')]
    # Not a LoadBalancer any more: released, status cleared.
    r = set_balancer(lb("a", ingress=("10.0.0.3",), type_="NodePort"), port, {})
    assert (r.ingress, r.pool, r.converged) == ([], None, True)
    r = set_balancer(lb("f"), port, {})
    assert r.ingress == ["10.0.0.0"]  # a's address is free again
    r = set_balancer(lb("g", ingress=("10.0.0.1",)), allocator([]), {})
    assert (r.ingress, r.converged, r.events) == ([], False, [])  # no pools: cleared


def test_what_to_write_and_what_follows() -> None:
    """SetBalancer (§1.3): a write only when status or pool annotation change; the deprecated
    annotation warning only then; reprocess-all when addresses are freed or keys change."""
    alloc = allocator()
    old = {"metallb.universe.tf/allow-shared-ip": "k"}
    r = set_balancer(lb("a", annotations=old), alloc, {})
    assert (r.changed, r.outcome) == (True, Outcome.SUCCESS)
    assert [e.reason for e in r.events] == ["deprecatedAnnotation", "IPAllocated"]
    assert r.events[0].message == (
        "Service uses deprecated annotation metallb.universe.tf/allow-shared-ip"
    )
    written = {**old, "metallb.io/ip-allocated-from-pool": "default"}
    r = set_balancer(lb("a", annotations=written, ingress=("10.0.0.0",)), alloc, {})
    assert (r.changed, r.events, r.outcome) == (False, [], Outcome.SUCCESS)
    # The sharing key changes: the other sharers must re-check theirs.
    renamed = {"metallb.io/allow-shared-ip": "j", "metallb.io/ip-allocated-from-pool": "default"}
    r = set_balancer(lb("a", annotations=renamed, ingress=("10.0.0.0",)), alloc, {})
    assert (r.ingress, r.changed, r.outcome) == (["10.0.0.0"], False, Outcome.REPROCESS_ALL)
    # No longer a LoadBalancer: its address is free for pending services.
    r = set_balancer(lb("a", ingress=("10.0.0.0",), type_="NodePort"), alloc, {})
    assert (r.ingress, r.changed, r.outcome) == ([], True, Outcome.REPROCESS_ALL)
    r = set_balancer(lb("b", policy="RequireDualStack"), alloc, {})
    assert r.outcome is Outcome.ERROR_NO_RETRY


def test_a_complete_set_is_restored_before_anything_new_is_handed_out() -> None:
    """§1.7: a fresh allocator, a new service listed first, an assigned one last: the
    assigned one keeps its address; an allocation of a service not in the set is released."""
    alloc = Allocator()
    alloc.set_pools(POOLS)
    gone = lb("gone")
    alloc.assign(service_request(gone, {}), ["10.0.0.2"])
    batch: list[tuple[ServiceSpec, dict[str, str]]] = [
        (lb("new"), {}),
        (lb("old", ingress=("10.0.0.0",)), {}),
    ]
    decisions, _ = decide_batch(alloc, batch, complete_set=True)
    assert [(d.key, d.ingress) for d in decisions] == [
        ("demo/new", ["10.0.0.1"]),
        ("demo/old", ["10.0.0.0"]),
    ]
    assert alloc.get("demo/gone") is None and alloc.restore_complete


def test_a_deleted_service_frees_its_address() -> None:
    alloc = allocator()
    decide_batch(alloc, [(lb("a"), {})])
    _, gone = decide_batch(alloc, [], deleted=["demo/a", "demo/never"])
    assert gone == [Outcome.REPROCESS_ALL, Outcome.SUCCESS]
    assert alloc.allocations() == []
