"""BGP benchmark: 100,000 IPv4 /32 + 100,000 IPv6 /128 into one passive BIRD, per sender.

    sudo python3 bench/bgp.py [--routes N] [--senders ours,api,api-text,frr,exabgp,gobgp]
        [--repeat N]

Method (the issue's): for each sender, two fresh network namespaces (tests/bgp/interop/lab.py),
the same passive BIRD 2 receiver (IPv4 and IPv6 sessions, import all), the sender in the other
namespace. Time runs from the first session BIRD logs as established (its log, millisecond
timestamps) until BIRD's two protocols have imported every route (polled on its control
socket every 10 ms): `..._to_bird_seconds`. Our two senders also print
`..._from_first_call_seconds`, from the wall-clock time they log just before their first call
(set_routes / AddPeer) until the same end, which counts all of the API path, and where that
time goes: `..._{routes,peers,established,imported}_after_first_call_seconds`, from the first
call until the routes are set, the peers added, BIRD's first session established and every
route imported. Each sender's CPU
seconds (utime + stime) and peak RSS (VmHWM) are read from /proc before it is stopped. With
--repeat N each sender runs N times and the figures are medians (peak RSS: the largest).
Senders:
- ours: the speaker core and asyncio adapter (services/bgp/speaker.py) driven in-process in its
  own process: the typed per-peer routes set (keyed by the core's `Prefix`, built with
  `make_prefix` before the clock starts, as an in-process caller holds them), then the two
  peers added (no gRPC);
- api: our BGP service (`metallb-grpc bgp`, the same speaker) driven through its gRPC API by a
  client process: one SetAdvertisements with b4's 100,000 /32 and b6's 100,000 /128, one
  RouteGroup per peer with the prefixes packed (`ipv4_nlri` / `ipv6_nlri`), then AddPeer for
  both peers (request messages built before the clock starts);
- api-text: the same with one Route per prefix, as text (the request form before groups). Its
  `_to_bird_seconds` counts, like every sender's, what happens once a session is up; the cost
  of the API path itself is in `_from_first_call_seconds` and the api/ours ratio;
- frr: bgpd (+ zebra) with `network` statements, FRR's defaults;
- exabgp: ExaBGP 4 with static routes (`next-hop self`);
- gobgp: gobgpd with the routes added through its gRPC API before the peers are (needs the
  API protos, see --gobgp-proto; skipped with a note when they are missing).
Prints `name value unit` lines, then the ratios with their targets: api/ours from the first
call (<= 1.5; api-text/ours too), api/FRR (<= 0.4), ours/FRR (<= 1.0), ours/ExaBGP (<= 0.5),
and ours and api against the issue's figures for the anchors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import ipaddress
import os
import signal
import socket
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
import grpc_tools
from google.protobuf.any_pb2 import Any as PbAny
from google.protobuf.message import Message
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "protos")]

from bench.load import print_load  # noqa: E402
from metallb.bgp.v1 import bgp_pb2, bgp_pb2_grpc  # noqa: E402
from metallb_rules.bgp_peer import PeerFields, validate_peer  # noqa: E402
from services.bgp.codec import AFI  # noqa: E402
from services.bgp.codec.prefixes import Prefix, make_prefix  # noqa: E402
from services.bgp.fsm import PeerConfig, RouteAttrs  # noqa: E402
from services.bgp.speaker import Speaker  # noqa: E402
from tests.bgp.interop.lab import FRR, Lab, run, wait_for  # noqa: E402

OUR_AS = 64512
BIRD_AS = 65002
V4_BASE = int(ipaddress.IPv4Address("198.18.0.0"))
V6_BASE = int(ipaddress.IPv6Address("fd00:198:18::"))
TARGETS = {
    "bgp_api_over_ours": 1.5,
    "bgp_api_text_over_ours": 1.5,
    "bgp_api_over_frr": 0.4,
    "bgp_ours_over_exabgp": 0.5,
    "bgp_ours_over_frr": 1.0,
}
#: Our senders' phases, each timed from their first call to its end.
PHASES = ("routes", "peers", "established", "imported")
#: The API senders and the form of their SetAdvertisements (see api_request).
API_FORMS = {"api": "packed", "api-text": "text"}
#: The issue's figures for the anchors, measured on this kind of machine with this method.
REFERENCE_SECONDS = {"frr": 1.29, "exabgp": 2.03, "gobgp": 1.8}


def v4(i: int) -> str:
    return str(ipaddress.IPv4Address(V4_BASE + i))


def v6(i: int) -> str:
    return str(ipaddress.IPv6Address(V6_BASE + i))


class BirdControl:
    """BIRD's control socket, spoken directly (no birdc process per poll)."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.buf = b""
        self._reply()  # the banner

    def _reply(self) -> list[str]:
        lines: list[str] = []
        while True:  # bounded by BIRD closing or answering; a reply ends with a code 0xxx/8xxx/9xxx
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return lines
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            text = line.decode()
            lines.append(text)
            if len(text) >= 5 and text[:4].isdigit() and text[4] == " ":
                return lines

    def imported(self, protocol: str) -> int:
        self.sock.sendall(f"show protocols all {protocol}\n".encode())
        for line in self._reply():
            if "Routes:" in line and "imported" in line:
                return int(line.split("Routes:")[1].split()[0])
        return 0

    def close(self) -> None:
        self.sock.close()


