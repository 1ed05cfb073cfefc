"""Network namespaces for the L2 tests and benchmark, and the L2 service running in one.

`Lab` builds a node namespace (where `metallb-grpc l2` runs) and a peer namespace (where
arping, ndisc6 and captures run) joined by veth pairs, each with accept_dad=0 and
keep_addr_on_down=1 (LAB.md). Everything is named `mlbl2-<unique>-...` and removed by `close`.
`netns(name)` switches the calling thread into a namespace, so a test can open raw sockets there.
"""

import contextlib
import ctypes
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc

from metallb.l2.v1 import l2_pb2_grpc

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@contextlib.contextmanager
def netns(name: str) -> Iterator[None]:
    """Run the block with the calling thread in namespace `name`; sockets opened there stay
    in it afterwards."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/var/run/netns/{name}", os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


def in_thread_netns(name: str, work: Callable[[], T]) -> T:
    """Run `work` in a fresh thread inside namespace `name` (for libraries that open sockets)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            with netns(name):
                box["value"] = work()
        except BaseException as err:
            box["error"] = err

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def sh(*args: str, check: bool = True, timeout: float = 20) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


@dataclass
class Lab:
    """A node and a peer namespace; `veth(node_if, peer_if)` joins them."""

    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    created: list[str] = field(default_factory=list)

    @property
    def node(self) -> str:
        return f"mlbl2-{self.tag}-node"

    @property
    def peer(self) -> str:
        return f"mlbl2-{self.tag}-peer"

    def open(self) -> "Lab":
        for ns in (self.node, self.peer):
            sh("ip", "netns", "add", ns)
            self.created.append(ns)
            for key in ("all", "default"):
                self.sysctl(ns, f"net.ipv6.conf.{key}.accept_dad", "0")
                self.sysctl(ns, f"net.ipv6.conf.{key}.keep_addr_on_down", "1")
            self.ip(ns, "link", "set", "lo", "up")
        return self

    def close(self) -> None:
        for ns in reversed(self.created):
            sh("ip", "netns", "del", ns, check=False)
        self.created.clear()

    def sysctl(self, ns: str, key: str, value: str) -> None:
        sh("ip", "netns", "exec", ns, "sysctl", "-qw", f"{key}={value}")

    def ip(self, ns: str, *args: str) -> str:
        return sh("ip", "-n", ns, *args)

    def veth(self, node_if: str, peer_if: str, *, up: bool = True) -> None:
        self.ip(
            self.node, "link", "add", node_if, "type", "veth", "peer", peer_if, "netns", self.peer
        )
        self.ip(self.peer, "link", "set", peer_if, "up")
        if up:
            self.ip(self.node, "link", "set", node_if, "up")

    def mac(self, ns: str, ifname: str) -> str:
        match = re.search(r"link/ether (\S+)", self.ip(ns, "link", "show", ifname))
        assert match, ifname
        return match.group(1)

    def ifindex(self, ns: str, ifname: str) -> int:
        return int(self.ip(ns, "link", "show", ifname).split(":", 1)[0])

    def run(self, ns: str, *cmd: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", ns, *cmd],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def popen(self, ns: str, *cmd: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            ["ip", "netns", "exec", ns, *cmd],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@dataclass
class L2Process:
    """`metallb-grpc l2` running in the node namespace, reached over a unix socket."""

    lab: Lab
    exe: str
    extra: tuple[str, ...] = ()
    proc: subprocess.Popen[str] | None = None
    socket_path: str = ""
    metrics: str = "127.0.0.1:9124"
    log: list[str] = field(default_factory=list)

    def start(self, timeout: float = 15) -> "L2Process":
        self.socket_path = f"/tmp/mlbl2-{self.lab.tag}-{uuid.uuid4().hex[:6]}.sock"
        self.proc = self.lab.popen(
            self.lab.node,
            self.exe,
            "l2",
            "--listen",
            f"unix:{self.socket_path}",
            "--metrics-listen",
            self.metrics,
            "--grace",
            "0.5",
            *self.extra,
        )
        assert self.proc.stderr is not None
        deadline = time.monotonic() + timeout
        for line in self.proc.stderr:
            self.log.append(line)
            if "metrics on" in line:
                break
            if time.monotonic() > deadline:
                break
        else:
            raise RuntimeError(f"l2 did not start ({self.proc.wait()}): {''.join(self.log)}")
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)

    @property
    def target(self) -> str:
        return f"unix:{self.socket_path}"

    def stub(self, channel: grpc.aio.Channel) -> l2_pb2_grpc.L2ServiceStub:
        return l2_pb2_grpc.L2ServiceStub(channel)

    def scrape(self) -> str:
        url = f"http://{self.metrics}/metrics"

        def fetch() -> str:
            body: bytes = urllib.request.urlopen(url, timeout=5).read()
            return body.decode()

        return in_thread_netns(self.lab.node, fetch)

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        return self.proc.returncode


def raw_socket(ifname: str) -> socket.socket:
    """A raw AF_PACKET socket on `ifname` seeing every frame (open it inside `netns`)."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    sock.bind((ifname, 0))
    return sock
