"""The end-to-end lab: nodes, a BIRD router and a client in network namespaces, one bridge.

```
             mlbe2e-<pid>-br (bridge br0)
   p1 |        p2 |         prt |         pcl |
 ens1 | node1   ens1 | node2  ens1 | router   ens1 | client
 .11              .12           .1 (BIRD)      .100          (10.77.240.0/24)
```

Every namespace is named `mlbe2e-<pid>-<role>`; each link end facing a namespace is `ens1` (a
name MetalLB's default exclude list does not match). IPv4 only, inside the namespaces only;
accept_dad=0 and keep_addr_on_down=1 everywhere (LAB.md). The load-balancer pool
10.77.240.200-10.77.240.220 is configured on no interface, so every ARP answer for it comes
from our L2 service.

Every process (our services, the gateway roles, BIRD) runs in its own session under
`timeout -s KILL LIFETIME` (bounded in time even if the test process dies) and is stopped by
its process group id; `close()` stops them all and deletes the namespaces, whatever happened.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SUBNET = "10.77.240"
ROUTER_IP = f"{SUBNET}.1"
CLIENT_IP = f"{SUBNET}.100"
NODE_IPS = {"node1": f"{SUBNET}.11", "node2": f"{SUBNET}.12"}
POOL_RANGE = f"{SUBNET}.200-{SUBNET}.220"
LINK = "ens1"
# Upper bound on any process's life: the whole module takes well under this.
LIFETIME = 300


def sh(*args: str, check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def wait_for(
    what: str, predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1
) -> Any:
    """Poll `predicate` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})"
            )
        time.sleep(interval)


@dataclass
class Proc:
    """One long-running process of the lab, restartable with the same command line."""

    name: str
    argv: list[str]
    log: Path
    ready: Path | None = None
    popen: subprocess.Popen[bytes] | None = None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Lab:
    prefix: str = field(default_factory=lambda: f"mlbe2e-{os.getpid()}-")
    dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mlbe2e-")))
    namespaces: list[str] = field(default_factory=list)
    procs: dict[str, Proc] = field(default_factory=dict)
    lifetime: int = LIFETIME  # seconds before `timeout` kills a process it started

    def ns(self, role: str) -> str:
        return self.prefix + role

    # ---- topology ----------------------------------------------------------------------------

    def up(self) -> None:
        br = self._add_ns("br")
        sh("ip", "-n", br, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", br, "link", "set", "br0", "up")
        ends = {
            "node1": ("p1", NODE_IPS["node1"]),
            "node2": ("p2", NODE_IPS["node2"]),
            "router": ("prt", ROUTER_IP),
            "client": ("pcl", CLIENT_IP),
        }
        for role, (port, ip) in ends.items():
            ns = self._add_ns(role)
            sh("ip", "-n", br, "link", "add", port, "type", "veth", "peer", "name", LINK,
               "netns", ns)  # fmt: skip
            sh("ip", "-n", br, "link", "set", port, "master", "br0")
            sh("ip", "-n", br, "link", "set", port, "up")
            sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", LINK)
            sh("ip", "-n", ns, "link", "set", LINK, "up")

    def _add_ns(self, role: str) -> str:
        name = self.ns(role)
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        sh("ip", "netns", "exec", name, "sysctl", "-qw",
           "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
           "net.ipv6.conf.all.keep_addr_on_down=1",
           "net.ipv6.conf.default.keep_addr_on_down=1")  # fmt: skip
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def mac(self, role: str) -> str:
        links = json.loads(sh("ip", "-n", self.ns(role), "-j", "link", "show", LINK).stdout)
        return str(links[0]["address"]).lower()

    # ---- processes ---------------------------------------------------------------------------

    def spawn(self, name: str, role: str | None, *args: str, ready: Path | None = None) -> Proc:
        """Start (or define and start) process `name`, in namespace `role` or the root one."""
        argv = ["timeout", "-s", "KILL", str(self.lifetime), *args]
        if role is not None:
            argv = ["ip", "netns", "exec", self.ns(role), *argv]
        proc = Proc(name, argv, self.dir / f"{name}.log", ready)
        self.procs[name] = proc
        self.start(proc)
        return proc

    def metallb(self, name: str, role: str | None, *args: str, ready: Path) -> Proc:
        return self.spawn(
            name, role, sys.executable, "-m", "metallb_cli", *args,
            "--metrics-listen", "", "--log-level", "info", ready=ready,
        )  # fmt: skip

    def start(self, proc: Proc) -> None:
        assert not proc.alive(), f"{proc.name} is already running"
        if proc.ready is not None:
            with contextlib.suppress(FileNotFoundError):
                proc.ready.unlink()
        env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'protos'}"}
        with proc.log.open("ab") as out:
            out.write(f"---- start {time.strftime('%H:%M:%S')}: {' '.join(proc.argv)}\n".encode())
            out.flush()
            proc.popen = subprocess.Popen(
                proc.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=ROOT,
                env=env,
            )

    def wait_ready(self, *names: str, timeout: float = 30.0) -> None:
        def ready() -> bool:
            for name in names:
                proc = self.procs[name]
                if not proc.alive():
                    raise AssertionError(f"{name} exited early:\n{proc.log_tail()}")
                if proc.ready is not None and not proc.ready.exists():
                    return False
            return True

        wait_for(f"{', '.join(names)} to listen", ready, timeout, 0.05)

    def stop(self, name: str, sig: int = signal.SIGTERM, wait: float = 5.0) -> None:
        """Signal the process group of `name`: its `timeout` wrapper (the group leader, which
        forwards SIGTERM and waits for the process) and the process itself."""
        proc = self.procs[name]
        popen = proc.popen
        if popen is None or popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, sig)
        try:
            popen.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGKILL)
            popen.wait(timeout=10)

    def restart(self, name: str, sig: int = signal.SIGKILL) -> None:
        self.stop(name, sig)
        self.start(self.procs[name])
        self.wait_ready(name)

    def close(self) -> None:
        for name in reversed(list(self.procs)):
            with contextlib.suppress(Exception):
                self.stop(name, signal.SIGTERM, wait=3.0)
        for ns in reversed(self.namespaces):
            sh("ip", "netns", "del", ns, check=False)
        self.namespaces.clear()
        shutil.rmtree(self.dir, ignore_errors=True)

    def logs(self, *names: str) -> str:
        chosen = names or tuple(self.procs)
        return "\n".join(f"== {n}\n{self.procs[n].log_tail()}" for n in chosen)

    # ---- the client's view -------------------------------------------------------------------

    def arping(self, ip: str, count: int = 3, deadline: int = 4) -> list[str]:
        """MACs of the ARP replies the client got for `ip` (one entry per reply)."""
        done = sh(
            "ip", "netns", "exec", self.ns("client"), "arping", "-c", str(count),
            "-w", str(deadline), "-I", LINK, ip, check=False, timeout=deadline + 10,
        )  # fmt: skip
        return [
            m.lower() for m in re.findall(r"reply from \S+ \[([0-9A-Fa-f:]{17})\]", done.stdout)
        ]


