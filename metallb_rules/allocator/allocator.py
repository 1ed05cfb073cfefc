"""MetalLB's allocator (`internal/allocator`), rebuilt to allocate in logarithmic time.

Theory of operation
-------------------
MetalLB walks every address of a pool, lowest first, and asks "may this service have it?"; filling
a pool is therefore quadratic. We keep, per address family, one sorted list of the integer values
of every address in use. A pool is a sequence of `AddressSpace`s (one per CIDR); inside a space
every usable address has a rank, and the in-use addresses of a space form a contiguous slice of
the sorted list. The lowest free address of a space is the first slice position `i` whose address
has a rank greater than `i`, found by binary search: O(log n) comparisons for n addresses in use,
and memory proportional to n, never to the pool's size, so an IPv6 /48 costs nothing to hold.

A service that may share (it has a sharing key) may also take an address already in use by
compatible services (same sharing key, same backend key, no common port); those addresses are
indexed per (sharing key, backend key), so the lowest compatible one is found the same way, and the
service gets whichever of the two is lower, exactly as MetalLB's scan would find it.

Decisions follow MetalLB section 1 of the behaviour reference, with its error texts. Where MetalLB
is random (equal priorities, fallback pools) we order by (priority, pool name); see docs/ipam.md.

The allocator is a plain object: one owner calls it, it does no I/O, and each mutation appends a
`Change` that the owner drains with `take_changes()` to feed watchers, or hands it at once to
`on_change` (a complete set of ~39,600 Services replaced is ~79,000 changes, each holding an
allocation: collected, they would all live until the call ends).
"""

from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from types import MappingProxyType

from metallb_rules.addresses import IPAddress, parse_ip
from metallb_rules.allocator.errors import (
    AddressInUseError,
    InvalidServiceError,
    NoAllocationError,
    NotAllowedError,
    PoolExhaustedError,
    RestoreInProgressError,
    UnknownPoolError,
)
from metallb_rules.allocator.model import (
    Allocation,
    Change,
    ChangeType,
    Family,
    FamilyPolicy,
    LostAllocation,
    MovedAllocation,
    PoolUsage,
    Port,
    ReleaseReason,
    RequestedIPsSource,
    ServiceRequest,
)
from metallb_rules.allocator.pools import Pool, PoolSpec, parse_pools
from metallb_rules.allocator.spaces import AddressSpace
from metallb_rules.errors import DomainError, FailedPreconditionError, kept
from metallb_rules.gotext import quote, quote_list

_VERSION = {Family.IPV4: 4, Family.IPV6: 6}
_NOT_LABELLED: tuple[Mapping[str, str], Mapping[str, str]] = (
    MappingProxyType({}),
    MappingProxyType({}),
)
_FAMILY = {4: Family.IPV4, 6: Family.IPV6}


class _IPRecord:
    """Who uses one address: MetalLB's sharingKeyForIP, servicesOnIP and portsInUse in one.

    Most addresses have one user, whose allocation lists its ports: `ports` (which user holds
    each port) is None until a second user comes (`Allocator._holder` reads both forms). IPAM
    holds one record per Service of a complete set (~39,600 in a 4 MiB ConvergeServices, issue
    15): a dictionary and a list each cost more than the record."""

    __slots__ = ("backend", "pool", "ports", "services", "sharing")

    def __init__(self, pool: str, sharing: str, backend: str, user: str) -> None:
        self.pool = pool
        self.sharing = sharing
        self.backend = backend
        self.services: tuple[str, ...] = (user,)
        self.ports: dict[Port, str] | None = None


class _PoolIndex:
    """Finds the pool space holding an address: sorted space starts per family, bisected."""

    def __init__(self, pools: dict[str, Pool]) -> None:
        entries: dict[int, list[tuple[AddressSpace, Pool]]] = {4: [], 6: []}
        for pool in pools.values():
            for space in pool.spaces:
                entries[space.version].append((space, pool))
        for items in entries.values():
            items.sort(key=lambda item: item[0].start)
        self._entries = entries
        self._starts = {v: [space.start for space, _ in items] for v, items in entries.items()}

    def pool_of(self, ip: IPAddress) -> Pool | None:
        """The pool owning `ip`, ignoring buggy IPs of avoidBuggyIPs pools (MetalLB `poolFor`)."""
        value = int(ip)
        i = bisect_right(self._starts[ip.version], value) - 1
        if i < 0:
            return None
        space, pool = self._entries[ip.version][i]
        return pool if space.usable(value) else None

    def pool_for(self, ips: Iterable[IPAddress]) -> Pool | None:
        """The one pool owning all of `ips`, or None."""
        found: Pool | None = None
        for ip in ips:
            pool = self.pool_of(ip)
            if pool is None or (found is not None and pool.name != found.name):
                return None
            found = pool
        return found