def bird_receiver(lab: Lab) -> Path:
    conf = f"""
template bgp receiver {{ local as {BIRD_AS}; passive on; hold time 90; }}
protocol bgp spk4 from receiver {{ local {lab.peer4}; neighbor {lab.spk4} as {OUR_AS};
  ipv4 {{ import all; export none; }}; }}
protocol bgp spk6 from receiver {{ local {lab.peer6}; neighbor {lab.spk6} as {OUR_AS};
  ipv6 {{ import all; export none; }}; }}
"""
    bird = lab.bird(conf)
    return bird.sock


def established_at(log: Path) -> float | None:
    for line in log.read_text(errors="replace").splitlines():
        if "BGP session established" in line:
            stamp = " ".join(line.split()[:2])
            return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()
    return None


def proc_usage(pid: int) -> tuple[float, float]:
    """(CPU seconds, peak RSS in MB) of `pid` and its descendants."""
    cpu, rss = 0.0, 0.0
    pids = [pid]
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    tick = os.sysconf("SC_CLK_TCK")
    for p in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / tick
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    rss += int(line.split()[1]) / 1024
    return cpu, rss


def stamps(log: Path) -> dict[str, float]:
    """The wall-clock times our sender logged: `start` just before its first call, `routes`
    when the routes are set (set_routes / SetAdvertisements returned), `peers` when both peers
    are added."""
    out: dict[str, float] = {}
    for line in log.read_text(errors="replace").splitlines():
        word, _, value = line.partition(" ")
        if word in ("start", "routes", "peers"):
            out.setdefault(word, float(value))
    return out


def measure(
    lab: Lab,
    sock: Path,
    n: int,
    sender_pid: Callable[[], int],
    timeout: float,
    *,
    start_log: Path | None = None,
) -> tuple[float, float | None, float, float, dict[str, float]]:
    """(seconds from the first session BIRD logs as established until BIRD has every route;
    with `start_log`, seconds from the `start` our sender logged before its first call, else
    None; sender CPU seconds; sender peak RSS MB; with `start_log`, the seconds from that start
    to each phase's end: routes set, peers added, first session established, all imported)."""
    bird = BirdControl(sock)
    try:
        deadline = time.monotonic() + timeout
        done = None
        while time.monotonic() < deadline:
            if bird.imported("spk4") >= n and bird.imported("spk6") >= n:
                done = time.time()
                break
            time.sleep(0.01)
        if done is None:
            raise RuntimeError(f"BIRD did not get {n} + {n} routes in {timeout:.0f} s")
        established = established_at(lab.dir / "bird.log")
        assert established is not None
        logged = stamps(start_log) if start_log is not None else {}
        first_call = logged.get("start")
        phases: dict[str, float] = {}
        if first_call is not None:
            ends = {**logged, "established": established, "imported": done}
            phases = {name: ends[name] - first_call for name in PHASES if name in ends}
        cpu, rss = proc_usage(sender_pid())
        since_call = None if first_call is None else done - first_call
        return done - established, since_call, cpu, rss, phases
    finally:
        bird.close()


