"""`metallb-grpc up` without CAP_NET_RAW: L2 says why it cannot start, allocation still works."""

import subprocess
import time
from pathlib import Path

from tests.conftest import copy_manifests, require_binary


def test_up_without_net_raw_allocates_and_names_the_capability(tmp_path: Path) -> None:
    folder = tmp_path / "manifests"
    copy_manifests(folder)
    proc = subprocess.Popen(
        [
            require_binary("setpriv"),
            "--inh-caps=-all",
            "--bounding-set=-net_raw,-net_admin,-net_bind_service",
            require_binary("metallb-grpc"),
            "up",
            "--manifests",
            str(folder),
            "--node",
            "node-1",
            "--ipam-listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        status = folder / ".status" / "services" / "demo" / "web.yaml"
        deadline = time.monotonic() + 60
        while not status.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "up did not allocate"
            time.sleep(0.1)  # another process writes it: nothing in this one to wait on
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert "l2: cannot start" in err and "CAP_NET_RAW" in err
    assert proc.returncode == 0
