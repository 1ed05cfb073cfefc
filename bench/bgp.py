"""BGP benchmark: 100,000 IPv4 /32 + 100,000 IPv6 /128 into one passive BIRD, per sender.

    sudo python3 bench/bgp.py [--routes N] [--senders ours,frr,exabgp,gobgp]

Method (the issue's): for each sender, two fresh network namespaces (tests/bgp/interop/lab.py),
the same passive BIRD 2 receiver (IPv4 and IPv6 sessions, import all), the sender in the other
namespace. Time runs from the first session BIRD logs as established (its log, millisecond
timestamps) until BIRD's two protocols have imported every route (polled on its control
socket every 10 ms). Each sender's CPU seconds (utime + stime) and peak RSS (VmHWM) are read
from /proc before it is stopped. Senders:
- ours: the speaker core and asyncio adapter (services/bgp/speaker.py) in its own process,
  advertisements set before the peers are added (the gRPC layer is not in the path: one
  SetAdvertisements of 200,000 ads exceeds gRPC's default 4 MB message limit);
- frr: bgpd (+ zebra) with `network` statements, FRR's defaults;
- exabgp: ExaBGP 4 with static routes (`next-hop self`);
- gobgp: gobgpd with the routes added through its gRPC API before the peers are (needs the
  API protos, see --gobgp-proto; skipped with a note when they are missing).
Prints `name value unit` lines, then the ratios ours/FRR and ours/ExaBGP (targets <= 1.0 and
<= 0.5), and the same ratios against the issue's figures for the anchors.
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

from metallb_rules.bgp_peer import PeerFields, validate_peer  # noqa: E402
from services.bgp.codec.prefixes import Prefix  # noqa: E402
from services.bgp.fsm import PeerConfig, RouteAttrs  # noqa: E402
from services.bgp.speaker import Speaker  # noqa: E402
from tests.bgp.interop.lab import FRR, Lab, run, wait_for  # noqa: E402

OUR_AS = 64512
BIRD_AS = 65002
V4_BASE = int(ipaddress.IPv4Address("198.18.0.0"))
V6_BASE = int(ipaddress.IPv6Address("fd00:198:18::"))
TARGETS = {"bgp_ours_over_exabgp": 0.5, "bgp_ours_over_frr": 1.0}
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


def measure(
    lab: Lab, sock: Path, n: int, sender_pid: Callable[[], int], timeout: float
) -> tuple[float, float, float]:
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
        start = established_at(lab.dir / "bird.log")
        assert start is not None
        cpu, rss = proc_usage(sender_pid())
        return done - start, cpu, rss
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
            ipaddress.IPv4Network((V4_BASE + i, 32)): no_attrs for i in range(args.routes)
        }
        v6_routes: dict[Prefix, RouteAttrs] = {
            ipaddress.IPv6Network((V6_BASE + i, 128)): no_attrs for i in range(args.routes)
        }
        speaker.set_routes({"b4": v4_routes, "b6": v6_routes})
        for name, addr in (("b4", args.peer4), ("b6", args.peer6)):
            fields = PeerFields(name=name, my_asn=OUR_AS, peer_asn=BIRD_AS, address=addr)
            await speaker.add_peer(PeerConfig.from_settings(validate_peer(fields)))
        print("ready", flush=True)
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


def bench_one(kind: str, n: int, timeout: float, proto: Path) -> tuple[float, float, float]:
    lab = Lab(kind[:2])
    try:
        sock = bird_receiver(lab)
        if kind == "gobgp":
            pid = start_gobgp(lab, n, proto)
        else:
            pid = {"ours": start_ours, "frr": start_frr, "exabgp": start_exabgp}[kind](lab, n)
        return measure(lab, sock, n, lambda: pid, timeout)
    finally:
        lab.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", type=int, default=100_000)
    parser.add_argument("--senders", default="ours,frr,exabgp,gobgp")
    parser.add_argument(
        "--gobgp-proto",
        type=Path,
        default=GOBGP_PROTO,
        help="GoBGP's api/*.proto (`apt-get download golang-github-osrg-gobgp-dev`, dpkg-deb -x)",
    )
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--sender-ours", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--peer4", help=argparse.SUPPRESS)
    parser.add_argument("--peer6", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sender_ours:
        run_ours(args)
        return 0
    if os.geteuid() != 0:
        print("bench/bgp.py needs root (network namespaces)", file=sys.stderr)
        return 1
    results: dict[str, float] = {}
    for kind in args.senders.split(","):
        if kind == "gobgp" and not (args.gobgp_proto / "gobgp.proto").exists():
            print(f"# gobgp skipped: no GoBGP API protos in {args.gobgp_proto}", flush=True)
            continue
        elapsed, cpu, rss = bench_one(kind, args.routes, args.timeout, args.gobgp_proto)
        results[kind] = elapsed
        n = args.routes
        print(f"bgp_{kind}_{n}v4_{n}v6_to_bird_seconds {elapsed:.3f} s", flush=True)
        print(f"bgp_{kind}_sender_cpu_seconds {cpu:.2f} s", flush=True)
        print(f"bgp_{kind}_sender_peak_rss {rss:.1f} MB", flush=True)
    ours = results.get("ours")
    for other, name in (("frr", "bgp_ours_over_frr"), ("exabgp", "bgp_ours_over_exabgp")):
        if ours is not None and other in results:
            ratio = ours / results[other]
            target = TARGETS[name]
            verdict = "meets" if ratio <= target else "misses"
            print(f"{name} {ratio:.2f} ratio ({verdict} target <= {target})")
        if ours is not None and args.routes == 100_000:
            ratio = ours / REFERENCE_SECONDS[other]
            reference = REFERENCE_SECONDS[other]
            print(f"{name}_reference {ratio:.2f} ratio (against the issue's {reference} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
