"""The L2 failover lab: three nodes, a client and the Kubernetes API on one bridge.

```
                      mlbfo-<pid>-br (bridge br0)
   p1 |      p2 |      p3 |        pcl |          papi |
 node1     node2     node3       client          api (the fake API server, tests/fakekube)
 .11       .12       .13         .100            .250        10.77.241.0/24, fd00:77:241::/64
```

Each node namespace runs what a node runs in production, each its own process speaking gRPC over
a unix socket: the BFD service, the L2 service and the node role (Kubernetes mode, against the
fake API server over the bridge, with `--bfd` unless the lab is in lease-only mode). The fake API
server runs in this process, its listening socket opened in the `api` namespace. Two Services
hold an address each, VIP4 and VIP6, with an endpoint on every node, so MetalLB's election alone
picks the owner. `Prober` is the client: every 10 ms an ARP request for VIP4 and a Neighbor
Solicitation for VIP6 (RFC 4861 §7.2.2), and a record of every reply and unsolicited NA heard.

Each node namespace also accepts traffic for both addresses as kube-proxy in IPVS mode makes a
node do (`accept_traffic`): the addresses sit on a dummy link `kube-ipvs0` (in MetalLB's default
exclude list, so the L2 service never answers there), with `arp_ignore=1` / `arp_announce=2` so
the kernel answers no ARP request for them on the node's link nor uses them as ARP sender, and
the IPv6 one `nodad` on the dummy only (the kernel answers a Neighbor Solicitation only for an
address of the link it came in on). So only the L2 service's answers make the client send there,
and the client's ICMP echo requests (`Prober(echo=True)`, every 10 ms to each address, through
the client's own kernel: its neighbour cache, updated by the gratuitous ARP / unsolicited NA) are
answered by the kernel of whichever node the client's cache points at; the prober records the
source MAC of every echo reply.

Used by tests/e2e/test_failover.py and bench/failover.py.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any

from services.l2.core.frames import (
    ArpFrame,
    ArpOperation,
    NeighborAdvertisement,
    NeighborSolicitation,
    decode_frame,
    multicast_mac,
    parse_mac,
    solicited_node,
)
from tests.e2e.lab import LINK, Lab, sh, wait_for
from tests.fakekube import FakeKube
from tests.fakekube.fake import write_kubeconfig
from tests.l2.lab import netns

SUBNET = "10.77.241"
SUBNET6 = "fd00:77:241::"
NODES = {"node1": 11, "node2": 12, "node3": 13}
CLIENT, API = 100, 250
VIP4 = f"{SUBNET}.200"
VIP6 = f"{SUBNET6}200"
NAMESPACE = "metallb-system"
API_PORT = 6443
EXCLUDE = "node.kubernetes.io/exclude-from-external-load-balancers"


# A node role whose wall clock is off by argv[1] seconds (only what it writes, e.g. renewTime).
SKEWED = """
import datetime, sys
import gateway.kube.lease as lease
offset = datetime.timedelta(seconds=float(sys.argv.pop(1)))
real = lease._now
lease._now = lambda: real() + offset
from metallb_cli import run
sys.exit(run())
"""


def node_object(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"addresses": [{"type": "InternalIP", "address": f"{SUBNET}.{NODES[name]}"}]},
    }


def seed_objects(dual_stack: bool = False) -> list[dict[str, Any]]:
    """The pool, the L2Advertisement, the nodes, and the Services: web4 (VIP4) and web6
    (VIP6), or with `dual_stack` one Service `web` holding both (MetalLB elects one owner per
    Service, so both addresses then move together and every failover measures both)."""
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "metallb.io/v1beta1",
            "kind": "IPAddressPool",
            "metadata": {"name": "pool", "namespace": NAMESPACE},
            "spec": {"addresses": [f"{VIP4}/32", f"{VIP6}/128"]},
        },
        {
            "apiVersion": "metallb.io/v1beta1",
            "kind": "L2Advertisement",
            "metadata": {"name": "l2", "namespace": NAMESPACE},
            "spec": {},
        },
        {  # MetalLB's defaults (300 ms x 3), for `--bfd-profile metallb-defaults`
            "apiVersion": "metallb.io/v1beta1",
            "kind": "BFDProfile",
            "metadata": {"name": "metallb-defaults", "namespace": NAMESPACE},
            "spec": {},
        },
        *(node_object(n) for n in NODES),
    ]
    services = [("web4", [VIP4], ["IPv4"]), ("web6", [VIP6], ["IPv6"])]
    if dual_stack:
        services = [("web", [VIP4, VIP6], ["IPv4", "IPv6"])]
    for name, vips, families in services:
        objects.append({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "LoadBalancer", "ipFamilies": families, "ports": [{"port": 80}],
                     "ipFamilyPolicy": "RequireDualStack" if dual_stack else "SingleStack"},
            "status": {"loadBalancer": {"ingress": [{"ip": vip} for vip in vips]}},
        })  # fmt: skip
        objects += [
            _endpoints(name, family, f"{name}-{family.lower()}" if dual_stack else f"{name}-1")
            for family in families
        ]
    return objects


SO_TIMESTAMPNS = 35  # (SCM_TIMESTAMPNS: a struct timespec on CLOCK_REALTIME per frame)
SO_RCVBUFFORCE = 33


class _KernelClock:
    """Kernel timestamps (CLOCK_REALTIME) on time.monotonic()'s clock. The offset between the
    two is read between two monotonic readings and kept only when they are close: a thread
    switch between the readings would shift every time by as much."""

    def __init__(self) -> None:
        self.offset = time.time() - time.monotonic()

    def arrival(self, ancillary: list[tuple[int, int, bytes]]) -> float:
        """When the kernel received or sent the frame (now if it was not stamped)."""
        before = time.monotonic()
        wall = time.time()
        after = time.monotonic()
        if after - before < 0.0001:
            self.offset = wall - (before + after) / 2
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
                seconds, nanoseconds = struct.unpack_from("qq", data)
                return float(seconds + nanoseconds / 1e9 - self.offset)
        return after


def _endpoints(name: str, family: str, slice_name: str) -> dict[str, Any]:
    """An EndpointSlice of Service `name` with a ready endpoint on every node."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": slice_name,
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": name},
        },
        "addressType": family,
        "endpoints": [
            {"addresses": ["10.244.0.1"], "conditions": {"ready": True}, "nodeName": n}
            for n in NODES
        ],
    }


