"""Limits benchmark (issue 15): what a hostile or careless client costs each server, in memory
and threads. Prints `name value unit` lines, each target and our ratio to it, and the load
average.

    python3 bench/limits.py [--only ipam,bgp,webhook]

- IPAM (`metallb-grpc ipam`, one pool, restored): its peak RSS (VmHWM, reset before each
  round through /proc/PID/clear_refs) while 16 clients each send one maximum-size request at
  once, for four request shapes: GetPool with a 4 MiB name (the issue's finding), a 4 MiB
  ConvergeServices of real Services, SetPools at its count bound and AllocateBatch at its count
  bound; the worst over the idle RSS (target < 2). Last measured (docs/security.md, four runs,
  load 0.8-1.6): worst 1.74-1.75 (SetPools; ConvergeServices 1.67-1.68, AllocateBatch 1.50-1.51,
  GetPool 1.28-1.36), idle 92 MB; 3.81 before the per-Service and per-pool memory work.
- BGP (`metallb-grpc bgp`): the RSS growth after a peer (a scripted router on loopback) sends
  1,000,000 /32 prefixes over an established session (target +20 MB at most; received routes are
  only counted, up to the per-peer bound of 100,000).
- The webhook server (gateway/webhook/server.py, alone in a process): its RSS growth and thread
  count under one 100 MB request body and 200 idle connections (targets +10 MB, <= 16 threads).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from ipaddress import IPv4Address
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "protos")]

import grpc  # noqa: E402

from bench.load import print_load  # noqa: E402
from metallb.bgp.v1 import bgp_pb2, bgp_pb2_grpc  # noqa: E402
from metallb.common.v1 import common_pb2  # noqa: E402
from metallb.ipam.v1 import ipam_pb2, ipam_pb2_grpc  # noqa: E402
from services.bgp.codec import Framer, Keepalive, Negotiated, Open, negotiate  # noqa: E402
from services.bgp.codec.capabilities import FourOctetAS, Multiprotocol  # noqa: E402
from services.bgp.codec.negotiated import IPV4_UNICAST  # noqa: E402
from services.ipam.limits import MAX_BATCH, MAX_POOLS, MAX_SERVICES  # noqa: E402

TARGETS = {
    "ipam_peak_rss_16_max_requests_vs_idle": (2.0, "max"),
    "bgp_rss_growth_after_1m_prefixes": (20.0, "max"),
    "webhook_rss_growth_100mb_body_200_idle": (10.0, "max"),
    "webhook_threads_100mb_body_200_idle": (16.0, "max"),
}
MAX_MESSAGE = 4 << 20
CLIENTS = 16
PREFIXES = 1_000_000
IDLE_CONNECTIONS = 200
BODY = 100 << 20


def report(name: str, value: float, unit: str) -> None:
    print(f"{name} {value:.2f} {unit}", flush=True)
    if name in TARGETS:
        target, kind = TARGETS[name]
        ratio = value / target
        verdict = "met" if (ratio <= 1 if kind == "max" else ratio >= 1) else "MISSED"
        print(f"{name}_vs_target {ratio:.2f} ratio ({kind} {target:g}: {verdict})", flush=True)


def status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in kB, Threads, from /proc/PID/status."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            out[key] = int(value.split()[0])
    return out


def rss_mb(pid: int) -> float:
    return status(pid)["VmRSS"] / 1024


def peak_mb(pid: int) -> float:
    return status(pid)["VmHWM"] / 1024


def reset_peak(pid: int) -> None:
    """Linux >= 4.0: writing 5 to clear_refs resets VmHWM to the current RSS."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


