"""IPAM benchmark: prints `name value unit` lines, each target and our ratio to it.

    python bench/ipam.py

Figures (each run in a fresh process so its peak RSS is its own):
- filling a /16 with 65,534 single-address services, in-process (target < 2 s);
- 100,000 allocations in an IPv6 /48 pool, in-process (target < 150 MB peak RSS);
- side by side in one run, from one client against two server processes started together (a
  `metallb-grpc ipam` and a grpc.aio server whose Allocate does nothing), rounds interleaved so
  that both see the same load on this shared machine:
  - the batch decision: `ConvergeServices` with 1,000 new Services per call, in services/s
    (target >= 20,000/s);
  - unary Allocate calls per second, 64 in flight, for IPAM and for the empty handler, and their
    ratio (target >= 0.8);
- the reference MetalLB's algorithm names: a linear lowest-first scan, reimplemented naively here
  and timed against ours on a /22, where it still finishes (MetalLB is O(n^2) to fill a pool);
"""

import argparse
import asyncio
import contextlib
import ipaddress
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "protos")]

from bench.load import print_load  # noqa: E402
from metallb_rules.allocator.allocator import Allocator  # noqa: E402
from metallb_rules.allocator.model import Family, ServiceRequest  # noqa: E402
from metallb_rules.allocator.pools import PoolSpec  # noqa: E402
from metallb_runtime.runtime import tune_gc  # noqa: E402

TARGETS = {
    "ipam_fill_slash16_seconds": (2.0, "max"),
    "ipam_v6_slash48_100k_peak_rss": (150.0, "max"),
    "ipam_grpc_converge_services_batch_rate": (20_000.0, "min"),
    "ipam_grpc_allocate_pipelined_vs_empty_grpc_aio_handler": (0.8, "min"),
}
ROUNDS = 3  # batch-decision rounds, each after PAIRS pairs of unary rounds; medians printed
PAIRS = 4
UNARY = 3_000  # Allocate calls per unary round
BATCHED = 20_000  # services per batch-decision round
BATCH = 1_000  # services per ConvergeServices call


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fill(cidr: str, count: int, family: Family) -> float:
    tune_gc()  # as every server does at start-up
    alloc = Allocator()
    alloc.set_pools([PoolSpec("bench", (cidr,))])
    alloc.restore([], complete=True)
    fam = (family,)
    start = time.perf_counter()
    for i in range(count):
        alloc.allocate(ServiceRequest("bench", f"svc-{i}", fam))
        if i % 1024 == 0:
            alloc.take_changes()  # the service drains changes after every command
    elapsed = time.perf_counter() - start
    assert len(alloc.allocations()) == count
    return elapsed


def one_fill16() -> None:
    elapsed = _fill("10.0.0.0/16", 65_534, Family.IPV4)
    print(f"ipam_fill_slash16_seconds {elapsed:.3f} s")
    print(f"ipam_fill_slash16_peak_rss {peak_rss_mb():.1f} MB")


def one_v6() -> None:
    elapsed = _fill("fd00:1::/48", 100_000, Family.IPV6)
    print(f"ipam_v6_slash48_100k_seconds {elapsed:.3f} s")
    print(f"ipam_v6_slash48_100k_peak_rss {peak_rss_mb():.1f} MB")


def one_naive() -> None:
    """MetalLB's getIPFromCIDR: scan from the first address, first one not in use wins."""
    network = ipaddress.ip_network("10.1.0.0/22")
    count = network.num_addresses - 2
    in_use: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    start = time.perf_counter()
    for _ in range(count):
        for ip in network:
            if ip not in in_use:
                in_use.add(ip)
                break
    naive = time.perf_counter() - start
    ours = _fill(str(network), count, Family.IPV4)
    print(f"ipam_fill_slash22_metallb_scan_seconds {naive:.3f} s")
    print(f"ipam_fill_slash22_ours_seconds {ours:.3f} s")
    print(f"ipam_fill_slash22_speedup_vs_metallb_scan {naive / ours:.1f} ratio")