@dataclass
class Heard:
    t: float  # time.monotonic() when received
    family: int  # 4 or 6
    mac: str
    solicited: bool  # an answer to our probe (False: gratuitous ARP / unsolicited NA)
    kind: str = "nd"  # "nd": an ARP or NDP answer; "echo": an ICMP echo reply (its source MAC)


ICMP_FILTER, ICMP6_FILTER = 1, 1  # linux/icmp.h (SOL_RAW), linux/icmpv6.h (IPPROTO_ICMPV6)
SOL_RAW = 255


def _echo_sockets() -> tuple[socket.socket, socket.socket]:
    """Raw ICMP sockets that send echo requests through the kernel (its routes and neighbour
    cache) and read nothing: every incoming type is filtered out (the replies are seen, with
    their MACs, on the prober's packet socket)."""
    v4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    v4.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("I", 0xFFFFFFFF))
    v6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    v6.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, b"\xff" * 32)
    return v4, v6


def _echo_request(icmp_type: int, ident: int, seq: int) -> bytes:
    """An ICMP echo request (RFC 792, RFC 4443 §4.1); the checksum is the IPv4 one (the kernel
    fills in ICMPv6's, which covers the pseudo-header)."""
    payload = b"metallb-grpc failover probe!"  # an even length: the sum below takes 16-bit words
    body = struct.pack("!BBHHH", icmp_type, 0, 0, ident, seq) + payload
    if icmp_type != 8:
        return body
    total = sum(struct.unpack(f"!{len(body) // 2}H", body))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return body[:2] + struct.pack("!H", ~total & 0xFFFF) + body[4:]


