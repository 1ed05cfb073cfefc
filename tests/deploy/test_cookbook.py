"""docs/grpcurl-cookbook.md stays true: its `# tested` blocks run, in order, against scratch
servers — IPAM on TCP (`localhost:50051` replaced by its address), L2, BGP and BFD on Unix
sockets (`/run/metallb` and `$SOCKETS` replaced by a temporary directory), each of those in a
network namespace of its own when we are root, so that they see no real interface. A Python
block's `print(...)  # OUTPUT` comments are the output it must print."""

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, require_binary

COOKBOOK = ROOT / "docs" / "grpcurl-cookbook.md"
SPEAKER_SERVICES = ("l2", "bgp", "bfd")


def _blocks() -> list[tuple[str, str]]:
    found = re.findall(r"```(sh|python)\n# tested\n(.*?)```", COOKBOOK.read_text(), re.DOTALL)
    return [(lang, body) for lang, body in found]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(argv: list[str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "serving" in line:
            return proc
    pytest.fail(f"{' '.join(argv)} did not start: {proc.wait()}")


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The IPAM address and the directory of the speaker services' sockets."""
    exe = require_binary("metallb-grpc")
    isolate = ["unshare", "--net"] if os.geteuid() == 0 and shutil.which("unshare") else []
    address = f"127.0.0.1:{_free_port()}"
    procs = [_start([exe, "ipam", "--listen", address, "--metrics-listen", ""])]
    try:
        for name in SPEAKER_SERVICES:
            listen = f"unix:{tmp_path / name}.sock"
            procs.append(_start([*isolate, exe, name, "--listen", listen, "--metrics-listen", ""]))
        yield address, tmp_path
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
            assert proc.stderr is not None
            proc.stderr.close()


def test_cookbook_has_tested_blocks_of_both_kinds() -> None:
    blocks = _blocks()
    assert sum(lang == "sh" for lang, _ in blocks) >= 4
    for name in ("ipam", *SPEAKER_SERVICES):
        # A Python example driving each service through its generated stubs.
        assert any(
            lang == "python" and f"from metallb.{name}.v1 import" in body for lang, body in blocks
        ), name


def test_cookbook_blocks_run(servers: tuple[str, Path]) -> None:
    require_binary("grpcurl")
    address, sockets = servers
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "protos")]),
        "SOCKETS": str(sockets),
    }
    for lang, body in _blocks():
        code = body.replace("localhost:50051", address).replace("/run/metallb/", f"{sockets}/")
        argv = ["bash", "-euo", "pipefail", "-c", code] if lang == "sh" else [sys.executable]
        proc = subprocess.run(
            argv if lang == "sh" else [*argv, "-c", code],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
            env=env,
        )
        assert proc.returncode == 0, f"{body}\n{proc.stdout}\n{proc.stderr}"
        if lang == "python":
            expected = re.findall(r"print\(.*\)  # (.*)", body)
            assert expected, body
            assert proc.stdout.splitlines()[: len(expected)] == expected, body