def _allocate_request(i: int) -> object:
    from metallb.common.v1 import common_pb2  # noqa: PLC0415
    from metallb.ipam.v1 import ipam_pb2  # noqa: PLC0415

    return ipam_pb2.AllocateRequest(
        service=ipam_pb2.Service(
            namespace="bench", name=f"svc-{i}", ip_families=[common_pb2.IP_FAMILY_IPV4]
        )
    )


def _converge_request(start: int, count: int) -> object:
    """`count` new LoadBalancer Services, as the controller sends them."""
    from gateway.controller.converge import load_balancer_service  # noqa: PLC0415
    from metallb.ipam.v1 import ipam_pb2  # noqa: PLC0415
    from metallb_rules.service import ServicePort, ServiceSpec  # noqa: PLC0415

    return ipam_pb2.ConvergeServicesRequest(
        services=[
            load_balancer_service(
                ServiceSpec(
                    "bench",
                    f"lb-{i}",
                    type="LoadBalancer",
                    cluster_ips=("10.96.0.1",),
                    ip_families=("IPv4",),
                    ports=(ServicePort("TCP", 80),),
                )
            )
            for i in range(start, start + count)
        ]
    )


async def _unary_rate(stub: object, first: int, n: int = 10_000, in_flight: int = 64) -> float:
    requests = iter([_allocate_request(i) for i in range(first, first + n)])

    async def worker() -> None:
        for request in requests:
            await stub.Allocate(request)  # type: ignore[attr-defined]

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return n / (time.perf_counter() - start)


async def _batch_rate(stub: object, first: int, n: int) -> float:
    requests = [_converge_request(i, BATCH) for i in range(first, first + n, BATCH)]
    start = time.perf_counter()
    for request in requests:
        reply = await stub.ConvergeServices(request)  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - start
    assert reply.decisions[-1].ingress_ips, "the batch allocated nothing"
    return n / elapsed


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _side_by_side(
    ipam_address: str, ipam_pid: int, empty_address: str, empty_pid: int
) -> None:
    import grpc  # noqa: PLC0415

    from metallb.ipam.v1 import ipam_pb2, ipam_pb2_grpc  # noqa: PLC0415

    async with (
        grpc.aio.insecure_channel(ipam_address) as ipam_channel,
        grpc.aio.insecure_channel(empty_address) as empty_channel,
    ):
        ipam = ipam_pb2_grpc.IPAMServiceStub(ipam_channel)
        empty = ipam_pb2_grpc.IPAMServiceStub(empty_channel)
        await ipam.SetPools(
            ipam_pb2.SetPoolsRequest(pools=[ipam_pb2.Pool(name="bench", addresses=["10.0.0.0/8"])])
        )
        await ipam.ConvergeServices(ipam_pb2.ConvergeServicesRequest(complete_set=True))
        start = time.perf_counter()
        for i in range(2_000):  # one call at a time: the latency view
            await ipam.Allocate(_allocate_request(i))
        sequential = 2_000 / (time.perf_counter() - start)
        batch: list[float] = []
        ours: list[float] = []
        ceiling: list[float] = []
        # Server CPU seconds per service / per call: what the load of the rest of the machine
        # changes least.
        cpu_batch: list[float] = []
        cpu_ours: list[float] = []
        cpu_empty: list[float] = []
        for r in range(ROUNDS):
            # Short alternating rounds: each pair sees about the same load from the rest of
            # the machine; the ratio is the median of the pairs' ratios.
            for _ in range(PAIRS):
                first = 100_000 + len(ours) * 10_000
                before = _cpu_seconds(empty_pid)
                ceiling.append(await _unary_rate(empty, 0, UNARY))
                cpu_empty.append((_cpu_seconds(empty_pid) - before) / UNARY)
                before = _cpu_seconds(ipam_pid)
                ours.append(await _unary_rate(ipam, first, UNARY))
                cpu_ours.append((_cpu_seconds(ipam_pid) - before) / UNARY)
            before = _cpu_seconds(ipam_pid)
            batch.append(await _batch_rate(ipam, 10_000_000 + r * 100_000, BATCHED))
            cpu_batch.append((_cpu_seconds(ipam_pid) - before) / BATCHED)
    ratios = sorted(o / c for o, c in zip(ours, ceiling, strict=True))
    print(f"ipam_grpc_allocate_sequential_rate {sequential:.0f} calls/s")
    print(f"ipam_grpc_converge_services_batch_rate {statistics.median(batch):.0f} services/s")
    print(f"ipam_grpc_allocate_pipelined_rate {statistics.median(ours):.0f} calls/s")
    print(f"grpc_aio_empty_allocate_pipelined_rate {statistics.median(ceiling):.0f} calls/s")
    ratio = statistics.median(ratios)
    print(f"ipam_grpc_allocate_pipelined_vs_empty_grpc_aio_handler {ratio:.2f} ratio")
    us = 1e6
    print(f"ipam_converge_services_server_cpu {statistics.median(cpu_batch) * us:.1f} us/service")
    print(f"ipam_allocate_server_cpu {statistics.median(cpu_ours) * us:.0f} us/call")
    print(f"grpc_aio_empty_allocate_server_cpu {statistics.median(cpu_empty) * us:.0f} us/call")
    cpu_ratio = statistics.median(cpu_empty) / statistics.median(cpu_ours)
    print(f"ipam_allocate_vs_empty_handler_by_server_cpu {cpu_ratio:.2f} ratio")