def echo_reply_from(data: bytes, vip4: bytes, vip6: bytes) -> int | None:
    """The family of an Ethernet frame that is an ICMP echo reply from VIP4 or VIP6, else
    None."""
    ethertype = data[12:14]
    if ethertype == b"\x08\x00" and len(data) >= 34 and data[23] == 1 and data[26:30] == vip4:
        offset = 14 + (data[14] & 0x0F) * 4
        return 4 if len(data) > offset and data[offset] == 0 else None
    if ethertype == b"\x86\xdd" and len(data) >= 55 and data[20] == 58 and data[22:38] == vip6:
        return 6 if data[54] == 129 else None
    return None


@dataclass
class Prober:
    """Probes VIP4 and VIP6 every `interval` seconds from the client namespace."""

    ns: str
    mac: str
    interval: float = 0.01
    heard: list[Heard] = field(default_factory=list)
    sent: list[float] = field(default_factory=list)
    # When each family's probes left, timed by the kernel as tcpdump times them (the receiving
    # socket sees what the sending one sent).
    on_wire: dict[int, list[float]] = field(default_factory=lambda: {4: [], 6: []})
    echo: bool = False  # also an ICMP echo request to each address every interval
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Prober:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait(5)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self, ready: threading.Event) -> None:
        with netns(self.ns):
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
            tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
            echo = _echo_sockets() if self.echo else None
        sock.bind((LINK, 0))
        tx.bind((LINK, 0))
        # Probes and answers are timed by the kernel as they pass, not when this thread sends or
        # reads them: the thread shares the GIL with the fake API server, busiest right at a
        # hand-off, and a late read made an answer look later than the next probe.
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        # Room for seconds of frames: a thread kept from reading must not lose answers.
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
        ready.set()
        me = parse_mac(self.mac)
        arp = ArpFrame(
            b"\xff" * 6, me, ArpOperation.REQUEST, me, IPv4Address(f"{SUBNET}.{CLIENT}"),
            b"\x00" * 6, IPv4Address(VIP4),
        ).encode()  # fmt: skip
        group = solicited_node(IPv6Address(VIP6))
        ns = NeighborSolicitation(
            multicast_mac(group), me, IPv6Address(f"{SUBNET6}{CLIENT}"), group,
            IPv6Address(VIP6), me,
        ).encode()  # fmt: skip
        vip4, vip6 = IPv4Address(VIP4), IPv6Address(VIP6)
        clock = _KernelClock()
        ident, seq = os.getpid() & 0xFFFF, 0
        next_at = time.monotonic()
        with sock, tx, contextlib.ExitStack() as stack:
            if echo is not None:
                for owned in echo:
                    stack.enter_context(owned)
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= next_at:
                    tx.send(arp)
                    tx.send(ns)
                    self.sent.append(now)
                    if echo is not None:
                        seq = (seq + 1) & 0xFFFF
                        self._send_echo(echo, ident, seq)
                    # Fell behind (a loaded machine): no burst to catch up, and never two
                    # probes so close that an answer to the first would arrive after the second
                    # (from the time they left: this thread may have been preempted before).
                    left = time.monotonic()
                    next_at = max(next_at + self.interval, left + self.interval / 2)
                readable, _, _ = select.select([sock], [], [], max(0.0, next_at - now))
                if not readable:
                    continue
                data, ancillary, _, _ = sock.recvmsg(2048, 64)
                t = clock.arrival(ancillary)
                if data[6:12] == me:  # ours, leaving: a probe (or the kernel's own, e.g. an RS)
                    if data in (arp, ns):
                        self.on_wire[4 if data == arp else 6].append(t)
                    continue
                family = echo_reply_from(data, vip4.packed, vip6.packed)
                if family is not None:
                    self.heard.append(Heard(t, family, data[6:12].hex(":"), True, "echo"))
                    continue
                with contextlib.suppress(Exception):
                    self._hear(decode_frame(data), t, me, vip4, vip6)

    def _send_echo(self, echo: tuple[socket.socket, socket.socket], ident: int, seq: int) -> None:
        v4, v6 = echo
        for sock, request, to in ((v4, _echo_request(8, ident, seq), (VIP4, 0)),
                                  (v6, _echo_request(128, ident, seq), (VIP6, 0))):  # fmt: skip
            # Unreachable for a moment (no neighbour yet, its queue full): a lost probe.
            with contextlib.suppress(OSError):
                sock.sendto(request, socket.MSG_DONTWAIT, to)

    def _hear(self, frame: object, t: float, me: bytes, vip4: object, vip6: object) -> None:
        if isinstance(frame, ArpFrame) and frame.sender_ip == vip4:
            solicited = frame.operation == ArpOperation.REPLY and frame.eth_dst == me
            self.heard.append(Heard(t, 4, frame.sender_mac.hex(":"), solicited))
        elif isinstance(frame, NeighborAdvertisement) and frame.target == vip6:
            mac = (frame.target_lla or frame.eth_src).hex(":")
            self.heard.append(Heard(t, 6, mac, frame.solicited))

    # What the client saw.

    def answers(
        self, family: int, since: float = 0.0, until: float = float("inf"), kind: str = "nd"
    ) -> list[Heard]:
        """Answers to our probes: ARP/NDP (`kind="nd"`) or ICMP echo replies (`"echo"`)."""
        return [
            h
            for h in list(self.heard)
            if h.family == family and since <= h.t < until and h.solicited and h.kind == kind
        ]

    def owner(self, family: int, within: float = 0.2, kind: str = "nd") -> str | None:
        """The MAC answering now (the latest answer, if recent)."""
        answers = self.answers(family, time.monotonic() - within, kind=kind)
        return answers[-1].mac if answers else None

    def longest_silence(self, family: int, since: float, until: float) -> float:
        """The longest time without an answer within [since, until]."""
        times = [since, *(h.t for h in self.answers(family, since, until)), until]
        return max(b - a for a, b in itertools.pairwise(times))

    def silence_after(self, family: int, event: float, until: float, kind: str = "nd") -> float:
        """The longest time without an answer from the last answer before `event` to `until`
        (the window during which no node answered; a late answer of the old owner to a probe
        sent before the fault does not end it early)."""
        before = [h.t for h in self.answers(family, event - 1.0, event, kind)]
        times = [before[-1] if before else event]
        times += [h.t for h in self.answers(family, event, until, kind)]
        times.append(until)
        return max(b - a for a, b in itertools.pairwise(times))

    def double_answers(self, family: int, since: float, until: float) -> int:
        """Probe intervals in which two different MACs answered."""
        bins: dict[int, set[str]] = {}
        for h in self.answers(family, since, until):
            bins.setdefault(int((h.t - since) / self.interval), set()).add(h.mac)
        return sum(1 for macs in bins.values() if len(macs) > 1)

    def owners(self, family: int, since: float, until: float) -> list[str]:
        """The answering MACs in order, each change once."""
        out: list[str] = []
        for h in self.answers(family, since, until):
            if not out or out[-1] != h.mac:
                out.append(h.mac)
        return out

    def lost_probes(self, family: int, since: float, until: float) -> int:
        """Probes sent within [since, until) that no node answered before the next probe
        (both as the kernel timed them on the wire)."""
        answers = [h.t for h in self.answers(family, since, until + 1.0)]
        wire = list(self.on_wire[family])
        if wire:  # each probe until the next one (a probe is judged once the next one is
            # recorded: the reading thread sees it leave after the answers to the one before)
            windows = [(a, b) for a, b in itertools.pairwise(wire) if since <= a < until]
        else:
            sent = [t for t in list(self.sent) if since <= t < until]
            windows = list(itertools.pairwise([*sent, sent[-1] + self.interval])) if sent else []
        lost, i = 0, 0
        for t, end in windows:
            while i < len(answers) and answers[i] < t:
                i += 1
            if not (i < len(answers) and answers[i] < end):
                lost += 1
        return lost

    def overlap(self, family: int, since: float, until: float, old: str) -> float:
        """How long MAC `old` still answered after another MAC's first answer (0: it had
        stopped before)."""
        answers = self.answers(family, since, until)
        new = next(h.t for h in answers if h.mac != old)
        last = max((h.t for h in answers if h.mac == old), default=new)
        return max(0.0, last - new)

    def unsolicited(self, family: int, mac: str, since: float) -> list[Heard]:
        return [
            h for h in list(self.heard)
            if h.family == family and h.mac == mac and not h.solicited and h.t >= since
        ]  # fmt: skip