@dataclass(frozen=True)
class RestoreResult:
    key: str
    allocation: Allocation | None
    error: DomainError | None


def automatic_order(pools: Iterable[Pool]) -> tuple[list[Pool], list[Pool]]:
    """The pools automatic allocation tries (MetalLB `findBestPoolForService`): the auto-assign
    pools with a serviceAllocation, sorted as MetalLB's sortPools (priority > 0 first, lower
    first; ties, random there, by name here), then the fallback: auto-assign pools without one,
    by name. Pools with autoAssign false are never tried."""
    pools = list(pools)
    pinnable = sorted(
        (p for p in pools if p.auto_assign and p.has_service_allocation),
        key=lambda p: (0, p.priority, p.name) if p.priority > 0 else (1, 0, p.name),
    )
    fallback = [p for p in pools if p.auto_assign and not p.has_service_allocation]
    return pinnable, fallback


def pinned_for(pinnable: Sequence[Pool], req: ServiceRequest) -> list[Pool]:
    """Of `pinnable` (`automatic_order`'s first list), those whose serviceAllocation admits the
    service (`isPoolCompatibleWithService`); when none does, the fallback pools are tried."""
    return [p for p in pinnable if p.admits(req.namespace, req.namespace_labels, req.labels)]


def _sharing_compatible(rec: _IPRecord, sharing: str, backend: str) -> bool:
    """MetalLB `sharingOK`: both allow sharing with the same key and the same backend key."""
    return (
        bool(rec.sharing) and bool(sharing) and rec.sharing == sharing and (rec.backend == backend)
    )


