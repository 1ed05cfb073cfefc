"""The chaos scenario driver, shared by tests/chaos (the bounded CI subset) and bench/chaos.py.

What runs (every process as `metallb-grpc` runs it, each restartable by SIGKILL):

```
 root namespace                          node1 namespace            router       client
 the fake API server (this process)      metallb-grpc bfd            BIRD 2       arping
 metallb-grpc ipam                       metallb-grpc bgp --bfd      (iBGP, GR,
 metallb-grpc gateway controller         metallb-grpc l2              BFD)
 metallb-grpc gateway node --node node1
```

The gateway roles talk to the fake API server through a kubeconfig and to the services over
unix sockets (a unix socket is reachable from every network namespace). The lab (namespaces,
bridge, BIRD, arping) is tests/e2e/lab.py's.

`Chaos.churn` creates, deletes and changes LoadBalancer Services straight in the fake's store
(their pool, sharing key and IP families), as users would through the API. A fault is one of
`FAULT_KINDS`: a SIGKILL and restart of one process, or an API fault (watches dropped, 410 Gone,
500 or 429 for a period, a stalled response, the API server gone for a period). After every
fault `Chaos.converge` waits, within `bound` seconds, until every invariant holds:

- no address is held by two Services that may not share it (same sharing key), in Service
  status and in IPAM's `ListAllocations`;
- every Service has the addresses its families ask for, from its pool; status and IPAM agree;
- node1's L2 service answers for exactly the addresses in status, BIRD's table holds exactly
  the IPv4 ones, and the client's arping gets node1's MAC for a sample of them;
- every process is SERVING, and the next change is handled (a new Service gets an address that
  BIRD learns).

For a SIGKILL of the BGP service (with no churn meanwhile) BIRD's table is sampled from the kill
until convergence: graceful restart must keep every route (no withdrawal).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import re
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from metallb.ipam.v1 import ipam_pb2, ipam_pb2_grpc
from metallb.l2.v1 import l2_pb2, l2_pb2_grpc
from tests.e2e.lab import LINK, ROUTER_IP, Bird, Lab, Proc
from tests.e2e.world import bird_conf
from tests.fakekube import FakeKube
from tests.fakekube.fake import write_kubeconfig

NODE = "node1"
NAMESPACE = "default"
ASN = 64512
POOLS = {
    "chaos-a": ("10.78.0.0/22", "fd00:78:a::/112"),
    "chaos-b": ("10.78.4.0/22", "fd00:78:b::/112"),
}
SHARING_KEYS = ("", "", "", "k1", "k2", "k3")  # most Services share with no one
POOL_ANNOTATION = "metallb.io/address-pool"
SHARE_ANNOTATION = "metallb.io/allow-shared-ip"
PROCESSES = ("ipam", "controller", "role", "bgp", "bfd", "l2")
API_FAULTS = ("drop-watches", "gone-410", "errors-500", "throttle-429", "stall", "away")
FAULT_KINDS = tuple(f"kill-{p}" for p in PROCESSES) + API_FAULTS


@dataclass
class Periods:
    """How long the API faults last (the issue's figures by default)."""

    errors: float = 10.0  # 500 / 429 for this long
    stall: float = 30.0  # one response per stalled request comes this late
    away: float = 60.0  # the API server is gone this long


@dataclass
class Outcome:
    """One fault's result: converged within the bound or not, how fast, what was wrong."""

    kinds: tuple[str, ...]
    passed: bool
    seconds: float  # from the fault's end to every invariant holding (or the bound)
    problems: list[str] = field(default_factory=list)


def service(index: int, pool: str, key: str, dual: bool) -> dict[str, Any]:
    v4 = f"10.96.{index // 250}.{index % 250 + 1}"
    annotations = {POOL_ANNOTATION: pool, **({SHARE_ANNOTATION: key} if key else {})}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"svc-{index}", "namespace": NAMESPACE, "annotations": annotations},
        "spec": {
            "type": "LoadBalancer",
            "clusterIP": v4,
            "clusterIPs": [v4, f"fd00:96::{index:x}"] if dual else [v4],
            "ipFamilies": ["IPv4", "IPv6"] if dual else ["IPv4"],
            "ipFamilyPolicy": "RequireDualStack" if dual else "SingleStack",
            "externalTrafficPolicy": "Cluster",
            "selector": {"app": f"svc-{index}"},
            # Distinct ports: Services with the same sharing key may always share.
            "ports": [{"port": 10000 + index, "protocol": "TCP"}],
        },
    }


