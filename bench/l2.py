"""L2 benchmark: prints `name value unit` lines, each target and our ratio to it.

    python bench/l2.py        (root: it builds network namespaces mlbl2-<id>-node/-peer)

Figures:
- the codec decision: frames decoded, decided and answered per second in-process, by our
  codec and by scapy (what made the hot path a raw AF_PACKET socket plus our own codec), and
  by the prepared reply table the hot path now uses (`ours_table`);
- ARP requests answered per second under a bounded flood (a fixed number of requests sent as
  fast as one Python sender can, from the peer namespace) to `metallb-grpc l2` running in the node
  namespace (target >= 20,000/s);
- ARP reply latency p50/p99 for an address we announce against the kernel's own reply for an
  address configured on the same interface (the physical reference; target ratio <= 3). The
  probes alternate, ours then the kernel's, 0.5 ms apart, from one raw socket in the peer
  namespace, so whatever else loads the machine hits both alike. Each probe is timed on the
  wire: from just before the request's `send` to the reply's kernel receive timestamp
  (SO_TIMESTAMPNS, taken as the reply reaches the peer's interface), so neither figure
  includes the probing program's own wake-up. That matters: the kernel answers inside the
  probe's `send` call, so its reply is queued before the probe even waits, while ours arrives
  later and a round trip timed in the probe would charge ours, and only ours, for the probe's
  wake-up (and, with our responder at real-time priority, charge the kernel's for our
  responder preempting the probe). Those round trips are printed too (`*_rtt_*`), no target;
- the time from SetAnnouncements (client call) to the first gratuitous ARP on the wire, as the
  peer's kernel timestamps it (target <= 10 ms);
- the same latency probes while a client keeps the service's event loop busy with RPCs over
  500 announced addresses (`*_under_rpcs_*`, no target: what sharing the GIL costs).

Flood and latency are measured for three configurations, alternating, three runs each, and
summarised by their medians: `thread` (the default: a thread per link at SCHED_FIFO priority 1;
the targets apply to its `l2_*` lines), `thread_normal` (the same at normal priority,
`--hot-path-priority 0`) and `loop` (`--hot-path loop`), printed as `l2_<config>_*`
(docs/l2.md). Every run prints the 1-minute load average as it starts (`*_load_average`): the
machine is shared, and the figures follow its load.
"""

import argparse
import asyncio
import os
import select
import signal
import socket
import statistics
import struct
import sys
import threading
import time
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "protos")]

import grpc  # noqa: E402

from bench.load import print_load  # noqa: E402
from metallb.l2.v1 import l2_pb2  # noqa: E402
from services.l2.core.answer import build_replies  # noqa: E402
from services.l2.core.drop import DropReason  # noqa: E402
from services.l2.core.frames import ArpFrame, ArpOperation, decode_frame, parse_mac  # noqa: E402
from services.l2.core.responder import InterfaceView, Reply, Scope, decide  # noqa: E402
from tests.l2.conftest import build_topology  # noqa: E402
from tests.l2.lab import L2Process, Lab, netns  # noqa: E402

UNITS: dict[str, tuple[str, str]] = {}
TARGETS = {
    "l2_arp_flood_answered_rate": (20_000.0, "min"),
    "l2_arp_latency_p50_ratio_vs_kernel": (3.0, "max"),
    "l2_arp_latency_p99_ratio_vs_kernel": (3.0, "max"),
    "l2_first_gratuitous_p50_ms": (10.0, "max"),
    "l2_first_gratuitous_max_ms": (10.0, "max"),
}

SUMMARISED = (
    "l2_load_average",
    "l2_arp_flood_answered_rate",
    "l2_arp_flood_unanswered",
    "l2_arp_latency_ours_p50",
    "l2_arp_latency_ours_p99",
    "l2_arp_latency_kernel_p50",
    "l2_arp_latency_kernel_p99",
    "l2_arp_latency_p50_ratio_vs_kernel",
    "l2_arp_latency_p99_ratio_vs_kernel",
    "l2_arp_rtt_p50_ratio_vs_kernel",
    "l2_arp_rtt_p99_ratio_vs_kernel",
)
# Configurations measured: name -> `metallb-grpc l2` options. The first is the default.
CONFIGS: dict[str, tuple[str, ...]] = {
    "thread": ("--hot-path", "thread"),
    "thread_normal": ("--hot-path", "thread", "--hot-path-priority", "0"),
    "loop": ("--hot-path", "loop"),
}

