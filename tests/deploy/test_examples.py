"""Every example CR in the repository validates against our CRDs; malformed ones do not.

Examples are deploy/examples/*.yaml and every ```yaml block of docs/ that holds a metallb.io
object. Other kinds in the same files (a Secret, say) are checked against Kubernetes' schemas.
"""

import re
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from tests.conftest import ROOT
from tests.deploy.conftest import KUBERNETES_VERSION, load_all
from tests.deploy.crdcheck import CRDSet

EXAMPLES = sorted((ROOT / "deploy" / "examples").glob("*.yaml"))
DOCS = sorted((ROOT / "docs").glob("*.md"))
INVALID = load_all(Path(__file__).with_name("invalid_crs.yaml"))


def _doc_objects(path: Path) -> list[dict[str, Any]]:
    blocks = re.findall(r"```yaml\n(.*?)```", path.read_text(), flags=re.DOTALL)
    return [d for b in blocks for d in yaml.safe_load_all(b) if isinstance(d, dict)]


def _check(crds: CRDSet, obj: dict[str, Any], where: str) -> None:
    name = f"{where}: {obj.get('kind')} {obj.get('metadata', {}).get('name')}"
    if crds.knows(obj):
        assert crds.validate(obj) == [], name
    else:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_examples_cover_every_user_kind() -> None:
    kinds = {d["kind"] for p in EXAMPLES for d in load_all(p)}
    assert {
        "IPAddressPool",
        "L2Advertisement",
        "BGPAdvertisement",
        "BGPPeer",
        "BFDProfile",
        "Community",
        "ServiceL2Status",
        "ServiceBGPStatus",
        "ConfigurationState",
    } <= kinds
    versions = {d["apiVersion"] for p in EXAMPLES for d in load_all(p) if d["kind"] == "BGPPeer"}
    assert versions == {"metallb.io/v1beta1", "metallb.io/v1beta2"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_validates(crds: CRDSet, path: Path) -> None:
    for obj in load_all(path):
        _check(crds, obj, path.name)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_docs_yaml_validates(crds: CRDSet, path: Path) -> None:
    for obj in _doc_objects(path):
        if "apiVersion" in obj and "kind" in obj:
            _check(crds, obj, path.name)


@pytest.mark.parametrize("case", INVALID, ids=[c["case"] for c in INVALID])
def test_malformed_cr_is_refused_with_the_expected_message(
    crds: CRDSet, case: dict[str, Any]
) -> None:
    errors = crds.validate(case["object"], case.get("old"))
    assert any(case["expect"] in e for e in errors), errors


@pytest.mark.parametrize("case", [c for c in INVALID if "old" in c], ids=lambda c: c["case"])
def test_transition_rules_allow_an_unchanged_update(crds: CRDSet, case: dict[str, Any]) -> None:
    assert crds.validate(case["old"], case["old"]) == []


def test_defaults_are_applied_before_the_rules(crds: CRDSet) -> None:
    """A serviceSelectors advertisement is valid because the defaults (32/128) satisfy the rule."""
    ad = {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "BGPAdvertisement",
        "metadata": {"name": "a"},
        "spec": {"serviceSelectors": [{"matchLabels": {"a": "b"}}], "aggregationLength": 32},
    }
    assert crds.validate(ad) == []


@pytest.mark.parametrize("duration", ["1s", "90s", "1m30s", "2h", "18h12m15s"])
def test_connect_time_accepts_whole_seconds_in_range(crds: CRDSet, duration: str) -> None:
    peer = {
        "apiVersion": "metallb.io/v1beta2",
        "kind": "BGPPeer",
        "metadata": {"name": "p"},
        "spec": {"myASN": 1, "peerASN": 2, "peerAddress": "10.0.0.1", "connectTime": duration},
    }
    assert crds.validate(peer) == []