class Allocator:
    """Pools, allocations and the rules between them. Not thread-safe: one owner calls it."""

    def __init__(self, on_change: Callable[[Change], None] | None = None) -> None:
        self._pools: dict[str, Pool] = {}
        self._pinnable: list[Pool] = []
        self._fallback: list[Pool] = []
        self._index = _PoolIndex({})
        self._allocs: dict[str, Allocation] = {}
        # Of each allocated service, what pool selectors read (namespace labels, labels): a new
        # pool set re-checks them. Not its whole request: IPAM keeps one per Service.
        self._selected: dict[str, tuple[Mapping[str, str], Mapping[str, str]]] = {}
        # Address records per family, keyed by the address's integer value.
        self._ips: dict[int, dict[int, _IPRecord]] = {4: {}, 6: {}}
        self._used: dict[int, list[int]] = {4: [], 6: []}
        self._groups: dict[tuple[str, str], dict[int, list[int]]] = {}
        self._in_use: dict[str, list[int]] = {}
        self._services: dict[str, int] = {}
        self._changes: list[Change] = []
        self._changed = self._changes.append if on_change is None else on_change
        self.pools_set = False
        self.restore_complete = False

    # ----------------------------------------------------------------------------- pools

    def set_pools(
        self, specs: Iterable[PoolSpec], parsed: dict[str, Pool] | None = None
    ) -> tuple[list[LostAllocation], list[MovedAllocation]]:
        """Replace the pool set; re-validate every allocation against it (MetalLB `SetPools`).

        An allocation whose addresses are no longer all in one pool, or whose pool no longer
        admits the service, is released; one whose addresses now sit in a pool of another name
        (renamed or split pool) is re-homed. Both are returned. An invalid set changes nothing.
        `parsed` is `parse_pools(specs)` done beforehand (elsewhere than the state's owner).
        """
        pools = parse_pools(specs) if parsed is None else parsed
        index = _PoolIndex(pools)
        lost: list[LostAllocation] = []
        moved: list[MovedAllocation] = []
        for key in sorted(self._allocs):
            alloc = self._allocs[key]
            namespace_labels, labels = self._selected[key]
            pool = index.pool_for(alloc.ips)
            if pool is None:
                lost.append(
                    LostAllocation(
                        alloc,
                        ReleaseReason.NOT_IN_ANY_POOL,
                        f"{quote_list(alloc.ips)} is not allowed in config",
                    )
                )
            elif not pool.admits(alloc.namespace, namespace_labels, labels):
                lost.append(
                    LostAllocation(
                        alloc,
                        ReleaseReason.POOL_NOT_COMPATIBLE,
                        f"pool {pool.name} not compatible for ip assignment",
                    )
                )
            elif pool.name != alloc.pool:
                moved.append(MovedAllocation(alloc._replace(pool=pool.name), alloc.pool))
        self._pools = pools
        self._index = index
        self._pinnable, self._fallback = automatic_order(pools.values())
        self.pools_set = True
        for gone in lost:
            self._unassign(gone.allocation.key)
            self._changed(Change(ChangeType.RELEASED, gone.allocation, gone.reason))
        for move in moved:
            self._allocs[move.allocation.key] = move.allocation
            self._changed(Change(ChangeType.ALLOCATED, move.allocation))
        self._recount()
        return lost, moved

    def _recount(self) -> None:
        self._in_use = {name: [0, 0] for name in self._pools}
        self._services = dict.fromkeys(self._pools, 0)
        for version, records in self._ips.items():
            for value, rec in records.items():
                pool = self._index.pool_of(_to_ip(version, value))
                assert pool is not None, f"{_to_ip(version, value)} in use outside every pool"
                rec.pool = pool.name
                self._in_use[pool.name][version == 6] += 1
        for alloc in self._allocs.values():
            self._services[alloc.pool] += 1

    def pools(self) -> list[Pool]:
        return list(self._pools.values())

    def pool(self, name: str) -> Pool:
        try:
            return self._pools[name]
        except KeyError:
            raise UnknownPoolError(f"unknown pool {quote(name)}", field="name") from None

    def usage(self, name: str) -> PoolUsage:
        """Counts of a pool (MetalLB's metallb_allocator_* gauges and IPAddressPool status)."""
        pool = self.pool(name)
        total, v4, v6 = pool.counts
        in_use = self._in_use.get(name, [0, 0])
        return PoolUsage(total, v4, v6, in_use[0], in_use[1], self._services.get(name, 0))

    # ----------------------------------------------------------------------------- queries

    def get(self, key: str) -> Allocation | None:
        return self._allocs.get(key)

    def allocations(self, pool: str = "", namespace: str = "") -> list[Allocation]:
        return [
            a
            for _, a in sorted(self._allocs.items())
            if (not pool or a.pool == pool) and (not namespace or a.namespace == namespace)
        ]

    def owning_pool(self, ips: Sequence[IPAddress | str]) -> str | None:
        """The name of the one pool holding all of `ips` (MetalLB `poolFor`), or None."""
        try:
            pool = self._index.pool_for(_parse_ips(ips))
        except InvalidServiceError:
            return None
        return pool.name if pool is not None else None

    def take_changes(self) -> list[Change]:
        """The changes since the last call (none when they go to `on_change`)."""
        changes, self._changes = self._changes, []
        return changes

    # ----------------------------------------------------------------------------- allocation

    def allocate(self, req: ServiceRequest) -> Allocation:
        """MetalLB's `allocateIPs`: requested IPs, else the requested pool, else automatic."""
        _check_service(req)
        if req.requested_ips:
            return self._allocate_requested(req)
        if req.requested_pool:
            return self._allocate_from_pool(req)
        return self._allocate_automatic(req)

    def _allocate_requested(self, req: ServiceRequest) -> Allocation:
        ips = _parse_requested(req)
        family = _family_for_addresses(ips)
        if family != req.family:
            raise InvalidServiceError(
                f"requested loadBalancer IP(s) {quote_list(ips)} does not match the ipFamily of "
                "the service",
                field="service.requested_ips",
            )
        current = self._allocs.get(req.key)
        if current is None or set(current.ips) != set(ips):
            self.require_restored()
        pool = self._index.pool_for(ips)
        if req.requested_pool and pool is not None and pool.name != req.requested_pool:
            raise NotAllowedError(
                f"requested loadBalancer IP(s) {quote_list(ips)} is not compatible with "
                f"requested address pool {req.requested_pool}",
                field="service.requested_pool",
            )
        return self.assign(req, ips)

    def _allocate_from_pool(self, req: ServiceRequest) -> Allocation:
        current = self._allocs.get(req.key)
        if current is not None:
            if current.family != req.family:
                raise FailedPreconditionError(
                    f"IP for wrong family assigned {','.join(map(str, current.ips))}"
                )
            return self.assign(req, current.ips)
        pool = self._pools.get(req.requested_pool)
        if pool is None:
            raise UnknownPoolError(
                f"unknown pool {quote(req.requested_pool)}", field="service.requested_pool"
            )
        if not pool.admits(req.namespace, req.namespace_labels, req.labels):
            raise NotAllowedError(f"pool {pool.name} not compatible for ip assignment")
        self.require_restored()
        family = req.family
        v4 = self._free_ip(pool, 4, req) if family is not Family.IPV6 else None
        v6 = self._free_ip(pool, 6, req) if family is not Family.IPV4 else None
        if family is Family.DUAL and req.policy is FamilyPolicy.PREFER_DUAL_STACK:
            ips = [ip for ip in (v4, v6) if ip is not None]
            if not ips:
                raise PoolExhaustedError(f"no available IPs in pool {pool.name}")
        else:
            for version, ip in ((4, v4), (6, v6)):
                wanted = family is Family.DUAL or family is _FAMILY[version]
                if wanted and ip is None:
                    raise PoolExhaustedError(
                        f"no available IPs in pool {pool.name} for {_FAMILY[version]} IPFamily"
                    )
            ips = [ip for ip in (v4, v6) if ip is not None]
        return self._commit(req, pool, ips)

    def _allocate_automatic(self, req: ServiceRequest) -> Allocation:
        current = self._allocs.get(req.key)
        if current is not None:
            return self.assign(req, current.ips)
        self.require_restored()
        pinned = pinned_for(self._pinnable, req)
        found = self._best_pool(pinned, req) if pinned else None
        if found is None:
            found = self._best_pool(self._fallback, req)
        if found is None:
            raise PoolExhaustedError("no available IPs")
        return self._commit(req, *found)

    def allocate_additional_family(
        self, req: ServiceRequest
    ) -> tuple[Allocation, IPAddress | None]:
        """PreferDualStack: add the missing family from the same pool (MetalLB step 8).

        Unlike MetalLB, a service whose cluster IPs are single-stack is refused, so it cannot
        gain a second address and then flap (behaviour reference §8, quirk 3).
        """
        _check_service(req)
        current = self._allocs.get(req.key)
        if current is None:
            raise NoAllocationError(f"service {quote(req.key)} has no allocation")
        if req.family is not Family.DUAL or req.policy is not FamilyPolicy.PREFER_DUAL_STACK:
            raise FailedPreconditionError(
                f"service {quote(req.key)} is not a dual-stack PreferDualStack service",
                field="service.ip_family_policy",
            )
        if len(current.ips) == 2:
            return self.assign(req, current.ips), None
        self.require_restored()
        missing = 6 if current.ips[0].version == 4 else 4
        pool = self._pools[current.pool]
        ip = self._free_ip(pool, missing, req)
        if ip is None:
            raise PoolExhaustedError(
                f"no available IPs in pool {pool.name} for {_FAMILY[missing]} IPFamily"
            )
        return self.assign(req, (*current.ips, ip)), ip

    def assign(self, req: ServiceRequest, ips: Sequence[IPAddress | str]) -> Allocation:
        """MetalLB `Assign`: give `ips` to the service if configuration and sharing allow it.

        Idempotent; this is how existing assignments are re-validated and restored.
        """
        parsed = _parse_ips(ips)
        if not parsed:
            raise InvalidServiceError("no addresses to assign", field="ips")
        if len(parsed) > 2:
            raise InvalidServiceError(f"more than two addresses {quote_list(parsed)}", field="ips")
        if len(parsed) == 2 and parsed[0].version == parsed[1].version:
            raise InvalidServiceError(
                f"{quote(parsed[0])} {quote(parsed[1])} has the same family", field="ips"
            )
        pool = self._index.pool_for(parsed)
        if pool is None:
            raise NotAllowedError(f"{quote_list(parsed)} is not allowed in config", field="ips")
        for ip in parsed:
            self._check_sharing(req, ip)
        if not pool.admits(req.namespace, req.namespace_labels, req.labels):
            raise NotAllowedError(f"pool {pool.name} not compatible for ip assignment")
        return self._commit(req, pool, parsed)

    def release(self, key: str) -> Allocation | None:
        """MetalLB `Unassign`: free what the service holds; None if it held nothing."""
        alloc = self._unassign(key)
        if alloc is not None:
            self._changed(Change(ChangeType.RELEASED, alloc, ReleaseReason.RELEASED))
        return alloc

    def restore(
        self, entries: Iterable[tuple[ServiceRequest, Sequence[IPAddress | str]]], complete: bool
    ) -> list[RestoreResult]:
        """Re-assign what Service status says each service holds (MetalLB §1.7).

        Services with more addresses go first, as MetalLB's reprocess-all sorts them. With
        `complete`, new allocations are allowed from then on.
        """
        results = []
        for req, ips in sorted(entries, key=lambda entry: -len(entry[1])):
            try:
                results.append(RestoreResult(req.key, self.assign(req, ips), None))
            except DomainError as err:
                results.append(RestoreResult(req.key, None, kept(err)))
        if complete:
            self.restore_complete = True
        return results

    # ----------------------------------------------------------------------------- internals

    def require_restored(self) -> None:
        """Raise `RestoreInProgressError` until restoration is complete."""
        if not self.restore_complete:
            raise RestoreInProgressError(
                "restoration of existing assignments is not complete: no new address is handed "
                "out until the caller sends every service (ConvergeServices with complete_set) or "
                "calls RestoreAllocations with complete=true"
            )

    def _check_sharing(self, req: ServiceRequest, ip: IPAddress) -> None:
        """MetalLB `checkSharing`."""
        rec = self._ips[ip.version].get(int(ip))
        if rec is None:
            return
        if not _sharing_compatible(rec, req.sharing_key, req.backend_key):
            others = sorted(s for s in rec.services if s != req.key)
            if others:
                raise AddressInUseError(
                    f"can't change sharing key for {quote(req.key)}, address also in use by "
                    f"{','.join(others)}"
                )
        for port in req.ports:
            holder = self._holder(rec, port)
            if holder is not None and holder != req.key:
                raise AddressInUseError(f"port {port} is already in use on {quote(ip)}")

    def _best_pool(
        self, pools: Sequence[Pool], req: ServiceRequest
    ) -> tuple[Pool, list[IPAddress]] | None:
        """MetalLB `findBestPoolForService` + `selectIPsForFamilyAndPolicy`."""
        family = req.family
        if family is not Family.DUAL:
            for pool in pools:
                ip = self._free_ip(pool, _VERSION[family], req)
                if ip is not None:
                    return pool, [ip]
            return None
        prefer = req.policy is FamilyPolicy.PREFER_DUAL_STACK
        with_primary: tuple[Pool, list[IPAddress]] | None = None
        with_secondary: tuple[Pool, list[IPAddress]] | None = None
        for pool in pools:
            v4 = self._free_ip(pool, 4, req)
            if v4 is None and not prefer:
                continue
            v6 = self._free_ip(pool, 6, req)
            if v4 is not None and v6 is not None:
                return pool, [v4, v6]
            if prefer:
                for ip in (v4, v6):
                    if ip is None:
                        continue
                    if Family.of(ip) is req.primary:
                        with_primary = with_primary or (pool, [ip])
                    else:
                        with_secondary = with_secondary or (pool, [ip])
        return with_primary or with_secondary

    def _free_ip(self, pool: Pool, version: int, req: ServiceRequest) -> IPAddress | None:
        """The lowest address of `pool` the service may take: MetalLB `getFreeIPsFromPool`."""
        for space in pool.spaces:
            if space.version != version:
                continue
            value = self._lowest_in_space(space, req)
            if value is not None:
                return space.to_ip(value)
        return None

    def _lowest_in_space(self, space: AddressSpace, req: ServiceRequest) -> int | None:
        used = self._used[space.version]
        lo = bisect_left(used, space.start)
        hi = bisect_right(used, space.end, lo)
        # Every in-use address of the space is usable there, so rank(used[lo + i]) >= i; the
        # first i where it is greater marks the first gap (binary search, O(log n)).
        a, b = 0, hi - lo
        if b and not space.per_block and used[hi - 1] - space.first_usable == b - 1:
            a = b  # no gap below the highest in-use address (a pool filled lowest first)
        elif space.per_block:
            rank = space.rank
            while a < b:
                mid = (a + b) // 2
                if rank(used[lo + mid]) > mid:
                    b = mid
                else:
                    a = mid + 1
        else:  # rank is an offset: the same search with the arithmetic inlined
            first = space.first_usable
            while a < b:
                mid = (a + b) // 2
                if used[lo + mid] - first > mid:
                    b = mid
                else:
                    a = mid + 1
        free = space.unrank(a) if a < space.usable_count else None
        if req.sharing_key:
            shared = self._lowest_shared(space, req)
            if shared is not None and (free is None or shared < free):
                return shared
        return free

    def _lowest_shared(self, space: AddressSpace, req: ServiceRequest) -> int | None:
        group = self._groups.get((req.sharing_key, req.backend_key))
        if group is None:
            return None
        values = group[space.version]
        records = self._ips[space.version]
        for i in range(bisect_left(values, space.start), len(values)):
            value = values[i]
            if value > space.end:
                break
            rec = records[value]
            if all(self._holder(rec, p) in (None, req.key) for p in req.ports):
                return value
        return None

    def _commit(self, req: ServiceRequest, pool: Pool, ips: Sequence[IPAddress]) -> Allocation:
        key = req.key
        alloc = Allocation(
            req.namespace,
            req.name,
            tuple(ips),
            pool.name,
            req.sharing_key,
            req.backend_key,
            req.ports if len(req.ports) < 2 else tuple(dict.fromkeys(req.ports)),
        )
        previous = self._unassign(key)
        self._allocs[key] = alloc
        self._selected[key] = (
            (req.namespace_labels, req.labels)
            if req.namespace_labels or req.labels
            else _NOT_LABELLED
        )
        self._services[pool.name] += 1
        for ip in alloc.ips:
            version, value = ip.version, int(ip)
            records = self._ips[version]
            rec = records.get(value)
            if rec is None:
                rec = _IPRecord(pool.name, alloc.sharing_key, alloc.backend_key, key)
                records[value] = rec
                insort(self._used[version], value)
                self._group_add(rec, version, value)
                self._in_use[pool.name][version == 6] += 1
                continue
            if rec.ports is None:  # a second user: which one holds each port, from now on
                first = rec.services[0]
                rec.ports = dict.fromkeys(self._allocs[first].ports, first)
            rec.services = (*rec.services, key)
            for port in alloc.ports:
                rec.ports[port] = key
        if previous != alloc:
            self._changed(Change(ChangeType.ALLOCATED, alloc))
        return alloc

    def _unassign(self, key: str) -> Allocation | None:
        alloc = self._allocs.pop(key, None)
        if alloc is None:
            return None
        del self._selected[key]
        self._services[alloc.pool] -= 1
        for ip in alloc.ips:
            version, value = ip.version, int(ip)
            rec = self._ips[version][value]
            rec.services = tuple([user for user in rec.services if user != key])
            if rec.ports is not None:
                for port in alloc.ports:
                    if rec.ports.get(port) == key:
                        del rec.ports[port]
            if not rec.services:
                del self._ips[version][value]
                _remove(self._used[version], value)
                self._group_remove(rec, version, value)
                self._in_use[rec.pool][version == 6] -= 1
        return alloc

    def _holder(self, rec: _IPRecord, port: Port) -> str | None:
        """The service holding `port` on `rec`'s address (MetalLB's portsInUse), if any."""
        if rec.ports is not None:
            return rec.ports.get(port)
        user = rec.services[0]
        return user if port in self._allocs[user].ports else None

    def _group_add(self, rec: _IPRecord, version: int, value: int) -> None:
        if rec.sharing:
            group = self._groups.setdefault((rec.sharing, rec.backend), {4: [], 6: []})
            insort(group[version], value)

    def _group_remove(self, rec: _IPRecord, version: int, value: int) -> None:
        if rec.sharing:
            group = self._groups[(rec.sharing, rec.backend)]
            _remove(group[version], value)
            if not group[4] and not group[6]:
                del self._groups[(rec.sharing, rec.backend)]

    def verify(self) -> None:
        """Check every internal index against the allocations (for tests); raise on mismatch."""
        expected: dict[IPAddress, dict[str, Allocation]] = {}
        for key, alloc in self._allocs.items():
            assert key == alloc.key and key in self._selected
            for ip in alloc.ips:
                expected.setdefault(ip, {})[key] = alloc
        records = {
            _to_ip(v, value): rec for v, recs in self._ips.items() for value, rec in recs.items()
        }
        assert set(expected) == set(records), "address records disagree with allocations"
        for version in (4, 6):
            want = sorted(int(ip) for ip in expected if ip.version == version)
            assert self._used[version] == want, "sorted in-use list disagrees"
        groups: dict[tuple[str, str], dict[int, list[int]]] = {}
        for ip, users in expected.items():
            rec = records[ip]
            assert sorted(rec.services) == sorted(users), f"users of {ip} disagree"
            ports = {p: k for k, a in users.items() for p in a.ports}
            if rec.ports is None:  # one user: its allocation's ports are the record's
                assert len(rec.services) == 1, f"users of {ip} without their ports"
            else:
                assert rec.ports == ports, f"ports on {ip} disagree"
            if rec.sharing:
                groups.setdefault((rec.sharing, rec.backend), {4: [], 6: []})[ip.version].append(
                    int(ip)
                )
        for group in groups.values():
            group[4].sort()
            group[6].sort()
        assert groups == self._groups, "sharing index disagrees"
        in_use = {name: [0, 0] for name in self._pools}
        for ip in expected:
            pool = self._index.pool_of(ip)
            assert pool is not None
            in_use[pool.name][ip.version == 6] += 1
        assert in_use == self._in_use, "pool counters disagree"