VIP = IPv4Address("10.77.1.10")
KERNEL_IP = IPv4Address("10.77.1.2")  # configured on the node's ens1: the kernel answers
PEER_IP = IPv4Address("10.77.1.100")
SO_TIMESTAMPNS = 35
SO_RCVBUFFORCE = 33
SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23
ETH_P_ARP = 0x0806


PREFIX = "l2_"
# (hot path, metric) -> one value per run, for the medians printed at the end.
RUNS: dict[tuple[str, str], list[float]] = {}
MODE = "thread"


def emit(name: str, value: float, unit: str, fmt: str = ".1f") -> None:
    RUNS.setdefault((MODE, name), []).append(value)
    UNITS[name] = (unit, fmt)
    name = PREFIX + name.removeprefix("l2_")
    print(f"{name} {value:{fmt}} {unit}")
    if name in TARGETS:
        target, kind = TARGETS[name]
        ratio = value / target
        verdict = "met" if (ratio <= 1 if kind == "max" else ratio >= 1) else "MISSED"
        print(f"{name}_vs_target {ratio:.2f} ratio ({kind} {target:g}: {verdict})")
    sys.stdout.flush()


def request(peer_mac: bytes, target: IPv4Address) -> bytes:
    return ArpFrame(
        b"\xff" * 6, peer_mac, ArpOperation.REQUEST, peer_mac, PEER_IP, b"\0" * 6, target
    ).encode()


# --- 1. the codec decision -------------------------------------------------------------------


def bench_codec() -> None:
    peer, ours = parse_mac("02:00:00:00:00:0b"), parse_mac("02:00:00:00:00:0a")
    data = request(peer, VIP)
    view = InterfaceView(2, "ens1", ours, None, arp=True, ndp=False)
    announced: dict[IPv4Address | IPv6Address, Scope] = {VIP: Scope(False, frozenset({"ens1"}))}

    def ours_once() -> bytes:
        result = decide(decode_frame(data), view, announced)
        assert isinstance(result, Reply)
        return result.frame.encode()

    link = build_replies({view.index: view}, announced, lambda _: 0).links[view.index]

    def table_once() -> bytes:  # what the hot path runs: the prepared answer
        result = link.answer(data)
        assert not isinstance(result, DropReason)
        return result[0]

    from scapy.layers.l2 import ARP, Ether  # noqa: PLC0415

    def scapy_once() -> bytes:
        pkt = Ether(data)
        arp = pkt[ARP]
        assert arp.op == 1 and arp.pdst == str(VIP)
        reply = Ether(dst=arp.hwsrc, src="02:00:00:00:00:0a") / ARP(
            op=2, hwsrc="02:00:00:00:00:0a", psrc=arp.pdst, hwdst=arp.hwsrc, pdst=arp.psrc
        )
        return bytes(reply)

    assert Ether(ours_once())[ARP].op == 2 and ours_once()[:12] == scapy_once()[:12]
    assert table_once() == ours_once()
    for name, once, count in (
        ("ours", ours_once, 100_000),
        ("ours_table", table_once, 300_000),
        ("scapy", scapy_once, 5_000),
    ):
        start = time.perf_counter()
        for _ in range(count):
            once()
        emit(
            f"l2_codec_{name}_decide_and_reply_rate",
            count / (time.perf_counter() - start),
            "frames/s",
            ".0f",
        )


# --- the lab ---------------------------------------------------------------------------------


def peer_socket(lab: Lab, ifname: str) -> socket.socket:
    with netns(lab.peer):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    sock.bind((ifname, ETH_P_ARP))
    sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    return sock


