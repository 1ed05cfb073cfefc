"""The README's run command, then its test command, in a fresh copy of the repository: the run
must leave nothing that breaks the tests (issue 16: `up` wrote `.status/` into
examples/manifests, and a test that copied the folder saw a status at once and stopped the
controller before it had started).

The copy is the repository's tracked files. The run is the README's command exactly as written,
from the copy (its sockets go where the README says; the run is stopped with SIGTERM and must
exit 0). The test command is run on the tests that read examples/manifests (the whole suite,
recursively, would take as long as the suite itself).
"""

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT, require_binary

EXAMPLE_TESTS = [
    "tests/gateway/test_reconcile.py",
    "tests/gateway/test_gateway_cli.py",
    "tests/gateway/test_up_unprivileged.py",
]


def readme_command(prefix: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Install, run, test", 1)[1].split("\n## ", 1)[0]
    [line] = [ln.strip() for ln in section.splitlines() if ln.strip().startswith(prefix)]
    return shlex.split(line)


def fresh_copy(dest: Path) -> Path:
    git = require_binary("git")
    listed = subprocess.run(
        [git, "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source, target = ROOT / name.decode(), dest / name.decode()
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


def test_the_readme_run_then_its_tests_in_a_fresh_copy(tmp_path: Path) -> None:
    copy = fresh_copy(tmp_path / "repo")
    run = readme_command("metallb-grpc up")
    proc = subprocess.Popen(
        [require_binary(run[0]), *run[1:]],
        cwd=copy,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    status = copy / "examples" / "manifests" / ".status" / "services" / "demo" / "web.yaml"
    try:
        deadline = time.monotonic() + 60
        while not status.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the README's run wrote no status"
            time.sleep(0.1)  # another process writes the file
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    assert code == 0
    test = readme_command("python3 -m pytest")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = f"{copy}{os.pathsep}{copy / 'protos'}"
    result = subprocess.run(
        [sys.executable, *test[1:], "-q", "-p", "no:cacheprovider", *EXAMPLE_TESTS],
        cwd=copy, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout.strip().splitlines()[-1]
