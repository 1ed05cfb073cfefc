"""Scenario tables for the allocator (behaviour reference §1).

Each scenario is an ordered list of rows applied to one allocator; after every row the invariants
of `check_invariants` are re-checked (no illegal sharing, counts agree, indexes consistent).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from metallb_rules.allocator.allocator import Allocator
from metallb_rules.allocator.errors import (
    AddressInUseError,
    InvalidPoolsError,
    InvalidServiceError,
    NoAllocationError,
    NotAllowedError,
    PoolExhaustedError,
    RestoreInProgressError,
    UnknownPoolError,
)
from metallb_rules.allocator.model import ReleaseReason, ServiceRequest
from metallb_rules.allocator.pools import PoolSpec
from metallb_rules.errors import FailedPreconditionError
from tests.ipam.helpers import check_invariants, ips_of, pool, svc


@dataclass
class Row:
    def run(self, alloc: Allocator) -> None:
        raise NotImplementedError


@dataclass
class Pools(Row):
    specs: Sequence[PoolSpec]
    lost: dict[str, ReleaseReason] = field(default_factory=dict)
    moved: dict[str, str] = field(default_factory=dict)  # key -> new pool
    error: str = ""

    def run(self, alloc: Allocator) -> None:
        if self.error:
            before = alloc.allocations()
            with pytest.raises(InvalidPoolsError) as info:
                alloc.set_pools(self.specs)
            assert info.value.message == self.error
            assert alloc.allocations() == before  # an invalid set changes nothing
            return
        lost, moved = alloc.set_pools(self.specs)
        assert {x.allocation.key: x.reason for x in lost} == self.lost
        assert {x.allocation.key: x.allocation.pool for x in moved} == self.moved


@dataclass
class Alloc(Row):
    service: ServiceRequest
    ips: Sequence[str] = ()
    pool: str = ""
    error: type[Exception] | None = None
    text: str = ""

    def call(self, alloc: Allocator) -> object:
        return alloc.allocate(self.service)

    def run(self, alloc: Allocator) -> None:
        before = alloc.get(self.service.key)
        if self.error is not None:
            with pytest.raises(self.error) as info:
                self.call(alloc)
            assert str(info.value) == self.text
            assert alloc.get(self.service.key) == before  # a refused request changes nothing
            return
        self.call(alloc)
        got = alloc.get(self.service.key)
        assert ips_of(got) == list(self.ips)
        if self.pool:
            assert got is not None and got.pool == self.pool


@dataclass
class AddFamily(Alloc):
    def call(self, alloc: Allocator) -> object:
        return alloc.allocate_additional_family(self.service)


@dataclass
class Assign(Alloc):
    assign_ips: Sequence[str] = ()

    def call(self, alloc: Allocator) -> object:
        return alloc.assign(self.service, list(self.assign_ips))


@dataclass
class Release(Row):
    key: str
    released: Sequence[str] = ()

    def run(self, alloc: Allocator) -> None:
        assert ips_of(alloc.release(self.key)) == list(self.released)
        assert alloc.get(self.key) is None


@dataclass
class Restore(Row):
    entries: Sequence[tuple[ServiceRequest, Sequence[str]]]
    complete: bool
    failed: dict[str, str] = field(default_factory=dict)  # key -> error text

    def run(self, alloc: Allocator) -> None:
        results = alloc.restore(self.entries, self.complete)
        assert {r.key: str(r.error) for r in results if r.error} == self.failed
        assert alloc.restore_complete is self.complete or not self.complete


def a(key: str, fam: str = "4", policy: str = "", **kw: object) -> ServiceRequest:
    return svc(key, fam, policy, **kw)  # type: ignore[arg-type]


READY = Restore([], complete=True)

SCENARIOS: dict[str, list[Row]] = {
    "lowest first, network and broadcast included, freed address reused": [
        Pools([pool("p", "1.2.3.0/30")]),
        READY,
        Alloc(a("ns/s1"), ["1.2.3.0"], "p"),
        Alloc(a("ns/s2"), ["1.2.3.1"]),
        Alloc(a("ns/s3"), ["1.2.3.2"]),
        Alloc(a("ns/s4"), ["1.2.3.3"]),
        Alloc(a("ns/s5"), error=PoolExhaustedError, text="no available IPs"),
        Release("ns/s2", ["1.2.3.1"]),
        Release("ns/nobody"),
        Alloc(a("ns/s5"), ["1.2.3.1"]),
        Alloc(a("ns/s1"), ["1.2.3.0"]),  # already allocated: re-validated, unchanged
    ],
    "CIDRs in spec order, ranges summarised, families kept apart": [
        Pools([pool("p", "10.0.0.8/31", "10.0.0.0/31", "10.0.1.2-10.0.1.4", "fd00::/127")]),
        READY,
        Alloc(a("ns/a"), ["10.0.0.8"]),
        Alloc(a("ns/b"), ["10.0.0.9"]),
        Alloc(a("ns/c"), ["10.0.0.0"]),
        Alloc(a("ns/d"), ["10.0.0.1"]),
        Alloc(a("ns/e"), ["10.0.1.2"]),
        Alloc(a("ns/f", "6"), ["fd00::"]),
        Alloc(a("ns/g"), ["10.0.1.3"]),
        Alloc(a("ns/h"), ["10.0.1.4"]),
        Alloc(a("ns/i"), error=PoolExhaustedError, text="no available IPs"),
        Alloc(a("ns/j", "6"), ["fd00::1"]),
    ],
    "avoidBuggyIPs skips .0 and .255, refuses them when requested, and counts them out": [
        Pools([pool("b", "1.2.2.0/23", avoid=True)]),
        READY,
        Alloc(a("ns/a"), ["1.2.2.1"]),
        Alloc(
            a("ns/b", ips=["1.2.2.0"]),
            error=NotAllowedError,
            text='["1.2.2.0"] is not allowed in config',
        ),
        Alloc(
            a("ns/c", ips=["1.2.2.255"]),
            error=NotAllowedError,
            text='["1.2.2.255"] is not allowed in config',
        ),
        Alloc(
            a("ns/d", ips=["1.2.3.0"]),
            error=NotAllowedError,
            text='["1.2.3.0"] is not allowed in config',
        ),
        Alloc(a("ns/e", ips=["1.2.2.254"]), ["1.2.2.254"]),
        Alloc(a("ns/f"), ["1.2.2.2"]),
    ],
    "autoAssign false: never chosen automatically, reachable by pool or address": [
        Pools([pool("manual", "10.0.0.0/30", auto=False), pool("zauto", "10.0.1.0/31")]),
        READY,
        Alloc(a("ns/a"), ["10.0.1.0"], "zauto"),
        Alloc(a("ns/b"), ["10.0.1.1"], "zauto"),
        Alloc(a("ns/c"), error=PoolExhaustedError, text="no available IPs"),
        Alloc(a("ns/d", pool="manual"), ["10.0.0.0"], "manual"),
        Alloc(a("ns/e", ips=["10.0.0.3"]), ["10.0.0.3"], "manual"),
    ],
    "requested pool: unknown, exhausted per family, incompatible, requested IP mismatch": [
        Pools(
            [
                pool("p4", "10.0.0.0/31"),
                pool("p6", "fd00::/127"),
                pool("team", "10.0.9.0/30", namespaces=["team"]),
            ]
        ),
        READY,
        Alloc(a("ns/a", pool="nope"), error=UnknownPoolError, text='unknown pool "nope"'),
        Alloc(
            a("ns/b", pool="p6"),
            error=PoolExhaustedError,
            text="no available IPs in pool p6 for ipv4 IPFamily",
        ),
        Alloc(
            a("ns/c", "46", pool="p4"),
            error=PoolExhaustedError,
            text="no available IPs in pool p4 for ipv6 IPFamily",
        ),
        Alloc(a("ns/d", "46", "prefer", pool="p4"), ["10.0.0.0"], "p4"),
        Alloc(
            a("ns/e", pool="team"),
            error=NotAllowedError,
            text="pool team not compatible for ip assignment",
        ),
        Alloc(a("team/f", pool="team"), ["10.0.9.0"], "team"),
        Alloc(
            a("ns/g", ips=["10.0.0.1"], pool="p6"),
            error=NotAllowedError,
            text='requested loadBalancer IP(s) ["10.0.0.1"] is not compatible with requested '
            "address pool p6",
        ),
        Alloc(a("ns/h", ips=["10.0.0.1"], pool="p4"), ["10.0.0.1"], "p4"),
        Alloc(a("ns/i", "6", pool="p6"), ["fd00::"], "p6"),
        Alloc(a("ns/j", "6", pool="p6"), ["fd00::1"], "p6"),
        Alloc(
            a("ns/k", "6", "prefer", pool="p6"),
            error=PoolExhaustedError,
            text="no available IPs in pool p6 for ipv6 IPFamily",
        ),
    ],
    "requested IPs: parse errors per source, families, lengths, addresses not in a pool": [
        Pools([pool("p", "10.0.0.0/29", "fd00::/125")]),
        READY,
        Alloc(
            a("ns/a", ips=["10.0.0.300"]),
            error=InvalidServiceError,
            text='invalid metallb.io/loadBalancerIPs: "10.0.0.300"',
        ),
        Alloc(
            a("ns/a", ips=["10.0.0.1", "bad"]),
            error=InvalidServiceError,
            text='invalid metallb.io/loadBalancerIPs: "10.0.0.1,bad"',
        ),
        Alloc(
            a("ns/a", spec_ip="nope"),
            error=InvalidServiceError,
            text='invalid spec.loadBalancerIP "nope"',
        ),
        Alloc(
            a("ns/a", ips=["10.0.0.1", "10.0.0.2"]),
            error=InvalidServiceError,
            text='IPFamilyForAddresses: same address family ["10.0.0.1" "10.0.0.2"]',
        ),
        Alloc(
            a("ns/a", ips=["10.0.0.1", "fd00::1", "10.0.0.2"]),
            error=InvalidServiceError,
            text='IPFamilyForAddresses: invalid ips length 3 ["10.0.0.1" "fd00::1" "10.0.0.2"]',
        ),
        Alloc(
            a("ns/a", "6", ips=["10.0.0.1"]),
            error=InvalidServiceError,
            text='requested loadBalancer IP(s) ["10.0.0.1"] does not match the ipFamily of the '
            "service",
        ),
        Alloc(
            a("ns/a", ips=["192.0.2.1"]),
            error=NotAllowedError,
            text='["192.0.2.1"] is not allowed in config',
        ),
        Alloc(a("ns/a", spec_ip=" 10.0.0.5"), ["10.0.0.5"]),
        Alloc(a("ns/b", "64", ips=["fd00::3", "10.0.0.3"]), ["fd00::3", "10.0.0.3"]),
        Alloc(
            a("ns/c", ips=["10.0.0.5"]),
            error=AddressInUseError,
            text='can\'t change sharing key for "ns/c", address also in use by ns/a',
        ),
        Alloc(a("ns/d"), ["10.0.0.0"]),
    ],
    "sharing: same key, same backend, disjoint ports; lowest compatible address first": [
        Pools([pool("p", "1.2.3.0/29")]),
        READY,
        Alloc(a("ns/web", share="k", ports=["TCP/80"]), ["1.2.3.0"]),
        Alloc(a("ns/tls", share="k", ports=["TCP/443"]), ["1.2.3.0"]),
        Alloc(a("ns/dns", share="k", ports=["UDP/80"]), ["1.2.3.0"]),  # TCP/80 != UDP/80
        Alloc(a("ns/web2", share="k", ports=["TCP/80"]), ["1.2.3.1"]),  # port taken on .0
        Alloc(a("ns/other", share="j", ports=["TCP/22"]), ["1.2.3.2"]),  # other key
        Alloc(a("ns/local", share="k", backend="app=x", ports=["TCP/22"]), ["1.2.3.3"]),
        Alloc(a("ns/local2", share="k", backend="app=x", ports=["TCP/23"]), ["1.2.3.3"]),
        Alloc(a("ns/nokey", ports=["TCP/9"]), ["1.2.3.4"]),  # no key: never shares
        Alloc(a("ns/ssh", share="k", ports=["TCP/22"]), ["1.2.3.0"]),
        Alloc(
            a("ns/clash", share="k", ports=["TCP/443"], ips=["1.2.3.0"]),
            error=AddressInUseError,
            text='port TCP/443 is already in use on "1.2.3.0"',
        ),
        Alloc(
            a("ns/rekey", share="z", ips=["1.2.3.0"]),
            error=AddressInUseError,
            text='can\'t change sharing key for "ns/rekey", address also in use by '
            "ns/dns,ns/ssh,ns/tls,ns/web",
        ),
        # The sole user of an address may change its own key in place.
        Alloc(a("ns/other", share="changed", ports=["TCP/22"]), ["1.2.3.2"]),
        Release("ns/web", ["1.2.3.0"]),
        Release("ns/tls", ["1.2.3.0"]),
        Release("ns/dns", ["1.2.3.0"]),
        Release("ns/ssh", ["1.2.3.0"]),
        Alloc(a("ns/fresh"), ["1.2.3.0"]),
    ],
    "sharing conditions change: switching one sharer to Local moves it (MetalLB e2e)": [
        Pools([pool("p", "1.2.3.0/30")]),
        READY,
        Alloc(a("ns/a", share="k", ports=["TCP/80"]), ["1.2.3.0"]),
        Alloc(a("ns/b", share="k", ports=["TCP/81"]), ["1.2.3.0"]),
        # b turns Local: its re-validation fails while a still holds the address.
        Alloc(
            a("ns/b", share="k", backend="app=b", ports=["TCP/81"]),
            error=AddressInUseError,
            text='can\'t change sharing key for "ns/b", address also in use by ns/a',
        ),
        Release("ns/b", ["1.2.3.0"]),
        Alloc(a("ns/b", share="k", backend="app=b", ports=["TCP/81"]), ["1.2.3.1"]),
        # a turns Local too: cleared and re-allocated, it takes the lowest compatible address.
        Release("ns/a", ["1.2.3.0"]),
        Alloc(a("ns/a", share="k", backend="app=b", ports=["TCP/80"]), ["1.2.3.0"]),
        # A third Local sharer with the same selector joins the lowest compatible address.
        Alloc(a("ns/c", share="k", backend="app=b", ports=["TCP/82"]), ["1.2.3.0"]),
        Alloc(a("ns/d", share="k", backend="app=b", ports=["TCP/80"]), ["1.2.3.1"]),
    ],
    "serviceAllocation: namespaces, selectors, priorities, ties by name, no fallback": [
        Pools(
            [
                pool("common", "10.9.0.0/31"),
                pool("prio-low", "10.1.0.0/31", priority=20, namespaces=["team"]),
                pool("prio-high", "10.2.0.0/31", priority=10, namespaces=["team"]),
                pool("prio-tie-b", "10.3.0.0/32", priority=5, svc_selectors=[{"tier": "gold"}]),
                pool("prio-tie-a", "10.4.0.0/32", priority=5, svc_selectors=[{"tier": "gold"}]),
                pool("by-ns-label", "10.5.0.0/32", ns_selectors=[{"env": "prod"}]),
                pool("no-prio", "10.6.0.0/32", namespaces=["team"]),
            ]
        ),
        READY,
        Alloc(a("other/x"), ["10.9.0.0"], "common"),
        Alloc(a("team/x"), ["10.2.0.0"], "prio-high"),
        Alloc(a("team/y"), ["10.2.0.1"], "prio-high"),
        Alloc(a("team/z"), ["10.1.0.0"], "prio-low"),
        Alloc(a("team/w"), ["10.1.0.1"], "prio-low"),
        Alloc(a("team/v"), ["10.6.0.0"], "no-prio"),  # priority 0 comes after every priority
        Alloc(a("team/u"), ["10.9.0.1"], "common"),  # pinned pools full: fall back
        Alloc(a("gold/a", labels={"tier": "gold"}), ["10.4.0.0"], "prio-tie-a"),
        Alloc(a("gold/b", labels={"tier": "gold"}), ["10.3.0.0"], "prio-tie-b"),
        Alloc(a("prod/a", ns_labels={"env": "prod"}), ["10.5.0.0"], "by-ns-label"),
        # Pools with a serviceAllocation are never a fallback.
        Alloc(
            a("prod/b", ns_labels={"env": "prod"}),
            error=PoolExhaustedError,
            text="no available IPs",
        ),
        Alloc(
            a("other/y", pool="no-prio"),
            error=NotAllowedError,
            text="pool no-prio not compatible for ip assignment",
        ),
        # MetalLB's Assign checks sharing before compatibility.
        Alloc(
            a("other/y", ips=["10.6.0.0"]),
            error=AddressInUseError,
            text='can\'t change sharing key for "other/y", address also in use by team/v',
        ),
        Release("team/v", ["10.6.0.0"]),
        Alloc(
            a("other/y", ips=["10.6.0.0"]),
            error=NotAllowedError,
            text="pool no-prio not compatible for ip assignment",
        ),
    ],
    "serviceAllocation with only a priority pins the pool for every service": [
        Pools([pool("a-plain", "10.0.0.0/32"), pool("z-prio", "10.1.0.0/32", priority=1)]),
        READY,
        Alloc(a("ns/a"), ["10.1.0.0"], "z-prio"),
        Alloc(a("ns/b"), ["10.0.0.0"], "a-plain"),
    ],
    "dual stack: require both, prefer either, primary family, additional family": [
        Pools(
            [
                pool("a-v4only", "10.0.0.0/31"),
                pool("b-dual", "10.1.0.0/32", "fd01::/127"),
                pool("c-v6only", "fd02::/127"),
            ]
        ),
        READY,
        Alloc(a("ns/r1", "46", "require"), ["10.1.0.0", "fd01::"], "b-dual"),
        Alloc(a("ns/r2", "64", "require"), error=PoolExhaustedError, text="no available IPs"),
        Alloc(a("ns/p1", "46", "prefer"), ["10.0.0.0"], "a-v4only"),
        Alloc(a("ns/p2", "64", "prefer"), ["fd01::1"], "b-dual"),
        Alloc(a("ns/p3", "64", "prefer"), ["fd02::"], "c-v6only"),
        AddFamily(
            a("ns/p3", "64", "prefer"),
            error=PoolExhaustedError,
            text="no available IPs in pool c-v6only for ipv4 IPFamily",
        ),
        Release("ns/r1", ["10.1.0.0", "fd01::"]),
        AddFamily(a("ns/p2", "64", "prefer"), ["fd01::1", "10.1.0.0"], "b-dual"),
        AddFamily(a("ns/p2", "64", "prefer"), ["fd01::1", "10.1.0.0"], "b-dual"),
        # Quirk 3 fixed: a single-stack service never gains a second family.
        AddFamily(
            a("ns/p1", "4", "prefer"),
            error=FailedPreconditionError,
            text='service "ns/p1" is not a dual-stack PreferDualStack service',
        ),
        AddFamily(
            a("ns/none", "46", "prefer"),
            error=NoAllocationError,
            text='service "ns/none" has no allocation',
        ),
    ],
    "assign: validates count, families, pool, sharing and compatibility": [
        Pools([pool("p", "10.0.0.0/30", "fd00::/126"), pool("q", "10.0.1.0/30")]),
        READY,
        Assign(
            a("ns/a"),
            assign_ips=["10.0.0.1", "fd00::1", "10.0.0.2"],
            error=InvalidServiceError,
            text='more than two addresses ["10.0.0.1" "fd00::1" "10.0.0.2"]',
        ),
        Assign(
            a("ns/a"),
            assign_ips=["10.0.0.1", "10.0.0.2"],
            error=InvalidServiceError,
            text='"10.0.0.1" "10.0.0.2" has the same family',
        ),
        Assign(
            a("ns/a", "46"),
            assign_ips=["10.0.0.1", "fd00::9"],
            error=NotAllowedError,
            text='["10.0.0.1" "fd00::9"] is not allowed in config',
        ),
        Assign(
            a("ns/a", "46"),
            assign_ips=["10.0.1.1", "fd00::1"],
            error=NotAllowedError,
            text='["10.0.1.1" "fd00::1"] is not allowed in config',
        ),
        Assign(a("ns/a", "46"), assign_ips=["fd00::1", "10.0.0.1"], ips=["fd00::1", "10.0.0.1"]),
        Assign(
            a("ns/b"),
            assign_ips=["10.0.0.1"],
            error=AddressInUseError,
            text='can\'t change sharing key for "ns/b", address also in use by ns/a',
        ),
    ],
    "pool changes: expand, shrink, rename, split, buggy on, selectors changed": [
        Pools([pool("test", "1.2.3.0/30"), pool("t2", "10.0.0.0/31", namespaces=["team"])]),
        READY,
        Alloc(a("ns/a"), ["1.2.3.0"], "test"),
        Alloc(a("ns/b", ips=["1.2.3.2"]), ["1.2.3.2"], "test"),
        Alloc(a("team/c", pool="t2"), ["10.0.0.0"], "t2"),
        Pools([pool("test", "1.2.3.0/24"), pool("t2", "10.0.0.0/31", namespaces=["team"])]),
        Pools([pool("test", "1.2.3.0/30"), pool("t2", "10.0.0.0/31", namespaces=["team"])]),
        Pools(
            [pool("renamed", "1.2.3.0/30"), pool("t2", "10.0.0.0/31", namespaces=["team"])],
            moved={"ns/a": "renamed", "ns/b": "renamed"},
        ),
        Pools(
            [
                pool("lo", "1.2.3.0/31"),
                pool("hi", "1.2.3.2/31"),
                pool("t2", "10.0.0.0/31", namespaces=["team"]),
            ],
            moved={"ns/a": "lo", "ns/b": "hi"},
        ),
        Pools(
            [
                pool("lo", "1.2.3.0/31", avoid=True),
                pool("hi", "1.2.3.2/31"),
                pool("t2", "10.0.0.0/31", namespaces=["team"]),
            ],
            lost={"ns/a": ReleaseReason.NOT_IN_ANY_POOL},
        ),
        Pools(
            [
                pool("lo", "1.2.3.0/31", avoid=True),
                pool("hi", "1.2.3.2/31"),
                pool("t2", "10.0.0.0/31", namespaces=["other"]),
            ],
            lost={"team/c": ReleaseReason.POOL_NOT_COMPATIBLE},
        ),
        Pools(
            [pool("x", "1.2.3.0/24"), pool("y", "1.2.3.128/25")],
            error='CIDR "1.2.3.128/25" in pool "y" overlaps with already defined CIDR "1.2.3.0/24"',
        ),
        Pools([pool("hi", "1.2.3.3/32")], lost={"ns/b": ReleaseReason.NOT_IN_ANY_POOL}),
        Pools([]),
        Alloc(a("ns/z"), error=PoolExhaustedError, text="no available IPs"),
    ],
    "restore: nothing new until complete; status order; conflicts reported": [
        Pools([pool("p", "10.0.0.0/30", "fd00::/126")]),
        Alloc(
            a("ns/new"),
            error=RestoreInProgressError,
            text="restoration of existing assignments is not complete: no new address is "
            "handed out until the caller sends every service (ConvergeServices with "
            "complete_set) or calls RestoreAllocations with complete=true",
        ),
        Alloc(
            a("ns/new", ips=["10.0.0.3"]),
            error=RestoreInProgressError,
            text="restoration of existing assignments is not complete: no new address is "
            "handed out until the caller sends every service (ConvergeServices with "
            "complete_set) or calls RestoreAllocations with complete=true",
        ),
        Restore(
            [(a("ns/one"), ["10.0.0.0"]), (a("ns/dual", "46"), ["10.0.0.0", "fd00::"])],
            complete=False,
            failed={
                "ns/one": 'can\'t change sharing key for "ns/one", address also in use by ns/dual'
            },
        ),
        Restore(
            [(a("ns/gone"), ["192.0.2.1"]), (a("ns/two"), ["10.0.0.1"])],
            complete=True,
            failed={"ns/gone": '["192.0.2.1"] is not allowed in config'},
        ),
        Alloc(a("ns/one"), ["10.0.0.2"]),
        Alloc(a("ns/dual", "46"), ["10.0.0.0", "fd00::"]),
    ],
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario(name: str) -> None:
    alloc = Allocator()
    for i, row in enumerate(SCENARIOS[name]):
        try:
            row.run(alloc)
            check_invariants(alloc)
        except AssertionError as err:
            raise AssertionError(f"row {i} ({row}): {err}") from err