@contextlib.contextmanager
def service(name: str, folder: Path, *extra: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`metallb-grpc NAME` on a unix socket in `folder`, stopped on exit."""
    address = f"unix:{folder}/{name}.sock"
    argv = [sys.executable, "-m", "metallb_cli", name, "--listen", address]
    argv += ["--metrics-listen", "", *extra]
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'protos'}"}
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)
    try:
        with grpc.insecure_channel(address) as channel:
            grpc.channel_ready_future(channel).result(timeout=60)
        yield proc, address
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def settle() -> None:
    time.sleep(0.5)  # let the server's allocator give back what the last round freed


# ------------------------------------------------------------------ IPAM


def _real_service(i: int) -> ipam_pb2.LoadBalancerService:
    return ipam_pb2.LoadBalancerService(
        namespace="default",
        name=f"web-{i:05}",
        type="LoadBalancer",
        cluster_ips=[f"10.96.{i >> 8 & 255}.{i & 255}"],
        ip_families=[common_pb2.IP_FAMILY_IPV4],
        ip_family_policy=common_pb2.IP_FAMILY_POLICY_SINGLE_STACK,
        external_traffic_policy="Cluster",
        selector={"app": f"web-{i:05}"},
        labels={"app": f"web-{i:05}"},
        ports=[common_pb2.Port(protocol=common_pb2.PROTOCOL_TCP, port=80)],
    )


def _largest(build: object, limit: int, count: int) -> object:
    """The request `build(n)` with the largest n <= count that stays under `limit` bytes."""
    lo, hi = 1, count
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if build(mid).ByteSize() <= limit:  # type: ignore[operator]
            lo = mid
        else:
            hi = mid - 1
    return build(lo)  # type: ignore[operator]


def ipam_requests() -> dict[str, tuple[str, object]]:
    room = MAX_MESSAGE - 1024
    services = [_real_service(i) for i in range(MAX_SERVICES)]
    pools = [
        ipam_pb2.Pool(name=f"pool-{i:05}", addresses=[f"10.{i >> 8 & 255}.{i & 255}.0/24"])
        for i in range(MAX_POOLS)
    ]
    return {
        "getpool_4mib_name": ("GetPool", ipam_pb2.GetPoolRequest(name="a" * room)),
        "converge_4mib_services": (
            "ConvergeServices",
            _largest(
                lambda n: ipam_pb2.ConvergeServicesRequest(services=services[:n]),
                room,
                len(services),
            ),
        ),
        "setpools_at_count_bound": ("SetPools", ipam_pb2.SetPoolsRequest(pools=pools)),
        "allocatebatch_at_count_bound": (
            "AllocateBatch",
            ipam_pb2.AllocateBatchRequest(requests=[ipam_pb2.AllocateRequest()] * MAX_BATCH),
        ),
    }


async def _concurrently(address: str, method: str, request: object) -> list[str]:
    async def one() -> str:
        async with grpc.aio.insecure_channel(
            address, options=[("grpc.max_send_message_length", 2 * MAX_MESSAGE),
                              ("grpc.max_receive_message_length", 64 * MAX_MESSAGE)]
        ) as channel:  # fmt: skip
            stub = ipam_pb2_grpc.IPAMServiceStub(channel)
            try:
                await getattr(stub, method)(request, timeout=300)
                return "OK"
            except grpc.aio.AioRpcError as err:
                return f"{err.code().name} ({(err.details() or '')[:70]})"

    return list(await asyncio.gather(*(one() for _ in range(CLIENTS))))


def bench_ipam(folder: Path, extra: list[str]) -> None:
    """Each request shape against a fresh IPAM (one pool, restored), so that what one round
    leaves allocated (glibc keeps freed memory) does not count in the next round's peak."""
    requests = ipam_requests()
    worst = 0.0
    idles = []
    for name, (method, request) in requests.items():
        with service("ipam", folder, *extra) as (proc, address):
            with grpc.insecure_channel(address) as channel:
                stub = ipam_pb2_grpc.IPAMServiceStub(channel)
                stub.SetPools(
                    ipam_pb2.SetPoolsRequest(
                        pools=[ipam_pb2.Pool(name="default", addresses=["198.18.0.0/15"])]
                    )
                )
                stub.RestoreAllocations(ipam_pb2.RestoreAllocationsRequest(complete=True))
            settle()
            idle = rss_mb(proc.pid)
            idles.append(idle)
            size = request.ByteSize()  # type: ignore[attr-defined]
            reset_peak(proc.pid)
            started = time.monotonic()
            codes = asyncio.run(_concurrently(address, method, request))
            took = time.monotonic() - started
            peak = peak_mb(proc.pid)
        worst = max(worst, peak / idle)
        answers = "; ".join(f"{n} {c}" for c, n in sorted(Counter(codes).items()))
        print(f"ipam_{name}_request_bytes {size} bytes ({CLIENTS} clients at once: {answers})")
        report(f"ipam_{name}_idle_rss", idle, "MB")
        report(f"ipam_{name}_x16_seconds", took, "s")
        report(f"ipam_{name}_x16_peak_rss", peak, "MB")
        report(f"ipam_{name}_x16_peak_vs_idle", peak / idle, "ratio")
    report("ipam_idle_rss", min(idles), "MB")
    report("ipam_peak_rss_16_max_requests_vs_idle", worst, "ratio")


# ------------------------------------------------------------------ BGP

ROUTER_AS, OUR_AS = 65002, 64512
PER_UPDATE = 800  # /32 prefixes per UPDATE: 5 octets each, under the 4,096-octet message


def _updates(count: int) -> Iterator[bytes]:
    """UPDATEs announcing 11.0.0.0/32 onwards: ORIGIN, AS_PATH (4-octet), NEXT_HOP, NLRI."""
    attrs = (
        bytes([0x40, 1, 1, 0])
        + bytes([0x40, 2, 6, 2, 1])
        + ROUTER_AS.to_bytes(4, "big")
        + bytes([0x40, 3, 4])
        + IPv4Address("127.0.0.1").packed
    )
    base = int(IPv4Address("11.0.0.0"))
    for first in range(0, count, PER_UPDATE):
        n = min(PER_UPDATE, count - first)
        nlri = b"".join(b"\x20" + (base + first + i).to_bytes(4, "big") for i in range(n))
        body = b"\x00\x00" + struct.pack("!H", len(attrs)) + attrs + nlri
        yield b"\xff" * 16 + struct.pack("!HB", 19 + len(body), 2) + body


class Router:
    """A BGP router on loopback: answers OPEN, then sends what it is told to."""

    def __init__(self) -> None:
        self.established = asyncio.Event()
        self.writer: asyncio.StreamWriter | None = None
        self.port = 0

    async def start(self) -> None:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        caps = [Multiprotocol(IPV4_UNICAST), FourOctetAS(ROUTER_AS)]
        mine = Open.build(ROUTER_AS, 90, IPv4Address("192.0.2.254"), caps)
        writer.write(mine.encode(Negotiated()) + Keepalive().encode(Negotiated()))
        framer = Framer(Negotiated())
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while data := await reader.read(65536):
                for message in framer.feed(data):
                    if isinstance(message, Open):
                        framer.negotiated = negotiate(mine, message)
                    elif isinstance(message, Keepalive):
                        self.established.set()
                        writer.write(Keepalive().encode(framer.negotiated))


async def _bgp(address: str, pid: int) -> None:
    router = Router()
    await router.start()
    async with grpc.aio.insecure_channel(address) as channel:
        stub = bgp_pb2_grpc.BGPServiceStub(channel)
        await stub.AddPeer(
            bgp_pb2.AddPeerRequest(
                peer=bgp_pb2.PeerConf(
                    name="r1",
                    my_asn=OUR_AS,
                    peer_asn=ROUTER_AS,
                    peer_address="127.0.0.1",
                    peer_port=router.port,
                    hold_time=timedelta(seconds=90),
                    connect_time=timedelta(seconds=1),
                )
            )
        )
        await asyncio.wait_for(router.established.wait(), 60)
        await asyncio.sleep(1.0)  # the session's first KEEPALIVEs and status settle
        before = rss_mb(pid)
        report("bgp_rss_established_idle", before, "MB")
        reset_peak(pid)
        assert router.writer is not None
        started = time.monotonic()
        sent = 0
        for update in _updates(PREFIXES):
            router.writer.write(update)
            sent += 1
            if sent % 64 == 0:
                await router.writer.drain()
        await router.writer.drain()
        while True:  # until the speaker has read every UPDATE
            peer = (await stub.GetPeer(bgp_pb2.GetPeerRequest(name="r1"))).peer
            if peer.state.received.update >= sent:
                break
            await asyncio.sleep(0.2)
        took = time.monotonic() - started
        await asyncio.sleep(1.0)  # what was freed is given back before RSS is read
        after = rss_mb(pid)
        state = peer.state
        print(f"bgp_updates_sent {sent} messages ({PREFIXES} /32 prefixes)")
        print(f"bgp_prefixes_received {state.prefixes_received} prefixes")
        print(f"bgp_prefixes_ignored {state.prefixes_ignored} prefixes")
        print(f"bgp_session_state {bgp_pb2.SessionState.Name(state.session_state)}")
        report("bgp_1m_prefixes_read_seconds", took, "s")
        report("bgp_rss_after_1m_prefixes", after, "MB")
        report("bgp_peak_rss_during_1m_prefixes", peak_mb(pid), "MB")
        report("bgp_rss_growth_after_1m_prefixes", after - before, "MB")
        router.writer.close()


def bench_bgp(folder: Path) -> None:
    with service("bgp", folder) as (proc, address):
        asyncio.run(_bgp(address, proc.pid))


# ------------------------------------------------------------------ the webhook

WEBHOOK = """
import datetime, sys, threading
from gateway.webhook.certs import CertPolicy, issue_serving, new_ca
from gateway.webhook.server import WebhookServer
now = datetime.datetime.now(datetime.UTC)
policy = CertPolicy(dns_name="localhost")
ca = new_ca(policy, now)
pair = issue_serving(policy, ca, now)
server = WebhookServer("127.0.0.1:0", lambda: {}, "metallb-system", (pair.cert, pair.key))
server.start()
print(server.port, flush=True)
threading.Event().wait()
"""


def _tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def bench_webhook() -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'protos'}"}
    proc = subprocess.Popen(
        [sys.executable, "-c", WEBHOOK], env=env, stdout=subprocess.PIPE, text=True
    )
    held: list[socket.socket] = []
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        time.sleep(0.5)  # the server thread is up and idle
        before = status(proc.pid)
        report("webhook_idle_rss", before["VmRSS"] / 1024, "MB")
        report("webhook_idle_threads", before["Threads"], "threads")
        # One client announces a 100 MB body and sends it; the server answers 413 before
        # reading it and closes.
        big = _tls().wrap_socket(socket.create_connection(("127.0.0.1", port)))
        big.sendall(
            b"POST /validate-metallb-io-v1beta1-ipaddresspool HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\n" + f"Content-Length: {BODY}\r\n\r\n".encode()
        )
        chunk = b" " * (1 << 20)
        sent = 0
        big.settimeout(10)
        with contextlib.suppress(OSError):
            while sent < BODY:
                big.sendall(chunk)
                sent += len(chunk)
        answer = b""
        with contextlib.suppress(OSError):
            answer = big.recv(200)
        big.close()
        code = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else "none"
        print(f"webhook_100mb_body_answer {code} http ({sent >> 20} MiB sent before the close)")
        # Then 200 connections that say nothing (no TLS handshake, no request).
        for _ in range(IDLE_CONNECTIONS):
            held.append(socket.create_connection(("127.0.0.1", port)))
        time.sleep(1.0)  # the server accepts them and starts (or refuses) each
        during = status(proc.pid)
        accepted = 0
        for s in held:
            s.setblocking(False)
            try:
                accepted += s.recv(1) != b""  # b"": closed by the server at once
            except BlockingIOError:
                accepted += 1  # still open: a handler waits for its handshake
        print(f"webhook_idle_connections_held_open {accepted} connections (of {len(held)})")
        report("webhook_rss_under_load", during["VmRSS"] / 1024, "MB")
        report(
            "webhook_rss_growth_100mb_body_200_idle",
            (max(during["VmHWM"], during["VmRSS"]) - before["VmRSS"]) / 1024,
            "MB",
        )
        report("webhook_threads_100mb_body_200_idle", during["Threads"], "threads")
    finally:
        for s in held:
            s.close()
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="ipam,bgp,webhook")
    parser.add_argument("--ipam-flag", action="append", default=[], help="passed to ipam")
    args = parser.parse_args()
    only = set(args.only.split(","))
    print_load("before")
    with tempfile.TemporaryDirectory(prefix="mlb-limits-") as tmp:
        if "ipam" in only:
            bench_ipam(Path(tmp), args.ipam_flag)
            print_load("after_ipam")
        if "bgp" in only:
            bench_bgp(Path(tmp))
            print_load("after_bgp")
        if "webhook" in only:
            bench_webhook()
            print_load("after_webhook")


if __name__ == "__main__":
    main()
