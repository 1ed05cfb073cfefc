"""The embedded default source: a folder of the YAML a user would `kubectl apply`.

Every `*.yaml`/`*.yml`/`*.json` file below the folder is read (multi-document YAML allowed, `List`
objects flattened); hidden folders are skipped, so the status the gateway writes (under
`.status/`, in the same form) never feeds back into its input.
"""

import json
import re
from pathlib import Path
from typing import Any

import yaml

from gateway.apiserver_defaults import DefaultingError, apply_defaults
from gateway.snapshot import Obj, Snapshot

STATUS_DIR = ".status"


class ManifestError(ValueError):
    """A file that is not valid YAML/JSON or holds something that is not a Kubernetes object."""


# The API server's name rules (apimachinery's IsDNS1123Label/Subdomain, IsDNS1035Label). They
# matter here beyond fidelity: names become paths under .status/, so none may hold "/" or "..".
_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL = re.compile(_LABEL)
DNS1123_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*")
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_RULES = {
    "label": (DNS1123_LABEL, 63, "a lowercase RFC 1123 label (a-z, 0-9 and '-')"),
    "subdomain": (DNS1123_SUBDOMAIN, 253, "a lowercase RFC 1123 subdomain (a-z, 0-9, '-', '.')"),
    "service": (DNS1035_LABEL, 63, "a DNS-1035 label (a-z, 0-9 and '-', starting with a letter)"),
}


def _check_name(where: str, kind: str, field: str, value: object, rule: str) -> None:
    pattern, limit, words = _RULES[rule]
    text = str(value)
    if len(text) <= limit and pattern.fullmatch(text):
        return
    shown = text if len(text) <= 80 else text[:80] + "..."
    raise ManifestError(
        f"{where}: {kind} is invalid: {field}: Invalid value: {shown!r}: must be {words}, "
        f"at most {limit} characters"
    )


def _objects(doc: Any, where: str) -> list[Obj]:
    if doc is None:
        return []
    if not isinstance(doc, dict) or "kind" not in doc:
        raise ManifestError(f"{where}: not a Kubernetes object (no kind)")
    if doc["kind"].endswith("List") and isinstance(doc.get("items"), list):
        return [o for item in doc["items"] for o in _objects(item, where)]
    meta = doc.get("metadata") or {}
    if not meta.get("name"):
        raise ManifestError(f"{where}: {doc['kind']} has no metadata.name")
    if doc["kind"] in ("Service", "EndpointSlice", "Secret") and not meta.get("namespace"):
        doc = {**doc, "metadata": {**meta, "namespace": "default"}}
        meta = doc["metadata"]
    name_rule = "service" if doc["kind"] == "Service" else "subdomain"
    _check_name(where, doc["kind"], "metadata.name", meta["name"], name_rule)
    if meta.get("namespace") is not None:
        _check_name(where, doc["kind"], "metadata.namespace", meta["namespace"], "label")
    return [doc]


def manifest_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix in (".yaml", ".yml", ".json")
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def load(folder: Path, namespace: str = "metallb-system") -> Snapshot:
    """The folder's objects as the API server would store them (gateway/apiserver_defaults.py)."""
    snap = Snapshot(namespace=namespace)
    objects: list[Obj] = []
    for path in manifest_files(folder):
        text = path.read_text()
        try:
            docs = [json.loads(text)] if path.suffix == ".json" else list(yaml.safe_load_all(text))
        except (yaml.YAMLError, json.JSONDecodeError) as err:
            raise ManifestError(f"{path}: {err}") from None
        for i, doc in enumerate(docs):
            objects.extend(_objects(doc, f"{path}#{i}"))
    try:
        defaulted = apply_defaults(objects)
    except DefaultingError as err:
        raise ManifestError(f"{folder}: {err}") from None
    for obj in defaulted:
        snap.add(obj)
    return snap