# ---- senders ---------------------------------------------------------------------------------


def run_ours(args: argparse.Namespace) -> None:
    """In the speaker namespace: set the routes, add the two peers, run until SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        speaker = Speaker()
        no_attrs = RouteAttrs()
        v4_routes: dict[Prefix, RouteAttrs] = {
            make_prefix(AFI.IPV4, V4_BASE + i, 32): no_attrs for i in range(args.routes)
        }
        v6_routes: dict[Prefix, RouteAttrs] = {
            make_prefix(AFI.IPV6, V6_BASE + i, 128): no_attrs for i in range(args.routes)
        }
        peers = [
            PeerConfig.from_settings(
                validate_peer(PeerFields(name=name, my_asn=OUR_AS, peer_asn=BIRD_AS, address=addr))
            )
            for name, addr in (("b4", args.peer4), ("b6", args.peer6))
        ]
        print(f"start {time.time()}", flush=True)
        speaker.set_routes({"b4": v4_routes, "b6": v6_routes})
        print(f"routes {time.time()}", flush=True)
        for peer in peers:
            await speaker.add_peer(peer)
        print(f"peers {time.time()}", flush=True)
        await stop.wait()
        await speaker.close()

    asyncio.run(main())


def start_ours(lab: Lab, n: int) -> int:
    proc = lab.spawn(
        lab.spk_ns, sys.executable, str(Path(__file__).resolve()), "--sender-ours",
        "--routes", str(n), "--peer4", lab.peer4, "--peer6", lab.peer6,
        log="ours.log", cwd=ROOT,
    )  # fmt: skip
    return proc.pid


def packed(base: int, width: int, n: int) -> bytes:
    """`n` host prefixes from `base` in the NLRI encoding (RFC 4271 §4.3): length, address."""
    head = bytes([width])
    return b"".join(head + (base + i).to_bytes(width // 8, "big") for i in range(n))


def api_request(form: str, n: int) -> bgp_pb2.SetAdvertisementsRequest:
    """b4's n /32 and b6's n /128: one RouteGroup per peer with the prefixes packed
    (`packed`), or one Route per prefix as text (`text`)."""
    if form == "packed":
        return bgp_pb2.SetAdvertisementsRequest(
            advertisements=[
                bgp_pb2.PeerAdvertisements(
                    peer="b4", groups=[bgp_pb2.RouteGroup(ipv4_nlri=packed(V4_BASE, 32, n))]
                ),
                bgp_pb2.PeerAdvertisements(
                    peer="b6", groups=[bgp_pb2.RouteGroup(ipv6_nlri=packed(V6_BASE, 128, n))]
                ),
            ]
        )
    return bgp_pb2.SetAdvertisementsRequest(
        advertisements=[
            bgp_pb2.PeerAdvertisements(
                peer="b4", routes=[bgp_pb2.Route(prefix=f"{v4(i)}/32") for i in range(n)]
            ),
            bgp_pb2.PeerAdvertisements(
                peer="b6", routes=[bgp_pb2.Route(prefix=f"{v6(i)}/128") for i in range(n)]
            ),
        ]
    )


def run_api_client(args: argparse.Namespace) -> None:
    """A client process: one SetAdvertisements with b4's 100,000 /32 and b6's 100,000 /128,
    then AddPeer for both peers, the order the in-process sender and GoBGP's use (the messages
    are built before the clock starts, as a caller holds them; what is timed is the gRPC path
    and the service's work). The two AddPeers are independent, so the client sends both before
    waiting for either, as the in-process sender adds both without waiting on the network:
    awaited one by one, the second waits behind the first session's initial table."""
    stub = bgp_pb2_grpc.BGPServiceStub(grpc.insecure_channel(f"unix:{args.socket}"))
    peers = [
        bgp_pb2.PeerConf(name=name, my_asn=OUR_AS, peer_asn=BIRD_AS, peer_address=addr)
        for name, addr in (("b4", args.peer4), ("b6", args.peer6))
    ]
    request = api_request(args.form, args.routes)
    print(f"start {time.time()}", flush=True)
    stub.SetAdvertisements(request, timeout=300)
    print(f"routes {time.time()}", flush=True)
    calls = [stub.AddPeer.future(bgp_pb2.AddPeerRequest(peer=peer), timeout=30) for peer in peers]
    for call in calls:
        call.result()
    print(f"peers {time.time()}", flush=True)


