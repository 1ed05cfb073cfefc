"""A SIGTERM at any moment of a process's life ends it cleanly (exit 0), never with -15.

The issue's failure: a test sent SIGTERM while `gateway controller` was still importing and
starting, before its loop had a handler, and the process died with -15.
"""

import asyncio
import signal
import subprocess
import time
from pathlib import Path

import pytest

from metallb_runtime import signals
from tests.conftest import ROOT, require_binary


def test_before_any_loop_a_signal_exits_with_status_0() -> None:
    with pytest.raises(SystemExit) as exc:
        signals._handle(signal.SIGTERM, None)
    assert exc.value.code == 0


def test_a_serving_loop_is_asked_to_stop_and_a_closed_one_is_forgotten() -> None:
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    try:
        signals.register_stop(loop, stop)
        signals._handle(signal.SIGTERM, None)
        loop.run_until_complete(asyncio.wait_for(stop.wait(), 5))
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        loop.close()
    with pytest.raises(SystemExit):
        signals._handle(signal.SIGTERM, None)


def _sigterm_caught(pid: int) -> bool:
    """Python (not a launcher before it, e.g. pyenv's bash shim, which `exec`s Python in the same
    process) has a SIGTERM handler."""
    try:
        if not Path(f"/proc/{pid}/exe").resolve().name.startswith("python"):
            return False
    except OSError:
        return False
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


def _grpc_loaded(pid: int) -> bool:
    return "cygrpc" in Path(f"/proc/{pid}/maps").read_text()


def _signal_during_startup(argv: list[str], cwd: Path) -> tuple[bool, int]:
    """Start `argv`, send SIGTERM as soon as it catches SIGTERM; (was grpc still unloaded then,
    exit status)."""
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not _sigterm_caught(proc.pid):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "SIGTERM never caught"
            time.sleep(0.0005)  # polling another process's /proc: no event to wait on
        early = not _grpc_loaded(proc.pid)
        proc.send_signal(signal.SIGTERM)
        return early, proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(
    "args",
    [
        ["ipam", "--listen", "127.0.0.1:0", "--metrics-listen", ""],
        [
            "gateway",
            "controller",
            "--ipam",
            "unix:/nonexistent.sock",
            "--manifests",
            "{folder}",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "",
        ],
    ],
    ids=["ipam", "gateway-controller"],
)
def test_sigterm_during_startup_exits_0(args: list[str], tmp_path: Path) -> None:
    exe = require_binary("metallb-grpc")
    folder = tmp_path / "manifests"
    folder.mkdir()
    argv = [exe, *(a.format(folder=folder) for a in args)]
    # The handler must be in place before the heavy imports; a busy machine may deschedule us
    # between the two /proc reads, so one attempt in three seeing it early is enough.
    outcomes = [_signal_during_startup(argv, ROOT) for _ in range(3)]
    assert all(status == 0 for _, status in outcomes), outcomes
    assert any(early for early, _ in outcomes), outcomes


def test_sigterm_while_serving_still_drains_and_exits_0(tmp_path: Path) -> None:
    exe = require_binary("metallb-grpc")
    sock = tmp_path / "ipam.sock"
    proc = subprocess.Popen(
        [exe, "ipam", "--listen", f"unix:{sock}", "--metrics-listen", ""],
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not sock.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)  # waiting for another process to bind its socket
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
