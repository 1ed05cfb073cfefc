"""A throwaway BFD lab in network namespaces: our service, FRR's bfdd and BIRD (LAB.md recipes).

Used by the interop tests and by `bench/bfd.py`. Every namespace is named `mlbbfd-<suffix>`;
`Lab` records what it creates and `close()` kills every process and deletes every namespace,
whatever happened before. Only 10.77.0.0/16 and fd77::/16 addresses inside these namespaces are
used. Our service runs as `metallb-grpc bfd` inside a namespace and is reached over a unix socket
in a temporary directory (unix sockets do not belong to a network namespace).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration

from metallb.bfd.v1 import bfd_pb2, bfd_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent.parent
FRR_DIR = Path("/usr/lib/frr")


def run(*cmd: str, check: bool = True, timeout: float = 20) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def wait_for(what: str, predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")


@dataclass
class Lab:
    """Namespaces, links and processes, all removed by `close()`."""

    suffix: str = field(default_factory=lambda: secrets.token_hex(3))
    namespaces: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    pidfiles: list[Path] = field(default_factory=list)
    dirs: list[Path] = field(default_factory=list)

    def ns(self, role: str) -> str:
        name = f"mlbbfd-{role}-{self.suffix}"
        run("ip", "netns", "add", name)
        self.namespaces.append(name)
        self.exec(name, "ip", "link", "set", "lo", "up")
        for key in ("all", "default"):
            self.exec(name, "sysctl", "-qw", f"net.ipv6.conf.{key}.accept_dad=0")
            self.exec(name, "sysctl", "-qw", f"net.ipv6.conf.{key}.keep_addr_on_down=1")
        return name

    def exec(self, ns: str, *cmd: str, check: bool = True) -> str:
        return run("ip", "netns", "exec", ns, *cmd, check=check)

    def link(self, ns_a: str, if_a: str, ns_b: str, if_b: str) -> None:
        tmp_a, tmp_b = f"mb{secrets.token_hex(4)}", f"mb{secrets.token_hex(4)}"
        run("ip", "link", "add", tmp_a, "type", "veth", "peer", "name", tmp_b)
        run("ip", "link", "set", tmp_a, "netns", ns_a, "name", if_a)
        run("ip", "link", "set", tmp_b, "netns", ns_b, "name", if_b)
        self.exec(ns_a, "ip", "link", "set", if_a, "up")
        self.exec(ns_b, "ip", "link", "set", if_b, "up")

    def addr(self, ns: str, ifname: str, *cidrs: str) -> None:
        """Add addresses in one `ip -batch` run (hundreds take a few milliseconds)."""
        path = self.tmpdir() / "addrs"
        path.write_text("".join(f"addr add {c} dev {ifname} nodad\n" for c in cidrs))
        run("ip", "-n", ns, "-batch", str(path))

    def tmpdir(self) -> Path:
        path = Path(tempfile.mkdtemp(prefix="mlbbfd-"))
        os.chmod(path, 0o755)
        self.dirs.append(path)
        return path

    def spawn(self, ns: str, *cmd: str, **kw: Any) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], **kw)
        self.processes.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
        for proc in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        for pidfile in self.pidfiles:
            pid = read_pid(pidfile)
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
                    os.kill(pid, signal.SIGKILL)
        for ns in self.namespaces:
            # Anything still running in the namespace (a daemon whose pidfile we missed).
            for text in run("ip", "netns", "pids", ns, check=False).split():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(text), signal.SIGKILL)
            run("ip", "netns", "del", ns, check=False)
        for path in self.dirs:
            shutil.rmtree(path, ignore_errors=True)


def read_pid(path: Path) -> int:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


# ---------------------------------------------------------------------------------- FRR


@dataclass
class Frr:
    lab: Lab
    ns: str
    dir: Path

    @classmethod
    def start(cls, lab: Lab, ns: str, bfd_config: str) -> Frr:
        """zebra then bfdd as user frr (root is refused), with `bfd_config` as bfdd.conf."""
        path = lab.tmpdir()
        (path / "zebra.conf").write_text("hostname zebra\n")
        (path / "bfdd.conf").write_text(bfd_config)
        shutil.chown(path, "frr", "frr")
        for item in path.iterdir():
            shutil.chown(item, "frr", "frr")
        common = ["-d", "-u", "frr", "-g", "frr", "-P", "0", "-z", f"{path}/zserv.api"]
        common += ["--vty_socket", str(path)]
        lab.pidfiles += [path / "zebra.pid", path / "bfdd.pid"]
        lab.exec(
            ns,
            str(FRR_DIR / "zebra"),
            *common,
            "-f",
            f"{path}/zebra.conf",
            "-i",
            f"{path}/zebra.pid",
        )
        wait_for("zebra", (path / "zserv.api").exists, 10)
        lab.exec(
            ns,
            str(FRR_DIR / "bfdd"),
            *common,
            "-f",
            f"{path}/bfdd.conf",
            "-i",
            f"{path}/bfdd.pid",
            "--bfdctl",
            f"{path}/bfdd.sock",
        )
        frr = cls(lab, ns, path)
        wait_for("bfdd", lambda: frr.bfdd_pid() != 0 and (path / "bfdd.vty").exists(), 10)
        return frr

    def bfdd_pid(self) -> int:
        return read_pid(self.dir / "bfdd.pid")

    def vtysh(self, *commands: str) -> str:
        args = ["vtysh", "--vty_socket", str(self.dir)]
        for command in commands:
            args += ["-c", command]
        return run(*args)

    def configure(self, *lines: str) -> None:
        self.vtysh("configure terminal", "bfd", *lines)

    def peers(self) -> list[dict[str, Any]]:
        import json

        data: list[dict[str, Any]] = json.loads(self.vtysh("show bfd peers json") or "[]")
        return data

    def peer(self, address: str, local: str) -> dict[str, Any] | None:
        for peer in self.peers():
            if peer.get("peer") == address and peer.get("local") == local:
                return peer
        return None


FRR_PROFILE = """ profile {name}
  detect-multiplier {mult}
  receive-interval {rx}
  transmit-interval {tx}
{extra} !
"""


def frr_profile(name: str, rx: int, tx: int, mult: int = 3, extra: str = "") -> str:
    return FRR_PROFILE.format(name=name, rx=rx, tx=tx, mult=mult, extra=extra)


# ---------------------------------------------------------------------------------- BIRD


@dataclass
class Bird:
    lab: Lab
    ns: str
    dir: Path

    @classmethod
    def start(cls, lab: Lab, ns: str, config: str) -> Bird:
        path = lab.tmpdir()
        (path / "bird.conf").write_text(config)
        lab.pidfiles.append(path / "bird.pid")
        lab.exec(
            ns,
            "bird",
            "-c",
            f"{path}/bird.conf",
            "-s",
            f"{path}/bird.ctl",
            "-P",
            f"{path}/bird.pid",
        )
        bird = cls(lab, ns, path)
        wait_for("bird", lambda: bird.pid() != 0 and (path / "bird.ctl").exists(), 10)
        return bird

    def pid(self) -> int:
        return read_pid(self.dir / "bird.pid")

    def birdc(self, *args: str) -> str:
        return run("birdc", "-s", f"{self.dir}/bird.ctl", *args)

    def reconfigure(self, config: str) -> None:
        (self.dir / "bird.conf").write_text(config)
        self.birdc("configure")


# ---------------------------------------------------------------------------------- ours


def ms(milliseconds: int) -> Duration:
    """A profile interval (google.protobuf.Duration) of whole milliseconds."""
    duration = Duration()
    duration.FromMilliseconds(milliseconds)
    return duration


@dataclass
class Watch:
    """WatchSessions consumed on a thread; every event kept with its arrival time."""

    events: list[tuple[float, bfd_pb2.SessionEvent]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    call: Any = None
    thread: threading.Thread | None = None
    subscribed: threading.Event = field(default_factory=threading.Event)  # snapshot received

    def run(self, call: Any) -> None:
        self.call = call
        try:
            for response in call:
                at = time.monotonic()
                with self.lock:
                    self.events.extend((at, event) for event in response.events)
                if response.HasField("end_of_snapshot"):
                    self.subscribed.set()
        except grpc.RpcError:
            return

    def since(self, t: float) -> list[tuple[float, bfd_pb2.SessionEvent]]:
        with self.lock:
            return [(at, e) for at, e in self.events if at >= t]

    def first_state(
        self, t: float, peer: str, state: bfd_pb2.State
    ) -> tuple[float, bfd_pb2.SessionEvent] | None:
        for at, event in self.since(t):
            if (
                event.type == bfd_pb2.SESSION_EVENT_TYPE_STATE_CHANGED
                and event.session.conf.peer_address == peer
                and event.transition.to == state
            ):
                return at, event
        return None

    def stop(self) -> None:
        if self.call is not None:
            self.call.cancel()
        if self.thread is not None:
            self.thread.join(timeout=5)


@dataclass
class Ours:
    """`metallb-grpc bfd` running inside a namespace, and a client for it."""

    lab: Lab
    ns: str
    proc: subprocess.Popen[bytes]
    channel: grpc.Channel
    stub: bfd_pb2_grpc.BFDServiceStub

    @classmethod
    def start(cls, lab: Lab, ns: str) -> Ours:
        path = lab.tmpdir()
        sock = path / "bfd.sock"
        env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'protos'}"}
        proc = lab.spawn(
            ns,
            sys.executable,
            "-m",
            "metallb_cli",
            "bfd",
            "--listen",
            f"unix:{sock}",
            "--metrics-listen",
            "",
            "--log-level",
            "warning",
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        channel = grpc.insecure_channel(f"unix:{sock}")
        wait_for("our BFD service", lambda: sock.exists() or proc.poll() is not None, 20)
        if proc.poll() is not None:
            raise RuntimeError(f"metallb-grpc bfd exited with {proc.returncode}")
        grpc.channel_ready_future(channel).result(timeout=10)
        return cls(lab, ns, proc, channel, bfd_pb2_grpc.BFDServiceStub(channel))

    def add(
        self, peer: str, local: str = "", interface: str = "", **profile: Any
    ) -> bfd_pb2.Session:
        multihop = profile.pop("multihop", False)
        conf = bfd_pb2.SessionConf(
            peer_address=peer,
            local_address=local,
            interface=interface,
            hop_mode=bfd_pb2.HOP_MODE_MULTIHOP if multihop else bfd_pb2.HOP_MODE_SINGLE_HOP,
            profile=bfd_pb2.Profile(name="test", **profile),
        )
        response: bfd_pb2.AddSessionResponse = self.stub.AddSession(
            bfd_pb2.AddSessionRequest(session=conf), timeout=10
        )
        return response.session

    def get(self, peer: str, interface: str = "") -> bfd_pb2.Session:
        response: bfd_pb2.GetSessionResponse = self.stub.GetSession(
            bfd_pb2.GetSessionRequest(
                key=bfd_pb2.SessionKey(peer_address=peer, interface=interface)
            ),
            timeout=10,
        )
        return response.session

    def state(self, peer: str, interface: str = "") -> bfd_pb2.State:
        return self.get(peer, interface).state.local_state

    def watch(self) -> Watch:
        watch = Watch()
        call = self.stub.WatchSessions(bfd_pb2.WatchSessionsRequest())
        watch.thread = threading.Thread(target=watch.run, args=(call,), daemon=True)
        watch.thread.start()
        wait_for("end of snapshot", watch.subscribed.is_set, 10)
        return watch

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid())

    def pid(self) -> int:
        """The Python process (ip netns exec execs it, so it keeps the Popen's pid)."""
        return self.proc.pid

    def close(self) -> None:
        self.channel.close()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def lab() -> Iterator[Lab]:
    the_lab = Lab()
    try:
        yield the_lab
    finally:
        the_lab.close()


def require_lab() -> None:
    """Root and the peers' binaries; under CI a missing one fails the test instead of skipping."""
    from tests.conftest import require_binary, require_root

    for name in ("ip", "bird", "birdc", "vtysh", str(FRR_DIR / "bfdd"), str(FRR_DIR / "zebra")):
        require_binary(name)
    require_root("network namespaces")