def is_reply_from(data: bytes, ip: IPv4Address) -> bool:
    """A unicast ARP reply (not a gratuitous one, which goes to broadcast) for `ip`."""
    # ar$op = 2 at offset 20, sender protocol address at 28..32.
    return data[:6] != b"\xff" * 6 and data[20:22] == b"\x00\x02" and data[28:32] == ip.packed


async def set_announcements(stub: object, *ips: str) -> float:
    start = time.time()
    await stub.SetAnnouncements(  # type: ignore[attr-defined]
        l2_pb2.SetAnnouncementsRequest(
            announcements=[l2_pb2.AnnouncementSpec(ip=ip, interfaces=["ens1"]) for ip in ips]
        )
    )
    return start


# --- 2. flood ----------------------------------------------------------------------------------


def bench_flood(lab: Lab, count: int = 100_000, rate: float = 40_000, limit: float = 10.0) -> None:
    """Send `count` requests paced at `rate` per second (at most `limit` seconds), counting
    replies as they come; the answered rate is replies over first send to last reply."""
    peer_mac = parse_mac(lab.mac(lab.peer, "p1"))
    sock = peer_socket(lab, "p1")
    sock.setblocking(False)
    frame = request(peer_mac, VIP)
    replies = 0
    sent = 0
    first_send = time.perf_counter()
    last_reply = first_send
    deadline = first_send + limit

    def drain() -> None:
        nonlocal replies, last_reply
        while True:
            try:
                data = sock.recv(128)
            except BlockingIOError:
                return
            if is_reply_from(data, VIP):
                replies += 1
                last_reply = time.perf_counter()

    while sent < count and (now := time.perf_counter()) < deadline:
        due = min(count, int((now - first_send) * rate) + 1)
        while sent < due:
            try:
                sock.send(frame)
            except BlockingIOError:
                break
            sent += 1
        drain()
        time.sleep(0.0005)
    send_time = time.perf_counter() - first_send
    quiet_until = time.perf_counter() + 1.0
    while time.perf_counter() < quiet_until:  # late replies still count, then 1 s of silence
        before = replies
        select.select([sock], [], [], 0.2)
        drain()
        if replies != before:
            quiet_until = time.perf_counter() + 1.0
    sock.close()
    elapsed = last_reply - first_send
    emit("l2_arp_flood_requests_sent", sent, "requests", ".0f")
    emit("l2_arp_flood_offered_rate", sent / send_time, "requests/s", ".0f")
    emit("l2_arp_flood_replies", replies, "replies", ".0f")
    emit("l2_arp_flood_answered_rate", replies / elapsed, "replies/s", ".0f")
    emit("l2_arp_flood_unanswered", 100 * (sent - replies) / sent, "%")


# --- 3. latency against the kernel -------------------------------------------------------------


def receive_stamp(ancillary: list[tuple[int, int, bytes]]) -> float:
    """The kernel's receive time of a frame (CLOCK_REALTIME, as `time.time()`)."""
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            sec, nsec = struct.unpack("qq", value[:16])
            stamp: float = sec + nsec / 1e9
            return stamp
    raise RuntimeError("no receive timestamp")


