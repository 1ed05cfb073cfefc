"""IPAM benchmark: prints `name value unit` lines, each target and our ratio to it.

    python bench/ipam.py

Figures (each run in a fresh process so its peak RSS is its own):
- filling a /16 with 65,534 single-address services, in-process (target < 2 s);
- 100,000 allocations in an IPv6 /48 pool, in-process (target < 150 MB peak RSS);
- unary Allocate calls per second over loopback gRPC from one client, against a separate
  `metallb-grpc ipam` process: one call at a time, and 64 calls in flight (target >= 3,000/s);
- the reference MetalLB's algorithm names: a linear lowest-first scan, reimplemented naively here
  and timed against ours on a /22, where it still finishes (MetalLB is O(n^2) to fill a pool);
- the ceiling of the gRPC framework itself on this machine: the same client against a grpc.aio
  server whose Allocate does nothing, so the share of the time that is ours is visible.
"""

import argparse
import asyncio
import ipaddress
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "protos")]

from metallb_rules.allocator.allocator import Allocator  # noqa: E402
from metallb_rules.allocator.model import Family, ServiceRequest  # noqa: E402
from metallb_rules.allocator.pools import PoolSpec  # noqa: E402
from metallb_runtime.runtime import tune_gc  # noqa: E402

TARGETS = {
    "ipam_fill_slash16_seconds": (2.0, "max"),
    "ipam_v6_slash48_100k_peak_rss": (150.0, "max"),
    "ipam_grpc_allocate_pipelined_rate": (3000.0, "min"),
}


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


async def _grpc_rates(address: str, prefix: str = "ipam_grpc_allocate") -> None:
    import grpc  # noqa: PLC0415

    from metallb.common.v1 import common_pb2  # noqa: PLC0415
    from metallb.ipam.v1 import ipam_pb2, ipam_pb2_grpc  # noqa: PLC0415

    async with grpc.aio.insecure_channel(address) as channel:
        stub = ipam_pb2_grpc.IPAMServiceStub(channel)
        await stub.SetPools(
            ipam_pb2.SetPoolsRequest(pools=[ipam_pb2.Pool(name="bench", addresses=["10.0.0.0/8"])])
        )
        await stub.RestoreAllocations(ipam_pb2.RestoreAllocationsRequest(complete=True))

        def request(i: int) -> ipam_pb2.AllocateRequest:
            return ipam_pb2.AllocateRequest(
                service=ipam_pb2.Service(
                    namespace="bench", name=f"svc-{i}", ip_families=[common_pb2.IP_FAMILY_IPV4]
                )
            )

        n = 5_000
        start = time.perf_counter()
        for i in range(n):
            await stub.Allocate(request(i))
        sequential = n / (time.perf_counter() - start)

        n, in_flight = 20_000, 64
        queue = iter(range(100_000, 100_000 + n))

        async def worker() -> None:
            for i in queue:
                await stub.Allocate(request(i))

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        pipelined = n / (time.perf_counter() - start)
    print(f"{prefix}_sequential_rate {sequential:.0f} calls/s")
    print(f"{prefix}_pipelined_rate {pipelined:.0f} calls/s")


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
    cli = [sys.executable, "-m", "metallb_cli.main", "ipam", "--listen", "127.0.0.1:0"]
    _measure_server([*cli, "--metrics-listen", ""], "ipam_grpc_allocate")


def one_ceiling() -> None:
    _measure_server([sys.executable, __file__, "--serve-empty"], "grpc_aio_empty_allocate")


def _measure_server(command: list[str], prefix: str) -> None:
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
            raise SystemExit("ipam server did not start")
        asyncio.run(_grpc_rates(address, prefix))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


ONES = {
    "fill16": one_fill16,
    "v6": one_v6,
    "naive": one_naive,
    "grpc": one_grpc,
    "ceiling": one_ceiling,
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
    rates: dict[str, float] = {}
    for name in ("fill16", "v6", "naive", "grpc", "ceiling"):
        out = subprocess.run(
            [sys.executable, __file__, "--one", name], capture_output=True, text=True, check=True
        ).stdout
        for line in out.splitlines():
            print(line)
            metric, value, _ = line.split()
            rates[metric] = float(value)
            if metric in TARGETS:
                target, kind = TARGETS[metric]
                ratio = float(value) / target
                verdict = "met" if (ratio <= 1 if kind == "max" else ratio >= 1) else "MISSED"
                print(f"{metric}_vs_target {ratio:.2f} ratio ({kind} {target:g}: {verdict})")
        sys.stdout.flush()
    ours = rates.get("ipam_grpc_allocate_pipelined_rate")
    ceiling = rates.get("grpc_aio_empty_allocate_pipelined_rate")
    if ours and ceiling:
        print(f"ipam_grpc_allocate_pipelined_vs_empty_grpc_aio_server {ours / ceiling:.2f} ratio")


if __name__ == "__main__":
    main()