def _to_ip(version: int, value: int) -> IPAddress:
    return IPv4Address(value) if version == 4 else IPv6Address(value)


def _remove(values: list[int], value: int) -> None:
    i = bisect_left(values, value)
    assert i < len(values) and values[i] == value
    del values[i]


def _check_service(req: ServiceRequest) -> None:
    if not req.namespace or not req.name:
        raise InvalidServiceError("service namespace and name are required", field="service")
    if (
        not req.families
        or len(req.families) > 2
        or (len(req.families) == 2 and req.families[0] == req.families[1])
    ):
        raise InvalidServiceError(
            "a service has one IP family, or two different ones (from its cluster IPs)",
            field="service.ip_families",
        )
    for port in req.ports:
        if not 0 < port.port < 65536:
            raise InvalidServiceError(f"invalid port {port}", field="service.ports")


def _parse_ips(ips: Sequence[IPAddress | str]) -> list[IPAddress]:
    parsed = []
    for i, item in enumerate(ips):
        if not isinstance(item, str):
            parsed.append(item)
            continue
        try:
            parsed.append(parse_ip(item.strip()))
        except ValueError:
            raise InvalidServiceError(f"invalid IP {quote(item)}", field=f"ips[{i}]") from None
    return parsed


def _parse_requested(req: ServiceRequest) -> list[IPAddress]:
    """The requested IPs, with the parse errors MetalLB gives for each source."""
    ips = []
    for text in req.requested_ips:
        try:
            ips.append(parse_ip(text.strip()))
        except ValueError:
            if req.requested_ips_source is RequestedIPsSource.SPEC:
                message = f"invalid spec.loadBalancerIP {quote(text)}"
            else:
                raw = ",".join(req.requested_ips)
                message = f"invalid metallb.io/loadBalancerIPs: {quote(raw)}"
            raise InvalidServiceError(message, field="service.requested_ips") from None
    return ips


def _family_for_addresses(ips: Sequence[IPAddress]) -> Family:
    """MetalLB `ipfamily.ForAddressesIPs`."""
    if len(ips) == 1:
        return Family.of(ips[0])
    if len(ips) != 2:
        raise InvalidServiceError(
            f"IPFamilyForAddresses: invalid ips length {len(ips)} {quote_list(ips)}",
            field="service.requested_ips",
        )
    if ips[0].version == ips[1].version:
        raise InvalidServiceError(
            f"IPFamilyForAddresses: same address family {quote_list(ips)}",
            field="service.requested_ips",
        )
    return Family.DUAL
