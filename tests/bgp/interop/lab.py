"""Network namespaces, daemons and our speaker for the interop tests (and the benchmark).

A `Lab` is two namespaces joined by a veth pair: the peer side (BIRD, FRR, GoBGP...) holds
10.77.N.1/24 and fd77:N::1/64, the speaker side 10.77.N.2 and fd77:N::2. Names start with
`mlbbgp-` and a suffix unique to the run; `close()` kills every process it started and deletes
the namespaces, whatever happened. Our speaker runs as `metallb-grpc bgp` inside the speaker
namespace, reached over a unix socket (which crosses namespaces), so a test can SIGKILL it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc

from metallb.bgp.v1 import bgp_pb2, bgp_pb2_grpc

ROOT = Path(__file__).resolve().parents[3]
_counter = itertools.count(1)


def run(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def require_root() -> None:
    """Namespaces, TCP MD5 and SO_BINDTODEVICE need root; under CI its absence fails."""
    from tests.conftest import require_root as shared_require_root

    shared_require_root("network namespaces, socket options")


def wait_for(
    what: str, predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1
) -> Any:
    """Poll `predicate` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def hold_timer_expires_while_frozen(speaker: Speaker, peer: str, pid: int) -> None:
    """Freeze the peer's daemon (SIGSTOP) under a 3 s hold time: our hold timer must expire in
    2–5 s and we must send a NOTIFICATION Hold Timer Expired (code 4); the daemon is thawed
    (SIGCONT) whatever happens."""
    os.kill(pid, signal.SIGSTOP)
    try:
        start = time.monotonic()

        def expired() -> bool:
            error = speaker.peer(peer).state.last_error
            return error.reason == bgp_pb2.STATE_REASON_HOLD_TIMER_EXPIRED

        wait_for("our hold timer to expire", expired, timeout=8)
        elapsed = time.monotonic() - start
        error = speaker.peer(peer).state.last_error
        assert (error.notification.code, error.notification.sent) == (4, True)
        assert 2.0 <= elapsed <= 5.0
    finally:
        os.kill(pid, signal.SIGCONT)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Lab:
    def __init__(self, tag: str = "t") -> None:
        n = next(_counter)
        self.index = (os.getpid() + n) % 200 + 20
        suffix = f"{os.getpid() % 100000}{tag}{n}"
        self.peer_ns = f"mlbbgp-{suffix}p"
        self.spk_ns = f"mlbbgp-{suffix}s"
        self.dir = Path(tempfile.mkdtemp(prefix=f"mlbbgp-{suffix}-"))
        self.dir.chmod(0o755)  # FRR's daemons run as user frr
        self.peer4 = f"10.77.{self.index}.1"
        self.spk4 = f"10.77.{self.index}.2"
        self.peer6 = f"fd77:{self.index}::1"
        self.spk6 = f"fd77:{self.index}::2"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.pidfiles: list[Path] = []
        self._up()

    def _up(self) -> None:
        vp, vs = f"mlbp{self.index}x{os.getpid() % 1000}", f"mlbs{self.index}x{os.getpid() % 1000}"
        try:
            run("ip", "netns", "add", self.peer_ns)
            run("ip", "netns", "add", self.spk_ns)
            run("ip", "link", "add", vp, "netns", self.peer_ns, "type", "veth", "peer", "name",
                vs, "netns", self.spk_ns)  # fmt: skip
            for ns, dev, v4, v6 in (
                (self.peer_ns, vp, self.peer4, self.peer6),
                (self.spk_ns, vs, self.spk4, self.spk6),
            ):
                sysctls = [
                    "net.ipv6.conf.all.accept_dad=0",
                    "net.ipv6.conf.default.accept_dad=0",
                    f"net.ipv6.conf.{dev}.accept_dad=0",
                    "net.ipv6.conf.all.keep_addr_on_down=1",
                ]
                run("ip", "netns", "exec", ns, "sysctl", "-qw", *sysctls)
                run("ip", "-n", ns, "addr", "add", f"{v4}/24", "dev", dev)
                run("ip", "-n", ns, "addr", "add", f"{v6}/64", "dev", dev, "nodad")
                run("ip", "-n", ns, "link", "set", "lo", "up")
                run("ip", "-n", ns, "link", "set", dev, "up")
        except BaseException:
            self.close()
            raise
        self.peer_dev, self.spk_dev = vp, vs

    # ---- processes -------------------------------------------------------------------------

    def spawn(self, ns: str, *args: str, log: str = "", **kw: Any) -> subprocess.Popen[bytes]:
        out = open(self.dir / log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **kw,
        )
        self.procs.append(proc)
        return proc

    def kill(self, pid: int, sig: int = signal.SIGTERM, wait: float = 5.0) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        for pidfile in self.pidfiles:
            with contextlib.suppress(OSError, ValueError):
                self.kill(int(pidfile.read_text().split()[0]))
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGCONT)
                self.kill(proc.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        for ns in (self.peer_ns, self.spk_ns):
            run("ip", "netns", "del", ns, check=False)
        if not os.environ.get("MLB_KEEP_LAB"):  # set it to keep the daemons' logs and configs
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- BIRD ------------------------------------------------------------------------------

    def bird(self, body: str) -> Bird:
        conf = self.dir / "bird.conf"
        conf.write_text(
            f'log "{self.dir}/bird.log" all;\n'
            f"router id {self.peer4};\n"
            "debug protocols { states, events };\n"
            "protocol device { scan time 10; }\n" + body
        )
        sock, pid = self.dir / "bird.ctl", self.dir / "bird.pid"
        run("ip", "netns", "exec", self.peer_ns, "bird", "-c", str(conf), "-s", str(sock),
            "-P", str(pid))  # fmt: skip
        self.pidfiles.append(pid)
        wait_for("BIRD's control socket", sock.exists, 10)
        return Bird(sock, pid, self.dir / "bird.log")

    # ---- our speaker -----------------------------------------------------------------------

    def _service(self, command: str, name: str, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
        """`metallb-grpc COMMAND` in the speaker namespace, its gRPC API on a unix socket."""
        sock = self.dir / f"{name}.sock"
        with contextlib.suppress(FileNotFoundError):
            sock.unlink()
        env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'protos'}"}
        proc = self.spawn(
            self.spk_ns,
            sys.executable, "-m", "metallb_cli", command, "--listen", f"unix:{sock}",
            "--metrics-listen", "", "--log-level", "info", *args,
            log=f"{name}.log", cwd=ROOT, env=env,
        )  # fmt: skip
        wait_for(f"{command}'s gRPC socket", lambda: sock.exists() or proc.poll() is not None)
        assert proc.poll() is None, (self.dir / f"{name}.log").read_text()
        return proc, sock

    def speaker(self, name: str = "speaker", *, bfd: Path | None = None) -> Speaker:
        """Our BGP service; `bfd` is the unix socket of a BFD service (see `bfd_service`)."""
        args = ("--bfd", f"unix:{bfd}") if bfd is not None else ()
        return Speaker(*self._service("bgp", name, *args))

    def bfd_service(self, name: str = "bfd") -> tuple[subprocess.Popen[bytes], Path]:
        """Our BFD service beside the speaker (UDP 3784/4784 in the speaker namespace)."""
        return self._service("bfd", name)


class Bird:
    def __init__(self, sock: Path, pidfile: Path, log: Path) -> None:
        self.sock, self.pidfile, self.log = sock, pidfile, log

    @property
    def pid(self) -> int:
        return int(self.pidfile.read_text().split()[0])

    def cmd(self, *args: str) -> str:
        return run("birdc", "-s", str(self.sock), *args, check=False).stdout

    def established(self, protocol: str) -> bool:
        return "Established" in self.cmd("show", "protocols", protocol)

    def count(self, protocol: str) -> int:
        out = self.cmd("show", "route", "protocol", protocol, "count")
        for line in out.splitlines():
            words = line.split()
            if len(words) > 3 and words[1] == "of" and words[3] == "routes":
                return int(words[0])
        return -1

    def route(self, prefix: str) -> str:
        return self.cmd("show", "route", "all", "for", prefix)


class Speaker:
    def __init__(self, proc: subprocess.Popen[bytes], sock: Path) -> None:
        self.proc = proc
        self.channel = grpc.insecure_channel(f"unix:{sock}")
        self.stub = bgp_pb2_grpc.BGPServiceStub(self.channel)

    def peer(self, name: str) -> bgp_pb2.Peer:
        response: bgp_pb2.GetPeerResponse = self.stub.GetPeer(
            bgp_pb2.GetPeerRequest(name=name), timeout=5
        )
        return response.peer

    def established(self, name: str) -> bool:
        return self.peer(name).state.session_state == bgp_pb2.SESSION_STATE_ESTABLISHED

    def close(self) -> None:
        self.channel.close()


@contextlib.contextmanager
def lab(tag: str = "t") -> Iterator[Lab]:
    the_lab = Lab(tag)
    try:
        yield the_lab
    finally:
        the_lab.close()


FRR = Path("/usr/lib/frr")


class Frr:
    def __init__(self, lab: Lab, bgpd_conf: str, bfdd_conf: str | None = None) -> None:
        """zebra and bgpd; and bfdd when `bfdd_conf` is given (bgpd's `neighbor X bfd`)."""
        self.dir = lab.dir / "frr"
        self.dir.mkdir()
        (self.dir / "zebra.conf").write_text(f"hostname peer\nlog file {self.dir}/zebra.log\n")
        (self.dir / "bgpd.conf").write_text(
            f"frr defaults traditional\nhostname peer\nlog file {self.dir}/bgpd.log\n!\n"
            + bgpd_conf
        )
        daemons = ["zebra", "bgpd"]
        if bfdd_conf is not None:
            (self.dir / "bfdd.conf").write_text(
                f"hostname peer\nlog file {self.dir}/bfdd.log\n!\n" + bfdd_conf
            )
            daemons.insert(1, "bfdd")
        run("chown", "-R", "frr:frr", str(self.dir))
        common = ["-d", "-u", "frr", "-g", "frr", "-P", "0", "-z", f"{self.dir}/zserv.api",
                  "--vty_socket", str(self.dir)]  # fmt: skip
        for daemon in daemons:
            pidfile = self.dir / f"{daemon}.pid"
            lab.pidfiles.append(pidfile)
            extra = ["--bfdctl", str(self.dir / "bfdd.sock")] if daemon == "bfdd" else []
            run("ip", "netns", "exec", lab.peer_ns, str(FRR / daemon), *common, *extra,
                "-f", str(self.dir / f"{daemon}.conf"), "-i", str(pidfile))  # fmt: skip
            if daemon == "zebra":
                wait_for("zebra's socket", (self.dir / "zserv.api").exists, 10)
            else:
                wait_for(f"{daemon}'s vty", (self.dir / f"{daemon}.vty").exists, 10)

    def pid(self, daemon: str = "bgpd") -> int:
        return int((self.dir / f"{daemon}.pid").read_text().split()[0])

    def cmd(self, *commands: str) -> str:
        """One vtysh call running `commands` in order (e.g. "configure", "bfd", ...)."""
        args = [arg for command in commands for arg in ("-c", command)]
        return run("vtysh", "--vty_socket", str(self.dir), *args, check=False).stdout

    def json(self, command: str) -> Any:
        import json

        out = self.cmd(command + " json")
        try:
            return json.loads(out)
        except ValueError:
            return {}

    def established(self, neighbor: str) -> bool:
        peers = self.json("show bgp neighbors " + neighbor)
        return bool(peers.get(neighbor, {}).get("bgpState") == "Established")

    def count(self, afi: str) -> int:
        routes = self.json(f"show bgp {afi} unicast").get("routes", {})
        return len(routes)


class GoBGP:
    def __init__(self, lab: Lab, toml: str) -> None:
        self.sock = lab.dir / "gobgpd.sock"
        conf = lab.dir / "gobgpd.toml"
        conf.write_text(toml)
        self.proc = lab.spawn(
            lab.peer_ns, "gobgpd", "-f", str(conf), "-p", "--pprof-disable",
            "--api-hosts", f"unix://{self.sock}", log="gobgpd.log",
        )  # fmt: skip
        wait_for("gobgpd's socket", self.sock.exists, 10)

    def cmd(self, *args: str) -> str:
        return run("gobgp", "--target", f"unix://{self.sock}", *args, check=False).stdout

    def json(self, *args: str) -> Any:
        import json

        out = self.cmd(*args, "-j")
        try:
            return json.loads(out)
        except ValueError:
            return None

    def established(self, neighbor: str) -> bool:
        data = self.json("neighbor", neighbor)
        return bool(data and data.get("state", {}).get("session_state") == 6)

    def count(self, afi: str) -> int:
        data = self.json("global", "rib", "-a", afi)
        return len(data) if isinstance(data, dict) else 0
