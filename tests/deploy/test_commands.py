"""The image's command lines match the CLI.

Every container of every overlay runs the Dockerfile's ENTRYPOINT with the container's args.
For each distinct subcommand, `metallb-grpc SUBCOMMAND --help` must succeed, and each
container's full command line must parse with the real argument parser.

Subcommands that do not exist yet are listed in MISSING and marked xfail(strict=True): the day
one lands, its test passes unexpectedly and fails the run, and the marker must go.
"""

import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from metallb_cli.main import build_parser
from tests.conftest import ROOT, require_binary
from tests.deploy.conftest import OVERLAYS, rendered

DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / "deploy" / "Dockerfile.dockerignore"
# Sample values for the $(VAR) references kubelet expands from the pod's env.
ENV = {
    "METALLB_NODE_NAME": "worker-1",
    "METALLB_NAMESPACE": "metallb-system",
    "METALLB_POD_NAME": "speaker-x7k2p",
    "METALLB_HOST_IP": "192.0.2.10",
}
MISSING: dict[str, str] = {}
# Subcommands that exist but do not take every flag the manifests give them yet.
INCOMPLETE: dict[str, str] = {}


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def entrypoint() -> list[str]:
    [value] = [rest for keyword, rest in _instructions() if keyword == "ENTRYPOINT"]
    parsed: list[str] = json.loads(value)  # exec form: no shell between kubelet and us
    return parsed


def _expand(arg: str) -> str:
    return re.sub(r"\$\((\w+)\)", lambda m: ENV[m.group(1)], arg)


def command_lines() -> dict[str, list[str]]:
    """'overlay/workload/container' → the argv after the entrypoint, $(VARS) expanded."""
    out = {}
    for name in OVERLAYS:
        for w in rendered(name):
            if w["kind"] not in ("Deployment", "DaemonSet"):
                continue
            for c in w["spec"]["template"]["spec"]["containers"]:
                assert "command" not in c, "containers run the image's ENTRYPOINT"
                key = f"{name}/{w['metadata']['name']}/{c['name']}"
                out[key] = [_expand(a) for a in c["args"]]
    return out


def subcommand(argv: list[str]) -> str:
    return " ".join(argv[:2]) if argv[0] == "gateway" else argv[0]


COMMAND_LINES = command_lines()
SUBCOMMANDS = sorted({subcommand(a) for a in COMMAND_LINES.values()})


def _mark(sub: str, gaps: dict[str, str] = MISSING) -> list[pytest.MarkDecorator]:
    return [pytest.mark.xfail(strict=True, reason=gaps[sub])] if sub in gaps else []


def test_entrypoint_is_the_projects_console_script() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint() == ["metallb-grpc"]
    assert scripts["metallb-grpc"] == "metallb_cli:run"


def test_every_service_is_deployed() -> None:
    assert set(SUBCOMMANDS) == {"ipam", "bgp", "bfd", "l2", "gateway controller", "gateway node"}
    assert set(MISSING) | set(INCOMPLETE) <= set(SUBCOMMANDS)


@pytest.mark.parametrize("sub", [pytest.param(s, marks=_mark(s)) for s in SUBCOMMANDS])
def test_subcommand_help(sub: str) -> None:
    exe = require_binary(entrypoint()[0])
    proc = subprocess.run(
        [exe, *sub.split(), "--help"], capture_output=True, text=True, check=False, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage: metallb-grpc" in proc.stdout


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(k, marks=_mark(subcommand(v), MISSING | INCOMPLETE))
        for k, v in sorted(COMMAND_LINES.items())
    ],
)
def test_container_command_line_parses(key: str) -> None:
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            build_parser().parse_args(COMMAND_LINES[key])
    except SystemExit as err:
        pytest.fail(f"{key}: {' '.join(COMMAND_LINES[key])}\n{stderr.getvalue()} ({err})")


def test_dockerfile_copies_exist_and_pass_the_dockerignore() -> None:
    allowed = {
        line[1:].rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.startswith("!")
    }
    for keyword, rest in _instructions():
        if keyword == "COPY" and "--from=" not in rest:
            *sources, _ = [w for w in rest.split() if not w.startswith("--")]
            for source in sources:
                assert (ROOT / source).exists(), source
                assert source.rstrip("/") in allowed, f"{source} is excluded from the context"
    [base] = {rest.split()[0] for keyword, rest in _instructions() if keyword == "FROM"}
    assert base == "python:3.11-slim"


def test_the_copied_sources_build_a_complete_wheel(tmp_path: Path) -> None:
    """What the Dockerfile copies is enough to build the project: no package left behind."""
    context = tmp_path / "src"
    context.mkdir()
    for keyword, rest in _instructions():
        if keyword == "COPY" and "--from=" not in rest and "--chmod" not in rest:
            *sources, _ = rest.split()
            for source in sources:
                src = ROOT / source
                if src.is_dir():
                    shutil.copytree(
                        src, context / source, ignore=shutil.ignore_patterns("__pycache__")
                    )
                else:
                    shutil.copy(src, context / source)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(tmp_path / "wheels"),
            str(context),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    [wheel] = (tmp_path / "wheels").glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        packaged = {Path(n).parent.as_posix() for n in zf.namelist() if n.endswith(".py")}
    for top in ("metallb_rules", "metallb_runtime", "metallb_cli", "services", "gateway"):
        for init in (ROOT / top).rglob("__init__.py"):
            assert init.parent.relative_to(ROOT).as_posix() in packaged
    for init in (ROOT / "protos").rglob("__init__.py"):
        assert init.parent.relative_to(ROOT / "protos").as_posix() in packaged