def serve_empty() -> None:
    """A grpc.aio server answering every IPAM call with an empty response (the ceiling)."""
    import grpc  # noqa: PLC0415

    from metallb.ipam.v1 import ipam_pb2, ipam_pb2_grpc  # noqa: PLC0415

    class Empty(ipam_pb2_grpc.IPAMServiceServicer):
        async def SetPools(self, request: object, context: object) -> object:  # noqa: N802
            return ipam_pb2.SetPoolsResponse()

        async def RestoreAllocations(self, request: object, context: object) -> object:  # noqa: N802
            return ipam_pb2.RestoreAllocationsResponse()

        async def Allocate(self, request: object, context: object) -> object:  # noqa: N802
            return ipam_pb2.AllocateResponse()

    async def main() -> None:
        server = grpc.aio.server()
        ipam_pb2_grpc.add_IPAMServiceServicer_to_server(Empty(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        print(f"serving empty on 127.0.0.1:{port}", file=sys.stderr, flush=True)
        await server.wait_for_termination()

    asyncio.run(main())


def one_grpc() -> None:
    ipam = [sys.executable, "-m", "metallb_cli", "ipam", "--listen", "127.0.0.1:0"]
    with (
        _server([*ipam, "--metrics-listen", ""]) as (ipam_address, ipam_pid),
        _server([sys.executable, __file__, "--serve-empty"]) as (empty_address, empty_pid),
    ):
        asyncio.run(_side_by_side(ipam_address, ipam_pid, empty_address, empty_pid))


@contextlib.contextmanager
def _server(command: list[str]) -> Iterator[tuple[str, int]]:
    """Start a server process; its address (from its `serving ... on ADDRESS` log line) and
    pid."""
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'protos'}"},
    )
    try:
        assert proc.stderr is not None
        address = ""
        for line in proc.stderr:
            match = re.search(r"serving .* on (\S+)", line)
            if match:
                address = match.group(1)
                break
        if not address:
            raise SystemExit(f"{command} did not start")
        yield address, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


ONES = {
    "fill16": one_fill16,
    "v6": one_v6,
    "naive": one_naive,
    "grpc": one_grpc,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--one", choices=sorted(ONES))
    parser.add_argument("--serve-empty", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_empty:
        serve_empty()
        return
    if args.one:
        ONES[args.one]()
        return
    for name in ("fill16", "v6", "naive", "grpc"):
        print_load(f"before_{name}")
        out = subprocess.run(
            [sys.executable, __file__, "--one", name], capture_output=True, text=True, check=True
        ).stdout
        for line in out.splitlines():
            print(line)
            metric, value, _ = line.split()
            if metric in TARGETS:
                target, kind = TARGETS[metric]
                ratio = float(value) / target
                verdict = "met" if (ratio <= 1 if kind == "max" else ratio >= 1) else "MISSED"
                print(f"{metric}_vs_target {ratio:.2f} ratio ({kind} {target:g}: {verdict})")
        print_load(f"after_{name}")


if __name__ == "__main__":
    main()
