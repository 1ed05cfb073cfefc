"""Shared fixtures: running coroutines with a leak check, and CI-aware prerequisites."""

import asyncio
import os
import shutil
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import pytest

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_MANIFESTS = ROOT / "examples" / "manifests"


def copy_manifests(dest: Path, source: Path = EXAMPLE_MANIFESTS) -> Path:
    """A copy of a manifests folder without the `.status/` that an earlier run wrote into it
    (the README's `up` writes there): each test starts from the user's YAML alone."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(".status"))
    return dest


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` in a fresh event loop and fail if it leaves tasks running behind."""

    async def wrapper() -> T:
        result = await coro
        current = asyncio.current_task()
        # Tasks whose work is already over (a gRPC call's status handler whose future is done)
        # may need a few loop turns to finish; a task still pending after 0.5 s is a leak.
        for _ in range(50):
            await asyncio.sleep(0.01)
            leaked = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
            if not leaked:
                break
        assert not leaked, f"leaked tasks: {leaked}"
        return result

    return asyncio.run(wrapper())


@pytest.fixture
def arun() -> Callable[[Coroutine[Any, Any, T]], T]:
    return run_async


SYSTEM_PACKAGES = ROOT / "tests" / "system-packages.txt"
#: Executables that the project's test extra installs (pip), not Debian.
FROM_PIP = {"metallb-grpc", "grpcurl", "kubectl"}

#: What the tests of this run skipped for: missing executables, and "root".
_missing: set[str] = set()
_skipped_tests: set[str] = set()


def _unmet(prerequisite: str, message: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(message)
    _missing.add(prerequisite)
    test = os.environ.get("PYTEST_CURRENT_TEST", "")
    _skipped_tests.add(test.rsplit(" ", 1)[0])
    pytest.skip(message)


def require_root(why: str) -> None:
    """Fail (under CI) or skip (elsewhere) unless running as root, which `why` needs."""
    if os.geteuid() != 0:
        _unmet("root", f"this test needs root ({why})")


def require_binary(name: str) -> str:
    """The path of a required executable. Under CI a missing prerequisite fails the test."""
    path = shutil.which(name)
    if path is None:
        source = "the project's test extra" if name in FROM_PIP else "tests/system-packages.txt"
        _unmet(Path(name).name, f"{name} is not installed (it comes with {source})")
    return path


def system_packages() -> list[str]:
    lines = SYSTEM_PACKAGES.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def skip_summary(missing: set[str], tests: int) -> str | None:
    """One line saying what was not tested and the command that installs the rest."""
    if not missing:
        return None
    pip = sorted(missing & FROM_PIP)
    system = sorted(missing - FROM_PIP - {"root"})
    fixes = []
    if system:
        fixes.append("apt-get install -y --no-install-recommends " + " ".join(system_packages()))
    if pip:
        fixes.append("python3 -m pip install -e '.[test]'")
    if "root" in missing:
        fixes.append("run the tests as root")
    return (
        f"NOT TESTED: {tests} tests skipped (the real peers and end-to-end runs among them) for "
        f"want of {', '.join(sorted(missing))}; to test them: {'; '.join(fixes)}"
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    line = skip_summary(_missing, len(_skipped_tests))
    if line:
        terminalreporter.write_line(line, yellow=True, bold=True)