def bench_latency(lab: Lab, rounds: int = 2000, label: str = "") -> None:
    peer_mac = parse_mac(lab.mac(lab.peer, "p1"))
    sock = peer_socket(lab, "p1")
    frames = {VIP: request(peer_mac, VIP), KERNEL_IP: request(peer_mac, KERNEL_IP)}
    wire: dict[IPv4Address, list[float]] = {VIP: [], KERNEL_IP: []}
    rtt: dict[IPv4Address, list[float]] = {VIP: [], KERNEL_IP: []}
    lost = {VIP: 0, KERNEL_IP: 0}
    for i in range(rounds * 2):
        ip = VIP if i % 2 == 0 else KERNEL_IP  # interleaved: both see the same machine
        sent_at = time.time()
        start = time.perf_counter()
        sock.send(frames[ip])
        end = start + 0.5
        while (left := end - time.perf_counter()) > 0:
            if not select.select([sock], [], [], left)[0]:
                continue
            data, ancillary, _, _ = sock.recvmsg(128, 64)
            if is_reply_from(data, ip):
                rtt[ip].append((time.perf_counter() - start) * 1e6)
                wire[ip].append((receive_stamp(ancillary) - sent_at) * 1e6)
                break
        else:
            lost[ip] += 1
        time.sleep(0.0005)
    sock.close()
    for kind, samples in ((f"latency{label}", wire), (f"rtt{label}", rtt)):
        p: dict[str, float] = {}
        for ip, name in ((VIP, "ours"), (KERNEL_IP, "kernel")):
            values = sorted(samples[ip])
            p[f"{name}_p50"] = statistics.median(values)
            p[f"{name}_p99"] = values[int(len(values) * 0.99) - 1]
            emit(f"l2_arp_{kind}_{name}_p50", p[f"{name}_p50"], "us")
            emit(f"l2_arp_{kind}_{name}_p99", p[f"{name}_p99"], "us")
        for q in ("p50", "p99"):
            ratio = p[f"ours_{q}"] / p[f"kernel_{q}"]
            emit(f"l2_arp_{kind}_{q}_ratio_vs_kernel", ratio, "ratio", ".2f")
    emit(f"l2_arp_latency{label}_ours_lost", lost[VIP], "probes", ".0f")
    emit(f"l2_arp_latency{label}_kernel_lost", lost[KERNEL_IP], "probes", ".0f")


def bench_latency_under_rpcs(lab: Lab, l2: L2Process, rounds: int = 2000) -> None:
    """The same probes while a client keeps the service's event loop busy: 500 more addresses
    announced, then SetAnnouncements (the same set) and ListAnnouncements back to back. The
    link threads need the GIL that the loop's Python holds; no target (docs/l2.md)."""
    specs = [l2_pb2.AnnouncementSpec(ip=str(VIP), interfaces=["ens1"])] + [
        l2_pb2.AnnouncementSpec(ip=f"10.77.{200 + i // 250}.{i % 250 + 1}", all_interfaces=True)
        for i in range(500)
    ]
    request_set = l2_pb2.SetAnnouncementsRequest(announcements=specs)
    calls = 0
    stop = threading.Event()

    async def load() -> None:
        nonlocal calls
        async with grpc.aio.insecure_channel(l2.target) as channel:
            stub = l2.stub(channel)
            while not stop.is_set():
                await stub.SetAnnouncements(request_set)
                await stub.ListAnnouncements(l2_pb2.ListAnnouncementsRequest())
                calls += 2

    async def announce() -> None:
        async with grpc.aio.insecure_channel(l2.target) as channel:
            await l2.stub(channel).SetAnnouncements(request_set)

    asyncio.run(announce())
    time.sleep(5.5)  # past the gratuitous rounds of the 500 new addresses
    client = threading.Thread(target=asyncio.run, args=(load(),))
    client.start()
    try:
        time.sleep(0.5)
        start, before = time.perf_counter(), calls
        bench_latency(lab, rounds, "_under_rpcs")
        emit("l2_rpc_load_calls_per_s", (calls - before) / (time.perf_counter() - start), "calls/s")
    finally:
        stop.set()
        client.join()


# --- 4. SetAnnouncements -> first gratuitous ARP -----------------------------------------------