# ---- BIRD ------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Route:
    """One route of BIRD's table, as `show route all` prints it."""

    prefix: str
    protocol: str
    next_hop: str
    communities: tuple[str, ...]
    large_communities: tuple[str, ...]
    local_pref: int | None


class Bird:
    def __init__(self, sock: Path) -> None:
        self.sock = sock

    def cmd(self, *args: str) -> str:
        return sh("birdc", "-s", str(self.sock), *args, check=False, timeout=10).stdout

    def established(self, protocol: str) -> bool:
        return "Established" in self.cmd("show", "protocols", protocol)

    def routes(self) -> set[Route]:
        """Every route in the table (BIRD prints alternatives under their prefix)."""
        return parse_routes(self.cmd("show", "route", "all"))


_ROUTE_HEAD = re.compile(r"^(\S+)?\s+\S+\s+\[(\S+) [^\]]*\]")


def parse_routes(text: str) -> set[Route]:
    routes: set[Route] = set()
    prefix = ""
    current: dict[str, Any] | None = None

    def flush() -> None:
        if current is not None:
            routes.add(
                Route(
                    current["prefix"],
                    current["protocol"],
                    current.get("next_hop", ""),
                    tuple(sorted(current.get("communities", ()))),
                    tuple(sorted(current.get("large", ()))),
                    current.get("local_pref"),
                )
            )

    for line in text.splitlines():
        if not line.strip() or line.startswith(("BIRD ", "Table ")):
            continue
        head = _ROUTE_HEAD.match(line)
        if head and not line.startswith("\t"):
            flush()
            prefix = head.group(1) or prefix
            current = {"prefix": prefix, "protocol": head.group(2)}
            continue
        if current is None:
            continue
        body = line.strip()
        if body.startswith("BGP.next_hop:"):
            current["next_hop"] = body.split(":", 1)[1].strip()
        elif body.startswith("BGP.local_pref:"):
            current["local_pref"] = int(body.split(":", 1)[1])
        elif body.startswith("BGP.community:"):
            current["communities"] = re.findall(r"\((\d+),(\d+)\)", body)
            current["communities"] = [f"{a}:{b}" for a, b in current["communities"]]
        elif body.startswith("BGP.large_community:"):
            found = re.findall(r"\((\d+), (\d+), (\d+)\)", body)
            current["large"] = [f"large:{a}:{b}:{c}" for a, b, c in found]
    flush()
    return routes