def endpoint_slice(index: int) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"svc-{index}-1",
            "namespace": NAMESPACE,
            "labels": {"kubernetes.io/service-name": f"svc-{index}"},
        },
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["10.244.0.5"], "conditions": {"ready": True}, "nodeName": NODE}
        ],
        "ports": [{"port": 8080, "protocol": "TCP"}],
    }


def config_objects() -> list[dict[str, Any]]:
    meta = {"namespace": "metallb-system"}
    pools = [
        {
            "apiVersion": "metallb.io/v1beta1",
            "kind": "IPAddressPool",
            "metadata": {"name": name, **meta},
            "spec": {"addresses": list(ranges), "autoAssign": False},
        }
        for name, ranges in POOLS.items()
    ]
    return [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE}},
        },
        *pools,
        {
            "apiVersion": "metallb.io/v1beta1",
            "kind": "L2Advertisement",
            "metadata": {"name": "l2", **meta},
            "spec": {"ipAddressPools": list(POOLS), "interfaces": [LINK]},
        },
        {
            "apiVersion": "metallb.io/v1beta1",
            "kind": "BFDProfile",
            "metadata": {"name": "fast", **meta},
            "spec": {"receiveInterval": 100, "transmitInterval": 100, "detectMultiplier": 3},
        },
        {
            "apiVersion": "metallb.io/v1beta2",
            "kind": "BGPPeer",
            "metadata": {"name": "router", **meta},
            "spec": {
                "myASN": ASN,
                "peerASN": ASN,
                "peerAddress": ROUTER_IP,
                "holdTime": "9s",
                "connectTime": "2s",
                "enableGracefulRestart": True,
                "bfdProfile": "fast",
            },
        },
        {
            "apiVersion": "metallb.io/v1beta1",
            "kind": "BGPAdvertisement",
            "metadata": {"name": "bgp", **meta},
            "spec": {"ipAddressPools": list(POOLS)},
        },
    ]


def ingress(obj: dict[str, Any]) -> list[str]:
    found = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [str(i["ip"]) for i in found if isinstance(i, dict) and i.get("ip")]


def health(sock: Path) -> str:
    """The grpc.health.v1 status of the server on `sock` ("" server-wide), or why none."""
    try:
        with grpc.insecure_channel(f"unix:{sock}") as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=3
            )
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
    except grpc.RpcError as err:
        return f"unreachable ({err.code().name if isinstance(err, grpc.Call) else err})"


_PREFIX = re.compile(r"^(\d+\.\d+\.\d+\.\d+)/32\s")


class ChaosLab(Lab):
    """tests/e2e's lab, with a process lifetime as long as the run needs."""

    lifetime: int = 600

    def spawn(self, name: str, role: str | None, *args: str, ready: Path | None = None) -> Proc:
        argv = ["timeout", "-s", "KILL", str(self.lifetime), *args]
        if role is not None:
            argv = ["ip", "netns", "exec", self.ns(role), *argv]
        proc = Proc(name, argv, self.dir / f"{name}.log", ready)
        self.procs[name] = proc
        self.start(proc)
        return proc