def bench_first_gratuitous(lab: Lab, l2: L2Process, rounds: int = 20) -> None:
    sock = peer_socket(lab, "p1")
    delays: list[float] = []

    async def run() -> None:
        async with grpc.aio.insecure_channel(l2.target) as channel:
            stub = l2.stub(channel)
            await set_announcements(stub, str(VIP))  # warm the channel
            for i in range(rounds):
                ip = IPv4Address(f"10.77.1.{50 + i}")
                start = await set_announcements(stub, str(VIP), str(ip))
                end = time.monotonic() + 1.0
                while (left := end - time.monotonic()) > 0:
                    if not select.select([sock], [], [], left)[0]:
                        continue
                    data, ancillary, _, _ = sock.recvmsg(128, 64)
                    if data[28:32] == ip.packed and data[38:42] == ip.packed:
                        ((_, _, stamp),) = ancillary
                        sec, nsec = struct.unpack("qq", stamp[:16])
                        delays.append((sec + nsec / 1e9 - start) * 1000)
                        break
                await set_announcements(stub, str(VIP))

    asyncio.run(run())
    sock.close()
    emit("l2_first_gratuitous_samples", len(delays), "announcements", ".0f")
    emit("l2_first_gratuitous_p50_ms", statistics.median(delays), "ms", ".2f")
    emit("l2_first_gratuitous_max_ms", max(delays), "ms", ".2f")


def with_lab(work: Callable[[Lab, L2Process], None], options: tuple[str, ...] = ()) -> None:
    lab = Lab()
    l2: L2Process | None = None
    try:
        lab.open()
        build_topology(lab)
        l2 = L2Process(lab, str(Path(sys.executable).parent / "metallb-grpc"))
        if not Path(l2.exe).exists():
            l2.exe = "metallb-grpc"
        l2.extra = options
        l2.start()

        async def announce() -> None:
            async with grpc.aio.insecure_channel(l2.target) as channel:
                await set_announcements(l2.stub(channel), str(VIP))

        asyncio.run(announce())
        time.sleep(0.3)
        emit("l2_load_average", os.getloadavg()[0], "load", ".2f")
        work(lab, l2)
        metrics = l2.scrape()
        for line in metrics.splitlines():
            if line.startswith('metallb_layer2_requests_dropped{reason="send_failed"}'):
                emit("l2_send_failed", float(line.split()[-1]), "replies", ".0f")
    finally:
        if l2 is not None:
            l2.stop()
        lab.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flood-count", type=int, default=100_000)
    parser.add_argument("--flood-rate", type=float, default=40_000, help="offered requests/s")
    parser.add_argument("--latency-rounds", type=int, default=2000, help="probes of each")
    parser.add_argument("--runs", type=int, default=3, help="runs per configuration")
    parser.add_argument(
        "--configs", default=",".join(CONFIGS), help="comma-separated, from: " + " ".join(CONFIGS)
    )
    parser.add_argument(
        "--no-rpc-load", action="store_true", help="skip the latency under back-to-back RPCs"
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench/l2.py needs root: it creates network namespaces")
    # A SIGTERM (e.g. from `timeout`) unwinds through the `finally` that deletes the namespaces.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    bench_codec()
    global PREFIX, MODE
    configs = [c for c in args.configs.split(",") if c]
    if unknown := set(configs) - set(CONFIGS):
        raise SystemExit(f"unknown configurations: {' '.join(sorted(unknown))}")
    default = next(iter(CONFIGS))
    # The configurations alternate, three runs each: this machine's other load makes single
    # runs noisy. The per-run lines come first, then the medians, the default's under `l2_`
    # (the targets apply to these), the others' under `l2_<config>_`; docs/l2.md explains.
    for run in range(1, args.runs + 1):
        for config in configs:
            MODE, PREFIX = config, f"l2_run{run}_{config}_"
            options = CONFIGS[config]
            with_lab(lambda lab, _: bench_flood(lab, args.flood_count, args.flood_rate), options)
            with_lab(lambda lab, _: bench_latency(lab, args.latency_rounds), options)
    for config in configs:
        MODE, PREFIX = "summary", "l2_" if config == default else f"l2_{config}_"
        for name in SUMMARISED:
            unit, fmt = UNITS[name]
            emit(name, statistics.median(RUNS[(config, name)]), unit, fmt)
    MODE, PREFIX = default, "l2_"
    with_lab(bench_first_gratuitous, CONFIGS[default])
    if not args.no_rpc_load:
        with_lab(
            lambda lab, l2: bench_latency_under_rpcs(lab, l2, args.latency_rounds), CONFIGS[default]
        )


if __name__ == "__main__":
    print_load("before")
    main()
    print_load("after")
