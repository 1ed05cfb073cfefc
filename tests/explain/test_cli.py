"""`metallb-grpc explain` / `status` and the kubectl plugin as commands, on `up`'s folder:
exit status, `-o json`, and `--watch` printing again when a node's fact changes."""

import json
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from metallb_cli import kubectl_plugin
from metallb_cli.main import main
from tests.explain.cluster import World, session

ROOT = Path(__file__).resolve().parents[2]


def folder_of(world: World, tmp_path: Path) -> Path:
    world.to_folder(tmp_path / "f")
    return tmp_path / "f"


def test_explain_exit_status_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world = World()
    folder = folder_of(world, tmp_path)
    assert main(["explain", "--manifests", str(folder), "demo/web"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Service demo/web (folder {folder})\n")
    assert out.endswith("Nothing is broken: every link holds.\n")
    world.facts[("bgpsessionstates", "node-1.router")] = session(
        "node-1", "router", "192.0.2.1", "Idle"
    )
    folder = folder_of(world, tmp_path / "again")
    assert main(["explain", "--manifests", str(folder), "demo/api", "-o", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["breaks"]["topic"] == "router"
    assert report["breaks"]["text"].startswith("not sent: session Idle")


def test_status_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = folder_of(World(), tmp_path)
    assert main(["status", "--manifests", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"MetalLB status (folder {folder})\n")
    assert max(len(line) for line in out.splitlines()) <= 100
    assert main(["status", "--manifests", str(folder), "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["healthy"] is True


def test_kubectl_plugin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["kubectl-metallb"] == "metallb_cli:kubectl_plugin"
    folder = folder_of(World(), tmp_path)
    assert kubectl_plugin(["explain", "demo/web", "--manifests", str(folder)]) == 0
    assert "Nothing is broken" in capsys.readouterr().out
    assert kubectl_plugin(["up"]) == 2
    assert "usage: kubectl metallb" in capsys.readouterr().err


def test_watch_prints_again_when_a_fact_changes(tmp_path: Path) -> None:
    world = World()
    folder = folder_of(world, tmp_path)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'protos'}"}
    command = [sys.executable, "-m", "metallb_cli", "explain", "demo/api", "-o", "json"]
    command += ["--manifests", str(folder), "--watch", "--interval", "0.05"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert first["breaks"] is None
        world.facts[("bgpsessionstates", "node-1.other")] = session(
            "node-1", "other", "192.0.2.2", "Connect"
        )
        world.to_folder(folder)
        second = json.loads(proc.stdout.readline())
        assert second["breaks"]["text"].startswith("not sent: session Connect")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