class FailoverLab:
    """The namespaces, the fake API server, the node processes and the client's prober."""

    def __init__(
        self,
        *,
        liveness: str = "bfd",
        bfd_profile: str = "",
        extra: tuple[str, ...] = (),
        skews: dict[str, float] | None = None,
        accept: bool = True,
        dual_stack: bool = False,
    ) -> None:
        """`skews`: seconds added to a node role's wall clock (what it writes in its Lease);
        `accept`: every node accepts traffic for the addresses (`accept_traffic`) and the
        prober sends ICMP echo requests too; `dual_stack`: one Service holds both addresses
        (`seed_objects`)."""
        # Each process lives at most an hour (a whole benchmark run: longer than the e2e lab's
        # five minutes).
        # The pid in the names: two processes (the bench runs its lease-only lab in its own)
        # may hold objects at the same id.
        tag = f"{os.getpid() % 100000}{id(self) % 1000:03d}"
        self.lab = Lab(prefix=f"mlbfo-{tag}-", lifetime=3600)
        self.liveness = liveness
        self.bfd_profile = bfd_profile
        self.extra = extra
        self.skews = skews or {}
        self.accept = accept
        self.dual_stack = dual_stack
        self.kube: FakeKube | None = None
        self.prober: Prober | None = None
        self.macs: dict[str, str] = {}
        self.run = self.lab.dir / "run"

    # Topology.

    def up(self) -> FailoverLab:
        lab = self.lab
        br = lab._add_ns("br")
        sh("ip", "-n", br, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", br, "link", "set", "br0", "up")
        ends = {n: (f"p{n[-1]}", host) for n, host in NODES.items()}
        ends |= {"client": ("pcl", CLIENT), "api": ("papi", API)}
        for role, (port, host) in ends.items():
            ns = lab._add_ns(role)
            sh("ip", "-n", br, "link", "add", port, "type", "veth", "peer", "name", LINK,
               "netns", ns)  # fmt: skip
            sh("ip", "-n", br, "link", "set", port, "master", "br0")
            sh("ip", "-n", br, "link", "set", port, "up")
            sh("ip", "-n", ns, "addr", "add", f"{SUBNET}.{host}/24", "dev", LINK)
            sh("ip", "-n", ns, "addr", "add", f"{SUBNET6}{host}/64", "dev", LINK, "nodad")
            sh("ip", "-n", ns, "link", "set", LINK, "up")
            self.macs[role] = lab.mac(role)
            if self.accept and role in NODES:
                accept_traffic(ns)
        self.run.mkdir(parents=True, exist_ok=True)
        return self

    def port(self, node: str) -> str:
        return f"p{node[-1]}"

    def node_of(self, mac: str | None) -> str | None:
        return next((n for n in NODES if self.macs.get(n) == mac), None)

    # The API server.

    def start_api(self) -> FakeKube:
        if self.kube is None:
            self.kube = FakeKube(host="0.0.0.0", port=API_PORT)  # (inside the api netns)
            for obj in seed_objects(self.dual_stack):
                created = self.kube.create(obj)
                if "status" in obj:  # a subresource: not taken on create
                    self.kube.update_status({**created, "status": obj["status"]})
        with netns(self.lab.ns("api")):
            self.kube.start()
        write_kubeconfig(self.run / "kubeconfig", f"http://{SUBNET}.{API}:{API_PORT}")
        return self.kube

    def api_link(self, up: bool) -> None:
        """Cut the API server off the bridge (its packets vanish: requests time out)."""
        sh("ip", "-n", self.lab.ns("br"), "link", "set", "papi", "up" if up else "down")

    # The nodes.

    def start_node(self, node: str) -> None:
        """Start what of `node` is not running: its services, then its node role."""
        folder = self.run / node
        folder.mkdir(exist_ok=True)
        lab = self.lab
        for service in ("bfd", "l2"):
            sock = folder / f"{service}.sock"
            name = f"{node}-{service}"
            if name in lab.procs:
                if not lab.procs[name].alive():
                    lab.start(lab.procs[name])
            else:
                lab.metallb(name, node, service, "--listen", f"unix:{sock}", "--grace", "0.2",
                            ready=sock)  # fmt: skip
        lab.wait_ready(f"{node}-bfd", f"{node}-l2")
        name = f"{node}-role"
        if name in lab.procs:
            if not lab.procs[name].alive():
                lab.start(lab.procs[name])
        else:
            liveness = ["--bfd", f"unix:{folder / 'bfd.sock'}"] if self.liveness == "bfd" else []
            if self.bfd_profile:
                liveness += ["--bfd-profile", self.bfd_profile]
            args = ("gateway", "node", "--node", node,
                    "--kubeconfig", str(self.run / "kubeconfig"), "--namespace", NAMESPACE,
                    "--l2", f"unix:{folder / 'l2.sock'}", *liveness,
                    "--liveness", self.liveness, "--listen", f"unix:{folder / 'role.sock'}",
                    *self.extra)  # fmt: skip
            if node in self.skews:
                lab.spawn(name, node, sys.executable, "-c", SKEWED, str(self.skews[node]), *args,
                          "--metrics-listen", "", ready=folder / "role.sock")  # fmt: skip
            else:
                lab.metallb(name, node, *args, ready=folder / "role.sock")
        lab.wait_ready(name)

    def processes(self, node: str) -> list[str]:
        return [f"{node}-role", f"{node}-l2", f"{node}-bfd"]

    def signal(self, node: str, sig: int) -> None:
        """Send `sig` to every process of `node` at once (their process groups)."""
        for name in self.processes(node):
            popen = self.lab.procs[name].popen
            if popen is not None and popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(popen.pid, sig)

    def kill(self, node: str) -> None:
        self.signal(node, signal.SIGKILL)
        for name in self.processes(node):
            popen = self.lab.procs[name].popen
            if popen is not None:
                popen.wait(10)

    def isolate(self, node: str, on: bool) -> None:
        """Take the node's IPv4 address away (and so its route): BFD and the API server, both
        over IPv4, are gone, while the client still hears its ARP and NDP answers (raw frames
        that need no IPv4 address)."""
        verb = "del" if on else "add"
        sh("ip", "-n", self.lab.ns(node), "addr", verb, f"{SUBNET}.{NODES[node]}/24", "dev", LINK)

    def exclude(self, node: str, on: bool) -> None:
        """Label the Node with node.kubernetes.io/exclude-from-external-load-balancers or not."""
        assert self.kube is not None
        obj = self.kube.get("nodes", node)
        labels = dict(obj["metadata"].get("labels") or {})
        if on:
            labels[EXCLUDE] = ""
        else:
            labels.pop(EXCLUDE, None)
        obj["metadata"]["labels"] = labels
        self.kube.update(obj)

    def advertise_except(self, node: str | None) -> None:
        """Select every node but `node` in the L2Advertisement's nodeSelectors (None: all)."""
        assert self.kube is not None
        obj = self.kube.get("l2advertisements.metallb.io", "l2", NAMESPACE)
        hostname = {"key": "kubernetes.io/hostname", "operator": "NotIn", "values": [node]}
        obj["spec"] = {"nodeSelectors": [{"matchExpressions": [hostname]}]} if node else {}
        self.kube.update(obj)

    def hand_off(self, kind: str, node: str) -> None:
        """A planned move away from `node`: its node role stopped with SIGTERM ("sigterm"), the
        exclusion label ("exclude"), or the L2Advertisement's selectors leaving it out."""
        if kind == "sigterm":
            popen = self.lab.procs[f"{node}-role"].popen
            assert popen is not None
            popen.send_signal(signal.SIGTERM)  # the node role only: a planned stop
            popen.wait(15)
        elif kind == "exclude":
            self.exclude(node, on=True)
        else:
            self.advertise_except(node)

    def take_back(self, kind: str, node: str) -> None:
        """Undo `hand_off(kind, node)`."""
        if kind == "sigterm":
            self.start_node(node)  # (its BFD and L2 services kept running)
        elif kind == "exclude":
            self.exclude(node, on=False)
        else:
            self.advertise_except(None)

    def link(self, node: str, up: bool) -> None:
        sh("ip", "-n", self.lab.ns("br"), "link", "set", self.port(node), "up" if up else "down")

    # The client.

    def start_prober(self) -> Prober:
        client = self.lab.ns("client")
        self.prober = Prober(client, self.macs["client"], echo=self.accept).start()
        return self.prober

    def answered_by_another(self, family: int, owner: str, kind: str = "nd") -> str | None:
        """The node other than `owner` answering the family's address in the last 50 ms
        (ARP/NDP, or `kind="echo"`: ICMP echo replies), if any."""
        assert self.prober is not None
        node = self.node_of(self.prober.owner(family, 0.05, kind=kind))
        return node if node is not None and node != owner else None

    def announced(self, node: str) -> list[str]:
        """The addresses `node`'s L2 service announces (its ListAnnouncements)."""
        import grpc

        from metallb.l2.v1 import l2_pb2, l2_pb2_grpc

        with grpc.insecure_channel(f"unix:{self.run / node / 'l2.sock'}") as channel:
            stub = l2_pb2_grpc.L2ServiceStub(channel)
            reply = stub.ListAnnouncements(l2_pb2.ListAnnouncementsRequest(), timeout=5)
        return sorted(a.ip for a in reply.announcements)

    def wait_owner(self, family: int, timeout: float = 30.0) -> str:
        """The node answering for the family's address, once one does steadily."""
        prober = self.prober
        assert prober is not None

        def steady() -> str | None:
            now = time.monotonic()
            owners = prober.owners(family, now - 0.5, now)
            if len(owners) == 1 and prober.longest_silence(family, now - 0.5, now) < 0.1:
                return self.node_of(owners[0])
            return None

        node: str = wait_for(f"an owner of the IPv{family} address", steady, timeout, 0.05)
        return node

    def settle(self, quiet: float = 2.0, timeout: float = 60.0) -> dict[int, str]:
        """Wait until each address has had one owner, answering every probe, for `quiet`
        seconds (start-up and a node's return move addresses, with a hand-off overlap); the
        owner of each family."""
        prober = self.prober
        assert prober is not None

        def steady() -> dict[int, str] | None:
            now = time.monotonic()
            out = {}
            for family in (4, 6):
                owners = prober.owners(family, now - quiet, now)
                if len(owners) != 1 or prober.longest_silence(family, now - quiet, now) > 0.1:
                    return None
                if prober.double_answers(family, now - quiet, now):
                    return None
                node = self.node_of(owners[0])
                if node is None:
                    return None
                out[family] = node
            return out

        owners: dict[int, str] = wait_for("one steady owner per address", steady, timeout, 0.1)
        return owners

    def wait_rejoined(self, timeout: float = 60.0, hold: float = 3.0) -> None:
        """Wait until every node's BFD sessions are Up, then for the rejoin hold and the
        hand-off (2 s + 1 s): a node back from a fault is then counted in by everyone."""
        import grpc

        from metallb.bfd.v1 import bfd_pb2, bfd_pb2_grpc

        def all_up() -> bool:
            for node in NODES:
                with grpc.insecure_channel(f"unix:{self.run / node / 'bfd.sock'}") as channel:
                    stub = bfd_pb2_grpc.BFDServiceStub(channel)
                    reply = stub.ListSessions(bfd_pb2.ListSessionsRequest(), timeout=5)
                states = [s.state.local_state for s in reply.sessions]
                if len(states) < len(NODES) - 1 or any(s != bfd_pb2.STATE_UP for s in states):
                    return False
            return True

        wait_for("every BFD session Up", all_up, timeout, 0.1)
        time.sleep(hold)  # real time: the peers' hold, then the hand-off

    def restart(self, node: str) -> None:
        """Start the processes of `node` again (after `kill`)."""
        self.start_node(node)

    def close(self) -> None:
        if self.prober is not None:
            self.prober.stop()
        with contextlib.suppress(Exception):
            for node in NODES:
                self.signal(node, signal.SIGCONT)
        self.lab.close()
        if self.kube is not None:
            self.kube.stop()


def accept_traffic(ns: str) -> None:
    """Make node namespace `ns` accept traffic for VIP4 and VIP6 as kube-proxy in IPVS mode does:
    the addresses on the dummy link kube-ipvs0; ARP for them answered by nobody but the L2
    service (arp_ignore=1: only for addresses of the link asked on; arp_announce=2: never one of
    them as the sender of our own requests); the IPv6 one without DAD, on the dummy only."""
    sh("ip", "netns", "exec", ns, "sysctl", "-qw",
       "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2",
       f"net.ipv4.conf.{LINK}.arp_ignore=1", f"net.ipv4.conf.{LINK}.arp_announce=2")  # fmt: skip
    try:
        sh("ip", "-n", ns, "link", "add", "kube-ipvs0", "type", "dummy")
    except RuntimeError:  # a kernel without the dummy driver (this lab's VM): a veth pair with
        # both ends here stands in, a link that no request arrives on (both names excluded)
        sh("ip", "-n", ns, "link", "add", "kube-ipvs0", "type", "veth", "peer", "name",
           "kube-ipvs0p")  # fmt: skip
        sh("ip", "-n", ns, "link", "set", "kube-ipvs0p", "up")
    sh("ip", "-n", ns, "addr", "add", f"{VIP4}/32", "dev", "kube-ipvs0")
    sh("ip", "-n", ns, "addr", "add", f"{VIP6}/128", "dev", "kube-ipvs0", "nodad")
    sh("ip", "-n", ns, "link", "set", "kube-ipvs0", "up")


@contextlib.contextmanager
def failover_lab(**options: Any) -> Iterator[FailoverLab]:
    lab = FailoverLab(**options)
    try:
        lab.up()
        lab.start_api()
        for node in NODES:
            lab.start_node(node)
        lab.start_prober()
        yield lab
    finally:
        lab.close()


def within(what: str, predicate: Callable[[], Any], timeout: float) -> Any:
    return wait_for(what, predicate, timeout, 0.02)


__all__ = ["API", "NODES", "VIP4", "VIP6", "FailoverLab", "Path", "Prober", "failover_lab"]
