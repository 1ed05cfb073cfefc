"""Gateway benchmark: 10,000 LoadBalancer Services created at once against the fake API server.

    python3 bench/gateway.py [--services N]

Method: every part runs as it would be deployed, each in its own process on loopback: the fake
API server (tests/fakekube, in a child process: bench/fake_api.py), `metallb-grpc ipam`,
`metallb-grpc bgp` (one BGPPeer on 127.0.0.1 at a closed port: the session never comes up, so
the figure is the gateway's hand-over, not a peer's convergence), `metallb-grpc gateway
controller` and `metallb-grpc gateway node --node node-1`, both through the official
`kubernetes` client with a kubeconfig. The configuration (pool, peer, advertisement, node) is in
place and handled before the clock starts. Then N Services, each with an EndpointSlice whose
endpoint is on node-1, are created in one burst straight into the fake's store (one watch event
each, as a `kubectl apply` of a big file would produce; watchers see them when the burst
ends), and from that moment we time:
- until every Service has its address in `status.loadBalancer.ingress` (the fake follows its
  store's history every 0.02 s), and
- until the BGP service holds an advertisement for every Service address for the peer (polled with
  ListAdvertisements every 0.1 s, once status is complete),
and, not a target, until the node has written a ServiceBGPStatus for every Service (it writes
them once the burst's announcements are done).
Prints `name value unit` lines and the ratio of each figure to the issue's 20 s target.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import grpc

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "protos")]

from bench.load import print_load  # noqa: E402
from metallb.bgp.v1 import bgp_pb2, bgp_pb2_grpc  # noqa: E402
from metallb_runtime.server import MESSAGE_SIZE_OPTIONS  # noqa: E402
from tests.fakekube.fake import write_kubeconfig  # noqa: E402

TARGET_SECONDS = 20.0
NAMESPACE = "metallb-system"
NODE = "node-1"


def config_objects() -> list[dict[str, Any]]:
    meta = {"namespace": NAMESPACE}
    return [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE}},
        },
        {
            "apiVersion": "metallb.io/v1beta1",
            "kind": "IPAddressPool",
            "metadata": {"name": "bench", **meta},
            # RFC 2544's benchmarking range; no packet is ever sent to it.
            "spec": {"addresses": ["198.18.0.0/16"]},
        },
        {
            "apiVersion": "metallb.io/v1beta2",
            "kind": "BGPPeer",
            "metadata": {"name": "router", **meta},
            "spec": {"myASN": 64512, "peerASN": 64513, "peerAddress": "127.0.0.1", "peerPort": 1},
        },
        {
            "apiVersion": "metallb.io/v1beta1",
            "kind": "BGPAdvertisement",
            "metadata": {"name": "bench", **meta},
            "spec": {"ipAddressPools": ["bench"]},
        },
    ]


class FakeApi:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "fake_api.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = int(self.ask(None).split()[1])

    def ask(self, line: str | None) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if line is not None:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        if not answer:
            raise RuntimeError("the fake API server exited")
        return answer.strip()

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, BrokenPipeError):
            self.ask("quit")
        self.proc.wait(timeout=10)


def start(args: list[str], log: IO[str]) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}:{ROOT / 'protos'}",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "metallb_cli", *args],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )


async def advertised(bgp: bgp_pb2_grpc.BGPServiceStub) -> int:
    response = await bgp.ListAdvertisements(bgp_pb2.ListAdvertisementsRequest(peer="router"))
    return sum(len(p.routes) for p in response.peers)


async def wait_bgp(socket: str, want: int, timeout: float) -> float:
    async with grpc.aio.insecure_channel(f"unix:{socket}", options=MESSAGE_SIZE_OPTIONS) as ch:
        bgp = bgp_pb2_grpc.BGPServiceStub(ch)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if await advertised(bgp) >= want:
                    return time.monotonic()
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(f"BGP did not hold {want} advertisements in {timeout} s")


async def wait_peer(socket: str, timeout: float) -> None:
    async with grpc.aio.insecure_channel(f"unix:{socket}") as ch:
        bgp = bgp_pb2_grpc.BGPServiceStub(ch)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                peers = await bgp.ListPeers(bgp_pb2.ListPeersRequest())
                if [p.conf.name for p in peers.peers] == ["router"]:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError("the node role did not configure the peer")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def steal_seconds() -> float:
    """CPU time the hypervisor gave to others while we wanted it (/proc/stat, all CPUs)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()
    return int(fields[8]) / os.sysconf("SC_CLK_TCK")


