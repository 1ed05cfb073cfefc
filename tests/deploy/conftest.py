"""Shared fixtures of the deploy/ tests: our CRDs, and each overlay rendered once by kubectl."""

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, require_binary
from tests.deploy.crdcheck import CRDSet

DEPLOY = ROOT / "deploy"
OVERLAYS = sorted(p.parent.name for p in (DEPLOY / "overlays").glob("*/kustomization.yaml"))
# The Kubernetes version the manifests are validated against (kubernetes-validate's schemas):
# the oldest release still supported upstream when this was written.
KUBERNETES_VERSION = "1.33"


def load_all(path: Path) -> list[dict[str, Any]]:
    with path.open() as f:
        return [d for d in yaml.safe_load_all(f) if d]


def generated_crds() -> list[dict[str, Any]]:
    return [
        d for p in sorted((DEPLOY / "base" / "crds").glob("metallb.io_*.yaml")) for d in load_all(p)
    ]


@pytest.fixture(scope="session")
def crds() -> CRDSet:
    return CRDSet(generated_crds())


def kustomize(directory: Path) -> list[dict[str, Any]]:
    kubectl = require_binary("kubectl")
    proc = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, f"kubectl kustomize {directory} failed:\n{proc.stderr}"
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


_RENDERED: dict[str, list[dict[str, Any]]] = {}


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    name: str = request.param
    if name not in _RENDERED:
        _RENDERED[name] = kustomize(DEPLOY / "overlays" / name)
    yield name, _RENDERED[name]


def rendered(name: str) -> list[dict[str, Any]]:
    if name not in _RENDERED:
        _RENDERED[name] = kustomize(DEPLOY / "overlays" / name)
    return _RENDERED[name]