def start_api(lab: Lab, n: int, form: str) -> tuple[int, Path]:
    """Our BGP service (`metallb-grpc bgp`) and a client process driving it with requests of
    `form` (see api_request); (service pid, the client's log)."""
    # 200,000 routes in one SetAdvertisements are ~4 MiB as text: raise the server's bound.
    service, sock = lab._service("bgp", "speaker", "--max-message-bytes", str(64 << 20))
    lab.spawn(
        lab.spk_ns, sys.executable, str(Path(__file__).resolve()), "--api-client",
        "--form", form, "--socket", str(sock), "--routes", str(n), "--peer4", lab.peer4,
        "--peer6", lab.peer6, log="client.log", cwd=ROOT,
    )  # fmt: skip
    return service.pid, lab.dir / "client.log"


def start_frr(lab: Lab, n: int) -> int:
    d = lab.dir / "frr"
    d.mkdir()
    lines = [
        "frr defaults traditional", "hostname sender", f"log file {d}/bgpd.log", "!",
        f"router bgp {OUR_AS}", f" bgp router-id {lab.spk4}", " no bgp ebgp-requires-policy",
        " no bgp default ipv4-unicast", " no bgp network import-check",
        f" neighbor {lab.peer4} remote-as {BIRD_AS}", f" neighbor {lab.peer6} remote-as {BIRD_AS}",
        " address-family ipv4 unicast", f"  neighbor {lab.peer4} activate",
    ]  # fmt: skip
    lines += [f"  network {v4(i)}/32" for i in range(n)]
    lines += [
        " exit-address-family",
        " address-family ipv6 unicast",
        f"  neighbor {lab.peer6} activate",
    ]
    lines += [f"  network {v6(i)}/128" for i in range(n)]
    lines += [" exit-address-family", "exit", ""]
    (d / "bgpd.conf").write_text("\n".join(lines))
    (d / "zebra.conf").write_text("hostname sender\n")
    run("chown", "-R", "frr:frr", str(d))
    common = [
        "-d",
        "-u",
        "frr",
        "-g",
        "frr",
        "-P",
        "0",
        "-z",
        f"{d}/zserv.api",
        "--vty_socket",
        str(d),
    ]
    for daemon in ("zebra", "bgpd"):
        pidfile = d / f"{daemon}.pid"
        lab.pidfiles.append(pidfile)
        run("ip", "netns", "exec", lab.spk_ns, str(FRR / daemon), *common, "-f",
            str(d / f"{daemon}.conf"), "-i", str(pidfile), timeout=300)  # fmt: skip
        if daemon == "zebra":
            wait_for("zebra", (d / "zserv.api").exists, 10)
    return int((d / "bgpd.pid").read_text().split()[0])


def start_exabgp(lab: Lab, n: int) -> int:
    conf = lab.dir / "exabgp.conf"
    parts = []
    for addr, local, routes in (
        (lab.peer4, lab.spk4, (f"    route {v4(i)}/32 next-hop self;" for i in range(n))),
        (lab.peer6, lab.spk6, (f"    route {v6(i)}/128 next-hop self;" for i in range(n))),
    ):
        family = "ipv4 unicast" if ":" not in addr else "ipv6 unicast"
        parts.append(
            f"neighbor {addr} {{\n  router-id {lab.spk4};\n  local-address {local};\n"
            f"  local-as {OUR_AS};\n  peer-as {BIRD_AS};\n  group-updates true;\n"
            f"  family {{ {family}; }}\n"
            "  static {\n" + "\n".join(routes) + "\n  }\n}\n"
        )
    conf.write_text("\n".join(parts))
    env = {**os.environ, "exabgp.daemon.user": "root", "exabgp.log.level": "WARNING",
           "exabgp.daemon.drop": "false"}  # fmt: skip
    proc = lab.spawn(lab.spk_ns, "exabgp", str(conf), log="exabgp.log", env=env)
    return proc.pid


