"""`metallb-grpc up` on unix sockets in a private folder, and TLS from the gateway roles to the
services.

The issue's finding: in `up` any local user could call SetPools or RestoreAllocations on
127.0.0.1:50051, and the gateway's channels to the services were plaintext only."""

import asyncio
import grp
import os
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CollectorRegistry

from gateway.controller.app import ControllerOptions, run_controller
from metallb_cli.main import build_parser, client_tls, default_socket_dir
from metallb_runtime.server import Server
from metallb_runtime.transport import ClientTLS, ServerTransport, channel, private_directory
from services.ipam.service import ipam_binding
from tests.conftest import copy_manifests, require_binary, run_async
from tests.test_transport_security import code_of, new_pki, write


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A folder with a short path: a unix socket's path is at most 107 bytes."""
    path = Path(tempfile.mkdtemp(prefix="mlb-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("with_group", [False, True], ids=["owner-only", "socket-group"])
def test_up_serves_every_service_on_owner_only_sockets_whatever_the_umask(
    tmp_path: Path, short_dir: Path, with_group: bool
) -> None:
    """And with --socket-group: the folder 0710 and the services' sockets 0660, that group's."""
    group = next(g for g in grp.getgrall() if g.gr_gid != os.getgid()) if with_group else None
    folder = copy_manifests(tmp_path / "manifests")
    sockets = short_dir / "run"
    flags = ["--socket-group", group.gr_name] if group else []
    proc = subprocess.Popen(
        [require_binary("metallb-grpc"), "up", "--manifests", str(folder), "--node", "node-1",
         "--socket-dir", str(sockets), "--metrics-listen", "", *flags],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, umask=0,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        printed = dict(proc.stdout.readline().strip().split(": ", 1) for _ in range(4))
        status = folder / ".status" / "services" / "demo" / "web.yaml"
        deadline = time.monotonic() + 30
        while not status.exists():
            assert time.monotonic() < deadline and proc.poll() is None, "up did not allocate"
            time.sleep(0.1)
        modes = {
            p.name: (stat.S_IMODE(p.stat().st_mode), p.stat().st_gid)
            for p in sockets.iterdir()
            if p.is_socket()
        }
        dir_mode = stat.S_IMODE(sockets.stat().st_mode), sockets.stat().st_gid
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0
    assert printed == {name: f"unix:{sockets}/{name}.sock" for name in ("ipam", "bfd", "bgp", "l2")}
    own = os.getgid()
    services = ("ipam", "bfd", "bgp", "l2")
    if group is None:
        assert dir_mode == (0o700, own)
        expected = {f"{name}.sock": (0o600, own) for name in services}
    else:
        assert dir_mode == (0o710, group.gr_gid)
        expected = {f"{name}.sock": (0o660, group.gr_gid) for name in services}
    # The roles' health sockets stay the owner's.
    expected |= {f"{name}.sock": (0o600, own) for name in ("controller", "node")}
    assert modes == expected


def test_private_directory_fixes_its_own_folder_and_refuses_a_link_or_a_strangers(
    short_dir: Path,
) -> None:
    own = short_dir / "own"
    own.mkdir(mode=0o777)
    os.chmod(own, 0o777)
    assert stat.S_IMODE(private_directory(own).stat().st_mode) == 0o700

    link = short_dir / "link"
    link.symlink_to(own)
    with pytest.raises(OSError, match="not a directory"):
        private_directory(link)

    foreign = short_dir / "foreign"
    foreign.mkdir()
    os.chown(foreign, 65534, 65534)  # nobody: someone created it first in a shared /tmp
    if os.geteuid() != 0:
        pytest.fail("this check needs root to give the folder to another user")
    with pytest.raises(OSError, match="owned by uid 65534"):
        private_directory(foreign)


def test_gateway_tls_flags_reach_the_controllers_channel_to_ipam(
    tmp_path: Path, short_dir: Path
) -> None:
    """The controller, given --tls-ca and a client certificate, allocates through an IPAM that
    demands mutual TLS; without them it cannot (plaintext is refused)."""
    files = write(new_pki("gw"), tmp_path / "pki")
    transport = ServerTransport(tls_cert=files["cert"], tls_key=files["key"], client_ca=files["ca"])

    async def allocates(tls_flags: list[str], name: str) -> bool:
        folder = copy_manifests(tmp_path / name)
        args = build_parser().parse_args(
            ["gateway", "controller", "--manifests", str(folder), *tls_flags]
        )
        registry = CollectorRegistry()
        ipam = Server([ipam_binding(registry)], "localhost:0", registry=registry, grace=0.2,
                      transport=transport)  # fmt: skip
        await ipam.start()
        stop = asyncio.Event()
        opts = ControllerOptions(
            ipam=ipam.address,
            listen=f"unix:{short_dir}/{name}.sock",
            manifests=folder,
            tls=client_tls(args),
        )
        role = asyncio.create_task(run_controller(opts, stop))
        status = folder / ".status" / "services" / "demo" / "web.yaml"
        try:
            for _ in range(100):  # 5 s: allocation takes well under a second
                if status.exists():
                    return True
                await asyncio.sleep(0.05)
            return False
        finally:
            stop.set()
            await role
            await ipam.stop()

    async def scenario() -> tuple[bool, bool]:
        mutual = ["--tls-ca", str(files["ca"]), "--tls-client-cert", str(files["client_cert"]),
                  "--tls-client-key", str(files["client_key"])]  # fmt: skip
        return await allocates(mutual, "mutual"), await allocates([], "plain")

    assert run_async(scenario()) == (True, False)


def test_client_certificate_without_its_key_is_refused() -> None:
    with pytest.raises(ValueError, match="--tls-client-cert and --tls-client-key go together"):
        ClientTLS(cert=Path("/x"))


def test_up_with_mutual_tls_serves_and_its_roles_call_over_it(
    tmp_path: Path, short_dir: Path
) -> None:
    """`up --tls-cert --tls-key --tls-client-ca` with the roles' client flags: allocation (the
    controller to IPAM) and announcement (the node role to L2) work over mutual TLS on the
    sockets, and a plaintext client of ipam.sock is refused."""
    files = write(new_pki("up"), tmp_path / "pki")
    folder = copy_manifests(tmp_path / "manifests")
    sockets = short_dir / "run"
    proc = subprocess.Popen(
        [require_binary("metallb-grpc"), "up", "--manifests", str(folder), "--node", "node-1",
         "--socket-dir", str(sockets), "--metrics-listen", "",
         "--tls-cert", str(files["cert"]), "--tls-key", str(files["key"]),
         "--tls-client-ca", str(files["ca"]), "--tls-ca", str(files["ca"]),
         "--tls-client-cert", str(files["client_cert"]),
         "--tls-client-key", str(files["client_key"])],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        written = [
            folder / ".status" / "services" / "demo" / "web.yaml",
            folder / ".status" / "servicel2statuses" / "node-1" / "demo" / "web.yaml",
        ]
        deadline = time.monotonic() + 30
        while not all(p.exists() for p in written):
            assert time.monotonic() < deadline and proc.poll() is None, "up did not announce"
            time.sleep(0.1)

        async def codes() -> tuple[grpc.StatusCode, grpc.StatusCode]:
            address = f"unix:{sockets}/ipam.sock"
            mutual = channel(address, (), ca=files["ca"], cert=files["client_cert"],
                             key=files["client_key"])  # fmt: skip
            return await code_of(channel(address, ())), await code_of(mutual)

        async def bfd_codes() -> tuple[grpc.StatusCode, grpc.StatusCode]:
            """BFD too (BGP calls it with the same client flags): plaintext is refused."""
            address = f"unix:{sockets}/bfd.sock"
            mutual = channel(address, (), ca=files["ca"], cert=files["client_cert"],
                             key=files["client_key"])  # fmt: skip
            return await health_of(channel(address, ())), await health_of(mutual)

        plain, mutual = run_async(codes())
        bfd_plain, bfd_mutual = run_async(bfd_codes())
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0
    assert plain == grpc.StatusCode.UNAVAILABLE and mutual == grpc.StatusCode.OK
    assert bfd_plain == grpc.StatusCode.UNAVAILABLE and bfd_mutual == grpc.StatusCode.OK


async def health_of(ch: grpc.aio.Channel) -> grpc.StatusCode:
    async with ch:
        try:
            await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
        except grpc.aio.AioRpcError as err:
            return err.code()
        return grpc.StatusCode.OK


def test_the_default_socket_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    assert default_socket_dir() == Path("/run/user/1000/metallb-grpc")
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert default_socket_dir() == Path("/run/metallb-grpc")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("TMPDIR", "/tmp")
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    assert default_socket_dir() == Path("/tmp/metallb-grpc-1000")
