"""`metallb-grpc-health` (deploy/health.py), the speaker containers' exec probe, against a real
server on a Unix socket, as kubelet runs it."""

import asyncio
import subprocess
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from deploy import health
from metallb_runtime.server import Server
from services.ipam.service import ipam_binding
from tests.conftest import ROOT

Run = Callable[[Coroutine[Any, Any, None]], None]
IPAM = "metallb.ipam.v1.IPAMService"


def _probe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "health.py"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def test_probe_follows_the_servers_health(arun: Run, tmp_path: Path) -> None:
    address = f"unix:{tmp_path / 'ipam.sock'}"

    async def scenario() -> None:
        server = Server([ipam_binding(CollectorRegistry())], address, grace=0.1)
        await server.start()
        try:
            assert await asyncio.to_thread(health.check, address) == ""
            assert await asyncio.to_thread(health.check, address, IPAM) == ""
            unknown = await asyncio.to_thread(health.check, address, "no.such.Service")
            assert "NOT_FOUND" in unknown
            assert (
                await asyncio.to_thread(health.check, address, "no.such.Service", live=True) == ""
            )
            # Exactly as the pod spec runs it: a separate process, exit status only.
            ready = await asyncio.to_thread(_probe, address, "--service", IPAM)
            assert ready.returncode == 0, ready.stderr
            # Draining after SIGTERM: not ready any more, but alive (no restart).
            assert server.health_servicer is not None
            await server.health_servicer.enter_graceful_shutdown()
            draining = await asyncio.to_thread(_probe, address)
            assert draining.returncode == 1 and "NOT_SERVING" in draining.stderr
            alive = await asyncio.to_thread(_probe, "--live", address)
            assert alive.returncode == 0, alive.stderr
        finally:
            await server.stop()

    arun(scenario())


def test_probe_fails_when_nothing_listens(tmp_path: Path) -> None:
    for args in ([], ["--live"]):
        proc = _probe(*args, "--timeout", "0.5", f"unix:{tmp_path / 'absent.sock'}")
        assert proc.returncode == 1
        assert "UNAVAILABLE" in proc.stderr or "DEADLINE_EXCEEDED" in proc.stderr