GOBGP_PROTO = Path("/usr/share/gocode/src/github.com/osrg/gobgp/api")


def gobgp_stubs(proto_dir: Path, out: Path) -> bool:
    """Generate Python stubs of GoBGP's API (Debian golang-github-osrg-gobgp-dev) into `out`."""
    if not (proto_dir / "gobgp.proto").exists():
        return False
    include = Path(grpc_tools.__file__).parent / "_proto"
    protos = [str(p) for p in sorted(proto_dir.glob("*.proto"))]
    args = ["protoc", f"-I{proto_dir}", f"-I{include}", f"--python_out={out}"]
    args += [f"--grpc_python_out={out}", *protos]
    return bool(protoc.main(args) == 0)


def start_gobgp(lab: Lab, n: int, proto_dir: Path) -> int:
    """gobgpd with the routes added through its API first, then the two peers."""
    stubs = lab.dir / "gobgp_pb"
    stubs.mkdir()
    if not gobgp_stubs(proto_dir, stubs):
        raise RuntimeError(f"no GoBGP API protos in {proto_dir}")
    sys.path.insert(0, str(stubs))
    attr: Any = importlib.import_module("attribute_pb2")
    g: Any = importlib.import_module("gobgp_pb2")
    gg: Any = importlib.import_module("gobgp_pb2_grpc")

    def pack(message: Message) -> PbAny:
        out = PbAny()
        out.Pack(message)
        return out

    conf = lab.dir / "gobgpd.toml"
    conf.write_text(
        f'[global.config]\n  as = {OUR_AS}\n  router-id = "{lab.spk4}"\n'
        f'  local-address-list = ["{lab.spk4}", "{lab.spk6}"]\n'
    )
    sock = lab.dir / "gobgpd.sock"
    proc = lab.spawn(
        lab.spk_ns, "gobgpd", "-f", str(conf), "-p", "--pprof-disable",
        "--api-hosts", f"unix://{sock}", log="gobgpd.log",
    )  # fmt: skip
    wait_for("gobgpd's API socket", sock.exists, 10)
    f4 = g.Family(afi=g.Family.AFI_IP, safi=g.Family.SAFI_UNICAST)
    f6 = g.Family(afi=g.Family.AFI_IP6, safi=g.Family.SAFI_UNICAST)
    origin = pack(attr.OriginAttribute(origin=0))

    def requests() -> Iterator[object]:
        batch = []
        for i in range(2 * n):
            if i < n:
                nlri = pack(attr.IPAddressPrefix(prefix=v4(i), prefix_len=32))
                nh = pack(attr.NextHopAttribute(next_hop=lab.spk4))
                path = g.Path(family=f4, nlri=nlri, pattrs=[origin, nh])
            else:
                nlri = pack(attr.IPAddressPrefix(prefix=v6(i - n), prefix_len=128))
                reach = attr.MpReachNLRIAttribute(family=f6, next_hops=[lab.spk6], nlris=[nlri])
                path = g.Path(family=f6, nlri=nlri, pattrs=[origin, pack(reach)])
            batch.append(path)
            if len(batch) == 1000:
                yield g.AddPathStreamRequest(table_type=g.GLOBAL, paths=batch)
                batch = []
        if batch:
            yield g.AddPathStreamRequest(table_type=g.GLOBAL, paths=batch)

    with grpc.insecure_channel(f"unix://{sock}") as channel:
        stub = gg.GobgpApiStub(channel)
        stub.AddPathStream(requests(), timeout=300)
        for addr, family in ((lab.peer4, f4), (lab.peer6, f6)):
            peer = g.Peer(
                conf=g.PeerConf(neighbor_address=addr, peer_asn=BIRD_AS),
                afi_safis=[g.AfiSafi(config=g.AfiSafiConfig(family=family, enabled=True))],
            )
            stub.AddPeer(g.AddPeerRequest(peer=peer), timeout=10)
    return proc.pid


# ---- main ------------------------------------------------------------------------------------