def report(name: str, value: float, unit: str) -> None:
    print(f"{name} {value:.3f} {unit}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument(
        "--profile",
        type=Path,
        help="record each process with py-spy during the burst (collapsed stacks in this folder)",
    )
    args = parser.parse_args()
    n = args.services
    fake = FakeApi()
    procs: dict[str, subprocess.Popen[str]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        d = Path(tmp)
        write_kubeconfig(d / "kubeconfig", f"http://127.0.0.1:{fake.port}")
        log = (d / "processes.log").open("w")
        try:
            fake.ask("seed " + json.dumps(config_objects()))
            kube = ["--kubeconfig", str(d / "kubeconfig"), "--namespace", NAMESPACE]
            procs["ipam"] = start(["ipam", "--listen", f"unix:{d}/ipam.sock"], log)
            procs["bgp"] = start(["bgp", "--listen", f"unix:{d}/bgp.sock"], log)
            procs["controller"] = start(
                [
                    "gateway",
                    "controller",
                    "--ipam",
                    f"unix:{d}/ipam.sock",
                    "--listen",
                    f"unix:{d}/controller.sock",
                    "--no-leader-elect",
                    *kube,
                ],
                log,
            )
            procs["node"] = start(
                [
                    "gateway",
                    "node",
                    "--node",
                    NODE,
                    "--bgp",
                    f"unix:{d}/bgp.sock",
                    "--listen",
                    f"unix:{d}/node.sock",
                    *kube,
                ],
                log,
            )
            asyncio.run(wait_peer(f"{d}/bgp.sock", 60))
            time.sleep(1.0)  # let the controller's first pass and the node's sync settle
            procs_and_fake = {**procs, "fake_api": fake.proc}
            cpu_before = {name: cpu_seconds(p.pid) for name, p in procs_and_fake.items()}
            steal_before = steal_seconds()
            spies: list[subprocess.Popen[bytes]] = []
            if args.profile is not None:
                args.profile.mkdir(parents=True, exist_ok=True)
                for name, p in [*procs.items(), ("fake", fake.proc)]:
                    out = args.profile / f"{name}.folded"
                    spy_cmd = ["py-spy", "record", "--pid", str(p.pid), "--format", "raw", "-o"]
                    spies.append(
                        subprocess.Popen(
                            [*spy_cmd, str(out), "--nonblocking", "--gil", "--rate", "100"],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        )
                    )
            created = fake.ask(f"services {n} {NODE}").split()
            t0, t_created = float(created[1]), float(created[2])
            report("gateway_services", n, "services")
            report("gateway_create_burst_seconds", t_created - t0, "s")
            # Status first (the node role announces only services that have an address), so
            # that polling BGP's whole advertisement list does not slow down what it measures.
            t_status = float(fake.ask(f"wait-status {n}").split()[1])
            t_bgp = asyncio.run(wait_bgp(f"{d}/bgp.sock", n, args.timeout))
            # The clock starts when the burst is over: the Services all appear to watchers at
            # that instant ("created at once"); the fake's own time to store them is reported
            # apart, and the figures from the start of the burst too.
            status_s = t_status - t_created
            bgp_s = t_bgp - t_created
            report("gateway_all_status_seconds", status_s, "s")
            report("gateway_all_bgp_advertised_seconds", bgp_s, "s")
            report("gateway_all_status_seconds_from_burst_start", t_status - t0, "s")
            report("gateway_all_bgp_advertised_seconds_from_burst_start", t_bgp - t0, "s")
            for spy in spies:
                spy.send_signal(2)
                spy.wait(timeout=30)
            # On a virtual machine, time stolen by the host stretches both figures: shown so
            # that a slow run can be told from a slow gateway.
            report("machine_cpu_steal_seconds", steal_seconds() - steal_before, "s")
            # CPU until the BGP figure: what the two measured figures cost.
            for name, p in procs_and_fake.items():
                report(f"gateway_{name}_cpu_seconds", cpu_seconds(p.pid) - cpu_before[name], "s")
            # Not a target: the node writes its status objects once announcements are done.
            _, t_objects, reported = fake.ask(f"wait-bgp-status {n} {args.timeout}").split()
            report("gateway_bgp_status_objects", int(reported), "objects")
            report("gateway_all_bgp_status_objects_seconds", float(t_objects) - t_created, "s")
            for name, p in procs_and_fake.items():
                report(f"gateway_{name}_peak_rss", peak_rss_mb(p.pid), "MB")
            report("gateway_status_over_target", status_s / TARGET_SECONDS, "ratio")
            report("gateway_bgp_over_target", bgp_s / TARGET_SECONDS, "ratio")
            print(f"requests {fake.ask('requests').split(' ', 1)[1]}")
            report(
                "bench_peak_rss", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "MB"
            )
        finally:
            for p in procs.values():
                p.terminate()
            for p in procs.values():
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
            fake.close()
            log.close()
            if any(p.returncode not in (0, -15) for p in procs.values()):
                print((d / "processes.log").read_text()[-4000:], file=sys.stderr)
    return 0


if __name__ == "__main__":
    print_load("before")
    status = main()
    print_load("after")
    sys.exit(status)