class Chaos:
    def __init__(
        self, services: int, *, seed: int = 1, lifetime: int = 600, periods: Periods | None = None
    ) -> None:
        self.target = services
        self.random = random.Random(seed)
        self.periods = periods or Periods()
        self.lab = ChaosLab(prefix=f"mlbchaos-{os.getpid()}-")
        self.lab.lifetime = lifetime
        self.kube = FakeKube(history_limit=100_000)
        self.run = self.lab.dir / "run"
        self.sockets: dict[str, Path] = {}
        self.bird: Bird | None = None
        self.next_index = 0
        self.live: set[int] = set()
        self.churned = 0
        self.churn_seconds = 4.0  # at least, around each fault (a fault can be instantaneous)
        self._churn_lock = threading.Lock()

    # ---------------------------------------------------------------------------- the world

    def __enter__(self) -> Chaos:
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.lab.close()
        finally:
            self.kube.stop()

    def _build(self) -> None:
        lab = self.lab
        lab.up()
        self.kube.start()
        for obj in config_objects():
            self.kube.create(obj)
        kubeconfig = write_kubeconfig(lab.dir / "kubeconfig", self.kube.url)
        conf = lab.dir / "bird.conf"
        conf.write_text(bird_conf(lab.dir))
        bird_sock = lab.dir / "bird.ctl"
        lab.spawn("bird", "router", "bird", "-f", "-c", str(conf), "-s", str(bird_sock),
                  "-P", str(lab.dir / "bird.pid"), ready=bird_sock)  # fmt: skip
        self.bird = Bird(bird_sock)
        self.run.mkdir()
        s = self.sockets
        for name in PROCESSES:
            s[name] = self.run / f"{name}.sock"
        lab.metallb("ipam", None, "ipam", "--listen", f"unix:{s['ipam']}", "--grace", "0.5",
                    ready=s["ipam"])  # fmt: skip
        lab.metallb("bfd", NODE, "bfd", "--listen", f"unix:{s['bfd']}", "--grace", "0.5",
                    ready=s["bfd"])  # fmt: skip
        lab.metallb("bgp", NODE, "bgp", "--listen", f"unix:{s['bgp']}", "--grace", "0.5",
                    "--bfd", f"unix:{s['bfd']}", ready=s["bgp"])  # fmt: skip
        lab.metallb("l2", NODE, "l2", "--listen", f"unix:{s['l2']}", "--grace", "0.5",
                    ready=s["l2"])  # fmt: skip
        lab.wait_ready("bird", "ipam", "bfd", "bgp", "l2")
        lab.metallb("controller", None, "gateway", "controller", "--ipam", f"unix:{s['ipam']}",
                    "--kubeconfig", str(kubeconfig), "--pod-name", "controller-0",
                    "--listen", f"unix:{s['controller']}", ready=s["controller"])  # fmt: skip
        lab.metallb("role", None, "gateway", "node", "--node", NODE, "--kubeconfig",
                    str(kubeconfig), "--l2", f"unix:{s['l2']}", "--bgp", f"unix:{s['bgp']}",
                    "--listen", f"unix:{s['role']}", ready=s["role"])  # fmt: skip
        lab.wait_ready("controller", "role")
        for _ in range(self.target):
            self._create()

    # ---------------------------------------------------------------------------- churn

    def _create(self) -> None:
        index = self.next_index
        self.next_index += 1
        pool = self.random.choice(list(POOLS))
        key = self.random.choice(SHARING_KEYS)
        dual = self.random.random() < 0.2
        self.kube.create(service(index, pool, key, dual))
        self.kube.create(endpoint_slice(index))
        self.live.add(index)

    def _change(self, index: int, what: str) -> None:
        obj = self.kube.get("services", f"svc-{index}", NAMESPACE)
        annotations = obj["metadata"].setdefault("annotations", {})
        spec = obj["spec"]
        if what == "pool":
            others = [p for p in POOLS if p != annotations.get(POOL_ANNOTATION)]
            annotations[POOL_ANNOTATION] = self.random.choice(others)
        elif what == "sharing":
            key = self.random.choice(
                [k for k in SHARING_KEYS if k != annotations.get(SHARE_ANNOTATION, "")]
            )
            if key:
                annotations[SHARE_ANNOTATION] = key
            else:
                annotations.pop(SHARE_ANNOTATION, None)
        else:  # families
            dual = len(spec["ipFamilies"]) == 1
            fresh = service(index, annotations[POOL_ANNOTATION], "", dual)["spec"]
            for name in ("clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                spec[name] = fresh[name]
        self.kube.update(obj)

    def churn_once(self) -> None:
        """One user action: create, delete, or change a pool, a sharing key or the families
        (the number of Services stays about `target`)."""
        with self._churn_lock:
            action = self.random.choice(["create", "delete", "pool", "sharing", "families"])
            if action == "create" or not self.live:
                self._create()
            elif action == "delete":
                index = self.random.choice(sorted(self.live))
                self.live.discard(index)
                self.kube.delete("services", f"svc-{index}", NAMESPACE)
                self.kube.delete("endpointslices.discovery.k8s.io", f"svc-{index}-1", NAMESPACE)
            else:
                self._change(self.random.choice(sorted(self.live)), action)
            if len(self.live) < self.target and action == "delete":
                self._create()
            self.churned += 1

    @contextlib.contextmanager
    def churning(self, per_second: float = 20.0) -> Iterator[None]:
        """Churn in a thread for the duration of the block."""
        stop = threading.Event()

        def run() -> None:
            while not stop.wait(1.0 / per_second):
                self.churn_once()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=30)

    # ---------------------------------------------------------------------------- faults

    def inject(self, kinds: tuple[str, ...]) -> None:
        """Inject `kinds` together and return when they are over (processes restarted and
        listening, API periods ended)."""
        kills = [k.removeprefix("kill-") for k in kinds if k.startswith("kill-")]
        for name in kills:
            self.lab.stop(name, signal.SIGKILL)
        api = [k for k in kinds if not k.startswith("kill-")]
        ends: list[float] = [time.monotonic()]
        for kind in api:
            ends.append(self._api_fault(kind))
        for name in kills:
            self.lab.start(self.lab.procs[name])
        if kills:
            self.lab.wait_ready(*kills, timeout=60)
        while (left := max(ends) - time.monotonic()) > 0:
            time.sleep(min(left, 0.5))  # the API fault's period: time is what it is made of
        if "away" in api:
            self.kube.come_back()

    def _api_fault(self, kind: str) -> float:
        """Start API fault `kind`; when it ends (monotonic)."""
        now, kube, periods = time.monotonic(), self.kube, self.periods
        if kind == "drop-watches":
            kube.close_watches()
        elif kind == "gone-410":
            kube.compact()
            kube.close_watches()
        elif kind == "errors-500":
            kube.fail_for(500, periods.errors)
            return now + periods.errors
        elif kind == "throttle-429":
            kube.fail_for(429, periods.errors)
            return now + periods.errors
        elif kind == "stall":
            kube.stall(periods.stall, times=4)
            return now + periods.stall
        elif kind == "away":
            kube.go_away()
            return now + periods.away
        else:
            raise ValueError(kind)
        return now

    # ---------------------------------------------------------------------------- invariants

    def services(self) -> dict[str, dict[str, Any]]:
        return {o["metadata"]["name"]: o for o in self.kube.list("services", namespace=NAMESPACE)}

    def allocations(self) -> dict[str, list[str]]:
        with grpc.insecure_channel(f"unix:{self.sockets['ipam']}") as channel:
            listed = ipam_pb2_grpc.IPAMServiceStub(channel).ListAllocations(
                ipam_pb2.ListAllocationsRequest(), timeout=10
            )
        return {a.name: list(a.ips) for a in listed.allocations if a.namespace == NAMESPACE}

    def l2_answering(self) -> set[str]:
        """The addresses node1's L2 service answers for on the lab's link."""
        with grpc.insecure_channel(f"unix:{self.sockets['l2']}") as channel:
            listed = l2_pb2_grpc.L2ServiceStub(channel).ListAnnouncements(
                l2_pb2.ListAnnouncementsRequest(), timeout=10
            )
        return {a.ip for a in listed.announcements if LINK in a.answering_on}

    def bird_prefixes(self) -> set[str]:
        assert self.bird is not None
        text = self.bird.cmd("show", "route")
        return {m.group(1) for line in text.splitlines() if (m := _PREFIX.match(line))}

    def problems(self) -> list[str]:
        """Every invariant that does not hold now (empty: all hold)."""
        found: list[str] = []
        services = self.services()
        holders: dict[str, list[str]] = {}
        v4: set[str] = set()
        for name, obj in services.items():
            ips = ingress(obj)
            annotations = obj["metadata"].get("annotations") or {}
            pool = annotations.get(POOL_ANNOTATION, "")
            families = obj["spec"]["ipFamilies"]
            got = sorted(ipaddress.ip_address(ip).version for ip in ips)
            want = sorted(4 if f == "IPv4" else 6 for f in families)
            if got != want:
                found.append(f"{name}: families {families}, status {ips}")
            for ip in ips:
                networks = [ipaddress.ip_network(r) for r in POOLS.get(pool, ())]
                if not any(ipaddress.ip_address(ip) in n for n in networks):
                    found.append(f"{name}: {ip} is not from its pool {pool}")
                holders.setdefault(ip, []).append(name)
                if ipaddress.ip_address(ip).version == 4:
                    v4.add(ip)
        for ip, names in holders.items():
            keys = {
                (services[n]["metadata"].get("annotations") or {}).get(SHARE_ANNOTATION, "")
                for n in names
            }
            if len(names) > 1 and (len(keys) > 1 or "" in keys):
                found.append(f"{ip} held by {sorted(names)} that may not share it (keys {keys})")
        try:
            allocated = self.allocations()
        except grpc.RpcError as err:
            found.append(
                f"IPAM ListAllocations: {err.code().name if isinstance(err, grpc.Call) else err}"
            )
        else:
            status = {n: sorted(ingress(o)) for n, o in services.items() if ingress(o)}
            ipam = {n: sorted(ips) for n, ips in allocated.items()}
            for name in sorted(set(status) | set(ipam)):
                if status.get(name) != ipam.get(name):
                    found.append(f"{name}: status {status.get(name)} but IPAM {ipam.get(name)}")
        every = set(holders)
        try:
            answering = self.l2_answering()
        except grpc.RpcError as err:
            found.append(
                f"L2 ListAnnouncements: {err.code().name if isinstance(err, grpc.Call) else err}"
            )
        else:
            if answering != every:
                missing, extra = sorted(every - answering), sorted(answering - every)
                found.append(
                    f"L2: {len(missing)} missing {missing[:5]}, {len(extra)} extra {extra[:5]}"
                )
        routes = self.bird_prefixes()
        if routes != v4:
            missing, extra = sorted(v4 - routes), sorted(routes - v4)
            found.append(
                f"BIRD: {len(missing)} missing {missing[:5]}, {len(extra)} extra {extra[:5]}"
            )
        for name in PROCESSES:
            state = health(self.sockets[name])
            if state != "SERVING":
                found.append(f"{name}: {state}")
        return found

    def arping_sample(self, count: int = 3) -> list[str]:
        """The client's view: node1's MAC answers for a sample of the addresses in status."""
        mac = self.lab.mac(NODE)
        v4 = sorted({ip for o in self.services().values() for ip in ingress(o) if "." in ip})
        found = []
        for ip in self.random.sample(v4, min(count, len(v4))):
            answers = set(self.lab.arping(ip, count=1, deadline=3))
            if answers != {mac}:
                again = set(self.lab.arping(ip, count=2, deadline=4))  # one lost packet
                if again != {mac}:
                    found.append(f"arping {ip}: {sorted(again)}, not {mac}")
        return found

    def next_change_handled(self, bound: float) -> list[str]:
        """A new Service gets an address, which BIRD learns, within `bound` seconds."""
        with self._churn_lock:
            index = self.next_index
            self._create()
        name = f"svc-{index}"
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            obj = self.kube.find("services", name, NAMESPACE)
            ips = [ip for ip in ingress(obj or {}) if "." in ip]
            if ips and set(ips) <= self.bird_prefixes():
                return []
            time.sleep(0.2)  # other processes act: poll what they write
        return [f"{name} (a new Service) not handled in {bound:g} s"]

    def converge(self, bound: float) -> tuple[float, list[str]]:
        """Wait until every invariant holds; (seconds taken, what still failed at `bound`)."""
        start = time.monotonic()
        problems: list[str] = []
        while time.monotonic() - start < bound:
            problems = self.problems()
            if not problems:
                taken = time.monotonic() - start
                rest = bound - taken
                problems = self.next_change_handled(max(rest, 10.0)) + self.arping_sample()
                return taken, problems
            time.sleep(0.5)  # the processes converge on their own: poll what they show
        return bound, problems

    def fault(self, kinds: tuple[str, ...], bound: float, *, churn: bool = True) -> Outcome:
        """Inject `kinds` together (churning meanwhile unless a BGP kill must show that graceful
        restart withdraws nothing), then converge within `bound`."""
        watch_gr = kinds == ("kill-bgp",)
        watching: contextlib.AbstractContextManager[list[str]] = (
            self.withdrawals() if watch_gr else contextlib.nullcontext([])
        )
        with watching as withdrawn:
            session = self.bird_session() if watch_gr else ""
            if churn and not watch_gr:
                with self.churning():
                    started = time.monotonic()
                    self._churn_for(self.churn_seconds / 2)
                    self.inject(kinds)
                    self._churn_for(self.churn_seconds - (time.monotonic() - started))
            else:
                self.inject(kinds)
            start = time.monotonic()
            if watch_gr:
                withdrawn.extend(self.session_back(session, bound))
            waited = time.monotonic() - start
            taken, problems = self.converge(max(bound - waited, 10.0))
            taken += waited
        problems = withdrawn[:1] + problems
        return Outcome(kinds, not problems, taken, problems)

    @contextlib.contextmanager
    def withdrawals(self) -> Iterator[list[str]]:
        """For the block, BIRD's table is sampled every 0.2 s; a sample missing a route the
        table held when the block began is recorded in the list yielded."""
        before = self.bird_prefixes()
        seen: list[str] = []
        stop = threading.Event()

        def watch() -> None:
            while not stop.wait(0.2):
                gone = before - self.bird_prefixes()
                if gone:
                    seen.append(f"BIRD withdrew {len(gone)} route(s), e.g. {sorted(gone)[:3]}")

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        try:
            yield seen
        finally:
            stop.set()
            thread.join(timeout=10)

    def bird_session(self) -> str:
        assert self.bird is not None
        return self.bird.cmd("show", "protocols", NODE)

    def session_back(self, before: str, bound: float) -> list[str]:
        """Wait until BIRD's session to node1 is Established again (its state changed since
        `before`) and BIRD has handled the End-of-RIB that follows."""
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            now = self.bird_session()
            if "Established" in now and now != before:
                # BIRD flushes the routes still stale when End-of-RIB arrives, just after the
                # session is up: keep watching the table a little longer.
                time.sleep(2.0)
                return []
            time.sleep(0.2)  # BIRD and our BGP service reconnect on their own timers
        return [f"BIRD's session to {NODE} not back in {bound:g} s"]

    @staticmethod
    def _churn_for(seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)  # the churn thread works meanwhile: this is its duration

    def logs(self) -> str:
        return self.lab.logs()


def p99(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def require_tools() -> None:
    """The lab's prerequisites (root, ip, BIRD, arping): fail under CI=true, else skip."""
    from tests.conftest import require_binary, require_root

    require_root("network namespaces, raw sockets, port 179")
    for tool in ("ip", "bird", "birdc", "arping", "timeout"):
        require_binary(tool)