def bench_one(
    kind: str, n: int, timeout: float, proto: Path
) -> tuple[float, float | None, float, float, dict[str, float]]:
    lab = Lab(kind[:2])
    try:
        sock = bird_receiver(lab)
        if kind in API_FORMS:
            pid, client_log = start_api(lab, n, API_FORMS[kind])
            return measure(lab, sock, n, lambda: pid, timeout, start_log=client_log)
        if kind == "ours":
            pid = start_ours(lab, n)
            return measure(lab, sock, n, lambda: pid, timeout, start_log=lab.dir / "ours.log")
        if kind == "gobgp":
            pid = start_gobgp(lab, n, proto)
        else:
            pid = {"frr": start_frr, "exabgp": start_exabgp}[kind](lab, n)
        return measure(lab, sock, n, lambda: pid, timeout)
    finally:
        lab.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", type=int, default=100_000)
    parser.add_argument("--senders", default="ours,api,api-text,frr,exabgp,gobgp")
    parser.add_argument(
        "--gobgp-proto",
        type=Path,
        default=GOBGP_PROTO,
        help="GoBGP's api/*.proto (`apt-get download golang-github-osrg-gobgp-dev`, dpkg-deb -x)",
    )
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per sender; the figures are their medians"
    )
    parser.add_argument("--sender-ours", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--api-client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--socket", help=argparse.SUPPRESS)
    parser.add_argument("--form", default="packed", help=argparse.SUPPRESS)
    parser.add_argument("--peer4", help=argparse.SUPPRESS)
    parser.add_argument("--peer6", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sender_ours:
        run_ours(args)
        return 0
    if args.api_client:
        run_api_client(args)
        return 0
    if os.geteuid() != 0:
        print("bench/bgp.py needs root (network namespaces)", file=sys.stderr)
        return 1
    results: dict[str, float] = {}
    from_call: dict[str, float] = {}
    n = args.routes
    for kind in args.senders.split(","):
        if kind == "gobgp" and not (args.gobgp_proto / "gobgp.proto").exists():
            print(f"# gobgp skipped: no GoBGP API protos in {args.gobgp_proto}", flush=True)
            continue
        runs = [bench_one(kind, n, args.timeout, args.gobgp_proto) for _ in range(args.repeat)]
        elapsed = statistics.median(r[0] for r in runs)
        calls = [r[1] for r in runs if r[1] is not None]
        since_call = statistics.median(calls) if calls else None
        cpu = statistics.median(r[2] for r in runs)
        rss = max(r[3] for r in runs)
        results[kind] = elapsed
        name = kind.replace("-", "_")
        print(f"bgp_{name}_{n}v4_{n}v6_to_bird_seconds {elapsed:.3f} s", flush=True)
        if since_call is not None:
            from_call[kind] = since_call
            print(f"bgp_{name}_{n}v4_{n}v6_from_first_call_seconds {since_call:.3f} s", flush=True)
        for phase in PHASES:
            ends = [r[4][phase] for r in runs if phase in r[4]]
            if ends:
                print(f"bgp_{name}_{phase}_after_first_call_seconds "
                      f"{statistics.median(ends):.3f} s", flush=True)  # fmt: skip
        print(f"bgp_{name}_sender_cpu_seconds {cpu:.2f} s", flush=True)
        print(f"bgp_{name}_sender_peak_rss {rss:.1f} MB", flush=True)
    ratios = [
        ("bgp_api_over_ours", from_call, "api", "ours"),
        ("bgp_api_text_over_ours", from_call, "api-text", "ours"),
        ("bgp_api_over_frr", results, "api", "frr"),
        ("bgp_ours_over_frr", results, "ours", "frr"),
        ("bgp_ours_over_exabgp", results, "ours", "exabgp"),
    ]
    for name, figures, mine, other in ratios:
        if mine in figures and other in figures:
            ratio = figures[mine] / figures[other]
            target = TARGETS[name]
            verdict = "meets" if ratio <= target else "misses"
            print(f"{name} {ratio:.2f} ratio ({verdict} target <= {target})")
    for mine in ("ours", "api"):
        for other in ("frr", "exabgp"):
            if mine in results and n == 100_000:
                reference = REFERENCE_SECONDS[other]
                ratio = results[mine] / reference
                print(f"bgp_{mine}_over_{other}_reference {ratio:.2f} ratio "
                      f"(against the issue's {reference} s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    print_load("before")
    status = main()
    print_load("after")
    sys.exit(status)
