"""The IPAM server as its users drive it: the `metallb-grpc` command and the `grpcurl` binary.

The grpcurl commands of the README are run here exactly as written, against a server started
with the README's run command (on a free port instead of 50051).
"""

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, copy_manifests, require_binary


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def ipam_process() -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    exe = require_binary("metallb-grpc")
    port, metrics = _free_port(), _free_port()
    address = f"127.0.0.1:{port}"
    proc = subprocess.Popen(
        [exe, "ipam", "--listen", address, "--metrics-listen", f"127.0.0.1:{metrics}"],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if "metrics on" in line:
            break
    else:
        pytest.fail(f"metallb-grpc ipam did not start: {proc.wait()}")
    try:
        yield proc, address, f"127.0.0.1:{metrics}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def grpcurl(address: str, *args: str, data: object = None) -> str:
    cmd = [require_binary("grpcurl"), "-plaintext"]
    if data is not None:
        cmd += ["-d", json.dumps(data)]
    proc = subprocess.run(
        [*cmd, address, *args], capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_grpcurl_list_describe_health_and_one_allocation(
    ipam_process: tuple[subprocess.Popen[str], str, str],
) -> None:
    _, address, _ = ipam_process
    assert grpcurl(address, "list").split() == [
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "metallb.ipam.v1.IPAMService",
    ]
    described = grpcurl(address, "describe", "metallb.ipam.v1.IPAMService")
    for rpc in ("SetPools", "Allocate", "RestoreAllocations", "WatchAllocations"):
        assert f"rpc {rpc}" in described
    assert "string sharing_key = 10;" in grpcurl(address, "describe", "metallb.ipam.v1.Service")
    health = json.loads(
        grpcurl(
            address, "grpc.health.v1.Health/Check", data={"service": "metallb.ipam.v1.IPAMService"}
        )
    )
    assert health == {"status": "SERVING"}
    grpcurl(
        address,
        "metallb.ipam.v1.IPAMService/SetPools",
        data={"pools": [{"name": "default", "addresses": ["198.51.100.7-198.51.100.9"]}]},
    )
    grpcurl(address, "metallb.ipam.v1.IPAMService/RestoreAllocations", data={"complete": True})
    reply = json.loads(
        grpcurl(
            address,
            "metallb.ipam.v1.IPAMService/Allocate",
            data={
                "service": {
                    "namespace": "demo",
                    "name": "web",
                    "ipFamilies": ["IP_FAMILY_IPV4"],
                    "sharingKey": "k",
                    "ports": [{"protocol": "PROTOCOL_TCP", "port": 80}],
                }
            },
        )
    )
    assert reply["allocation"]["ips"] == ["198.51.100.7"]
    assert reply["allocation"]["pool"] == "default"


def _readme_section(title: str) -> list[list[str]]:
    """The command lines of one README section (continuations joined), split like a shell."""
    text = (ROOT / "README.md").read_text()
    section = text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]
    joined = re.sub(r"\\\n\s*", " ", section)
    return [
        shlex.split(line.strip())
        for line in joined.splitlines()
        if line.startswith("    ") and line.strip().startswith(("grpcurl ", "metallb-grpc "))
    ]


def _run_readme_commands(commands: list[list[str]], address: str, readme: str) -> list[str]:
    outputs = []
    for readme_cmd in commands:
        args = [address if a == readme else a for a in readme_cmd[1:]]
        cmd = [require_binary(readme_cmd[0]), *args]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=60, check=False, cwd=ROOT
        )
        assert proc.returncode == 0, (cmd, proc.stderr)
        outputs.append(proc.stdout)
    return outputs


def test_readme_run_command_and_grpcurl_examples_work_as_written(tmp_path: Path) -> None:
    """`up` as the README runs it, with its sockets in a test folder instead of the README's
    /run/metallb-grpc (the grpcurl commands' socket path replaced accordingly)."""
    commands = _readme_section("Install, run, test")
    run = next(c for c in commands if c[:2] == ["metallb-grpc", "up"])
    folder = tmp_path / "manifests"
    copy_manifests(folder)
    sockets = Path(tempfile.mkdtemp(prefix="mlb-up-")) / "run"  # short: sun_path is 108 bytes
    args = [str(folder) if a == "examples/manifests" else a for a in run[1:]]
    proc = subprocess.Popen(
        [
            require_binary("metallb-grpc"),
            *args,
            "--socket-dir",
            str(sockets),
            "--metrics-listen",
            "",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        printed = proc.stdout.readline()
        assert printed == f"ipam: unix:{sockets}/ipam.sock\n"
        deadline = time.monotonic() + 30
        while not (folder / ".status" / "services" / "demo" / "web.yaml").exists():
            assert time.monotonic() < deadline and proc.poll() is None, "up did not allocate"
            time.sleep(0.1)  # polls a file another process (metallb-grpc up) writes
        try_it = _readme_section("Try it with grpcurl")
        assert len(try_it) >= 5
        outputs = _run_readme_commands(
            try_it, str(sockets / "ipam.sock"), "/run/metallb-grpc/ipam.sock"
        )
        assert json.loads(outputs[3])["allocation"]["ips"] == ["192.0.2.0", "2001:db8:1::"]
        assert json.loads(outputs[4])["config"]["valid"] is True
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0
        shutil.rmtree(sockets.parent, ignore_errors=True)


def test_readme_ipam_example_works_as_written() -> None:
    commands = _readme_section("Drive IPAM directly")
    serve, calls = commands[0], commands[1:]
    port = _free_port()
    address = f"127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            require_binary(serve[0]),
            *[address if a == "127.0.0.1:50061" else a for a in serve[1:]],
            "--metrics-listen",
            "",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "serving" in line:
                break
        outputs = _run_readme_commands(calls, address, "127.0.0.1:50061")
        allocated = json.loads(outputs[-2])["allocation"]
        assert allocated["ips"] == ["192.0.2.0", "2001:db8::"]
        pools = json.loads(outputs[-1])["pools"]
        assert pools[0]["state"]["ipv4_addresses_in_use"] == "1"
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_sigterm_reports_not_serving_then_exits_cleanly(
    ipam_process: tuple[subprocess.Popen[str], str, str],
) -> None:
    proc, _, metrics = ipam_process
    body = urllib.request.urlopen(f"http://{metrics}/metrics", timeout=5).read().decode()
    assert "metallb_grpc_server_handled" in body
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    assert proc.stderr is not None
    assert "NOT_SERVING" in proc.stderr.read()


def test_cli_help_and_bad_listen() -> None:
    exe = require_binary("metallb-grpc")
    out = subprocess.run([exe, "ipam", "--help"], capture_output=True, text=True, check=True)
    assert "--listen" in out.stdout and "unix:/path" in out.stdout
    bad = subprocess.run(
        [exe, "ipam", "--listen", "nonsense"], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2
    assert "expected HOST:PORT or unix:/path" in bad.stderr


def test_module_entry_point_matches_console_script() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "metallb_cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(os.sep),
    )
    assert "ipam" in out.stdout
