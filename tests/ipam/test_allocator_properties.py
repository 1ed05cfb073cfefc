"""Hypothesis state machine: random set-pools, allocate, release, restore and restarts.

Whatever the sequence, no address is ever held by two services that may not share it, the
counts agree with the allocations, the internal indexes agree with each other, and an allocation
from a pool is exactly the one MetalLB's lowest-first scan would pick (checked against a naive
scan written here, independently of the allocator's rank arithmetic).
"""

import ipaddress
from collections.abc import Sequence

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from metallb_rules.addresses import IPAddress
from metallb_rules.allocator.allocator import Allocator
from metallb_rules.allocator.model import Allocation, Family, ServiceRequest
from metallb_rules.allocator.pools import Pool, PoolSpec
from metallb_rules.errors import DomainError
from tests.ipam.helpers import check_invariants, pool, svc

# Small address universes so that pools fill up and collide often.
V4_BLOCKS = ["10.0.0.0/29", "10.0.0.8/30", "10.0.0.12/31", "10.0.0.16/28", "10.0.0.250-10.0.1.5"]
V6_BLOCKS = ["fd00::/125", "fd00::8/126", "fd00::10/124"]
KEYS = [f"ns{i % 2}/s{i}" for i in range(16)]
PORTS = ["TCP/80", "TCP/443", "UDP/53"]

pool_sets = st.lists(
    st.tuples(
        st.sets(st.sampled_from(V4_BLOCKS + V6_BLOCKS), min_size=1, max_size=3),
        st.booleans(),  # avoidBuggyIPs
        st.booleans(),  # autoAssign
        st.sampled_from([None, "ns0"]),  # serviceAllocation namespace
    ),
    min_size=1,
    max_size=3,
)


def services(pool_names: Sequence[str]) -> st.SearchStrategy[ServiceRequest]:
    return st.builds(
        lambda key, fam, policy, share, backend, ports, pool_choice: svc(
            key, fam, policy, share=share, backend=backend, ports=ports, pool=pool_choice
        ),
        st.sampled_from(KEYS),
        st.sampled_from(["4", "4", "6", "46", "64"]),
        st.sampled_from(["", "prefer"]),
        st.sampled_from(["", "", "a", "b"]),
        st.sampled_from(["", "", "app=x"]),
        st.lists(st.sampled_from(PORTS), max_size=2, unique=True),
        st.sampled_from(["", "", *pool_names]),
    )


def _naive_lowest(alloc: Allocator, p: Pool, version: int, req: ServiceRequest) -> IPAddress | None:
    """MetalLB's getIPFromCIDR, literally: walk each CIDR from its first address."""
    holders: dict[IPAddress, list[Allocation]] = {}
    for a in alloc.allocations():
        for ip in a.ips:
            holders.setdefault(ip, []).append(a)
    for space in p.spaces:
        if space.version != version:
            continue
        for ip in space.network:
            if p.avoid_buggy_ips and ip.version == 4 and int(ip) & 0xFF in (0, 255):
                continue
            users = [h for h in holders.get(ip, []) if h.key != req.key]
            if not users:
                return ip
            first = users[0]
            if not (
                first.sharing_key
                and req.sharing_key == first.sharing_key
                and req.backend_key == first.backend_key
            ):
                continue
            taken = {port for u in users for port in u.ports}
            if not taken & set(req.ports):
                return ip
    return None


class AllocatorMachine(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.alloc = Allocator()
        self.alloc.restore([], complete=True)
        self.requests: dict[str, ServiceRequest] = {}  # the last one allocated, per service

    @rule(spec=pool_sets)
    def set_pools(self, spec: Sequence[tuple[set[str], bool, bool, str | None]]) -> None:
        seen: set[str] = set()
        specs: list[PoolSpec] = []
        for i, (blocks, avoid, auto, ns) in enumerate(spec):
            fresh = sorted(blocks - seen)
            seen |= blocks
            if fresh:
                specs.append(
                    pool(f"p{i}", *fresh, avoid=avoid, auto=auto, namespaces=[ns] if ns else [])
                )
        before = {a.key: a for a in self.alloc.allocations()}
        lost, moved = self.alloc.set_pools(specs)
        after = {a.key: a for a in self.alloc.allocations()}
        assert set(before) - set(after) == {x.allocation.key for x in lost}
        for m in moved:
            assert after[m.allocation.key].ips == before[m.allocation.key].ips

    @rule(data=st.data())
    def allocate(self, data: st.DataObject) -> None:
        self._allocate(data.draw(services([p.name for p in self.alloc.pools()])))

    @rule(data=st.data())
    def allocate_more(self, data: st.DataObject) -> None:
        self._allocate(data.draw(services([p.name for p in self.alloc.pools()])))

    def _allocate(self, req: ServiceRequest) -> None:
        had = self.alloc.get(req.key)
        expected: list[IPAddress] | None = None
        if had is None and req.requested_pool in {p.name for p in self.alloc.pools()}:
            p = self.alloc.pool(req.requested_pool)
            if p.namespaces and req.namespace not in p.namespaces:
                expected = None
            else:
                wanted = (
                    [4, 6] if req.family is Family.DUAL else [4 if req.family is Family.IPV4 else 6]
                )
                expected = [
                    ip
                    for ip in (_naive_lowest(self.alloc, p, v, req) for v in wanted)
                    if ip is not None
                ]
        try:
            got = self.alloc.allocate(req)
            self.requests[req.key] = req
        except DomainError as err:
            event(f"refused: {type(err).__name__}")
            got = None
        if got is not None and expected is not None:
            event("allocated from a pool: compared with the naive scan")
            assert list(got.ips) == expected, (got, expected)
        elif got is not None:
            event("allocated")

    @rule(key=st.sampled_from(KEYS))
    def release(self, key: str) -> None:
        self.alloc.release(key)
        assert self.alloc.get(key) is None

    @rule()
    def restart_and_restore(self) -> None:
        """A restarted IPAM rebuilt from status: the same allocations, nothing lost."""
        current = self.alloc.allocations()
        fresh = Allocator()
        fresh.set_pools([p.spec for p in self.alloc.pools()])
        results = fresh.restore(
            [(self.requests[a.key], [str(ip) for ip in a.ips]) for a in current], complete=True
        )
        assert all(r.error is None for r in results), results
        assert {a.key: a.ips for a in fresh.allocations()} == {a.key: a.ips for a in current}
        self.alloc = fresh

    @invariant()
    def consistent(self) -> None:
        check_invariants(self.alloc)


AllocatorMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestAllocatorMachine = AllocatorMachine.TestCase


def test_naive_scan_sanity() -> None:
    alloc = Allocator()
    alloc.set_pools([pool("p", "10.0.0.0/30")])
    assert _naive_lowest(alloc, alloc.pool("p"), 4, svc("a/b")) == ipaddress.ip_address("10.0.0.0")
