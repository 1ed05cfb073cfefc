"""`metallb-grpc ipam` and `metallb-grpc gateway controller --manifests` as two processes."""

import signal
import subprocess
import time
from pathlib import Path

import yaml

from tests.conftest import copy_manifests, require_binary


def wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} not written"
        time.sleep(0.1)  # another process writes the file: nothing to wait on but the disk


def test_two_processes_over_a_unix_socket(tmp_path: Path) -> None:
    exe = require_binary("metallb-grpc")
    folder = tmp_path / "manifests"
    copy_manifests(folder)
    sock = tmp_path / "ipam.sock"
    ipam = subprocess.Popen(
        [exe, "ipam", "--listen", f"unix:{sock}", "--metrics-listen", ""], stderr=subprocess.DEVNULL
    )
    controller = subprocess.Popen(
        [
            exe,
            "gateway",
            "controller",
            "--ipam",
            f"unix:{sock}",
            "--manifests",
            str(folder),
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        status = folder / ".status" / "services" / "demo" / "web.yaml"
        wait_for(status)
        written = yaml.safe_load(status.read_text())
        assert written["status"]["loadBalancer"]["ingress"] == [
            {"ip": "192.0.2.0"},
            {"ip": "2001:db8:1::"},
        ]
        controller.send_signal(signal.SIGTERM)
        assert controller.wait(timeout=15) == 0
    finally:
        for proc in (controller, ipam):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_a_status_left_by_an_earlier_run_is_not_copied(tmp_path: Path) -> None:
    """The README's `up` writes `.status/` into examples/manifests; a test that copied it saw a
    status at once and stopped the controller before it had started."""
    source = copy_manifests(tmp_path / "after-up")
    stale = source / ".status" / "services" / "demo" / "web.yaml"
    stale.parent.mkdir(parents=True)
    stale.write_text("status: {}\n")
    copy = copy_manifests(tmp_path / "copy", source)
    assert not (copy / ".status").exists()
    assert {p.name for p in copy.iterdir()} == {p.name for p in source.iterdir()} - {".status"}
