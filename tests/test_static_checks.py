"""The project's lint, type and layering checks, and generated-code freshness, as tests."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.static


def _run(*args: str) -> None:
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"


def test_ruff_lint() -> None:
    _run(sys.executable, "-m", "ruff", "check", ".")


def test_ruff_format() -> None:
    _run(sys.executable, "-m", "ruff", "format", "--check", ".")


def test_mypy_strict() -> None:
    _run(sys.executable, "-m", "mypy")


def test_import_layering() -> None:
    # import-linter's contracts live in pyproject.toml: cores import no I/O library, services do
    # not import each other.
    _run(
        sys.executable,
        "-c",
        "import sys; from importlinter.cli import lint_imports_command; "
        "sys.exit(lint_imports_command())",
    )


def test_generated_protos_are_current() -> None:
    _run(sys.executable, "-m", "devtools.protogen", "--check")
