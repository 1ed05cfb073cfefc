"""The spec types `metallb_rules.config.structure` checks are the CRD schemas' own
(deploy/crdgen/kinds.py): the rules package cannot import deploy/, so the two tables are held
equal here, field by field, for the storage version of every kind the rules parse."""

from typing import Any

import pytest

from deploy.crdgen.kinds import KINDS
from metallb_rules.config.structure import OBJECTS, SPEC_TYPES, STRINGS


def _type(schema: dict[str, Any]) -> str:
    if schema.get("type") == "array":
        return STRINGS if schema["items"].get("type") == "string" else OBJECTS
    return str(schema.get("type"))


@pytest.mark.parametrize("plural", sorted(SPEC_TYPES))
def test_the_spec_types_are_the_crds(plural: str) -> None:
    [kind] = [k for k in KINDS if k.plural == plural]
    [storage] = [v for v in kind.versions if v.storage]
    assert storage.spec is not None
    crd = {name: _type(s) for name, s in storage.spec["properties"].items()}
    assert dict(SPEC_TYPES[plural]) == crd
