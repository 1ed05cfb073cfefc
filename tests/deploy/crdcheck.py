"""Validate custom resources against our CRDs offline, the way the API server would.

In the API server's order: find the served version, apply the schema's defaults, check the
structural schema (types, required, enums, ranges; unknown fields are errors, as with kubectl's
default `--validate=strict`), then evaluate every `x-kubernetes-validations` CEL rule with the
`cel-python` interpreter — the rule text of the CRD itself, so a wrong rule fails here. Transition
rules (those reading `oldSelf`) run only when an old object is given, as on an update.
"""

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import celpy
import jsonschema  # type: ignore[import-untyped]
from celpy.adapter import json_to_cel
from celpy.evaluation import CELEvalError

Obj = dict[str, Any]


@dataclass(frozen=True)
class Served:
    crd: Obj
    version: Obj

    @property
    def schema(self) -> Obj:
        schema: Obj = self.version["schema"]["openAPIV3Schema"]
        return schema


def _json_schema(schema: Obj) -> Obj:
    """The structural schema as JSON Schema: objects with properties reject unknown fields."""
    out: Obj = {k: v for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    out.pop("default", None)
    out.pop("format", None)
    if "properties" in out:
        out["properties"] = {k: _json_schema(v) for k, v in out["properties"].items()}
        out.setdefault("additionalProperties", False)
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = _json_schema(out["additionalProperties"])
    if "items" in out:
        out["items"] = _json_schema(out["items"])
    return out


def apply_defaults(schema: Obj, value: Any) -> Any:
    """`value` with the schema's defaults filled in, recursively (the API server's defaulting)."""
    if isinstance(value, dict) and "properties" in schema:
        out = dict(value)
        for name, sub in schema["properties"].items():
            if name not in out and "default" in sub:
                out[name] = copy.deepcopy(sub["default"])
            if name in out:
                out[name] = apply_defaults(sub, out[name])
        return out
    if isinstance(value, list) and "items" in schema:
        return [apply_defaults(schema["items"], v) for v in value]
    return value


def _path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out.lstrip(".") or "<root>"


_ENV = celpy.Environment()
_PROGRAMS: dict[str, celpy.Runner] = {}


def _program(expression: str) -> celpy.Runner:
    if expression not in _PROGRAMS:
        _PROGRAMS[expression] = _ENV.program(_ENV.compile(expression))
    return _PROGRAMS[expression]


def compile_rule(expression: str) -> None:
    """Raise if the CEL expression does not parse."""
    _program(expression)


def _cel(schema: Obj, value: Any, old: Any, path: list[Any], errors: list[str]) -> None:
    for entry in schema.get("x-kubernetes-validations", []):
        expression = entry["rule"]
        if "oldSelf" in expression and old is None:
            continue  # a transition rule: only on updates that had a value before
        activation = {"self": json_to_cel(value)}
        if old is not None:
            activation["oldSelf"] = json_to_cel(old)
        try:
            ok = bool(_program(expression).evaluate(activation))
        except CELEvalError:
            ok = False
        if not ok:
            errors.append(f"{_path(path)}: Invalid value: {entry['message']}")
    if isinstance(value, dict) and "properties" in schema:
        for name, sub in schema["properties"].items():
            if name in value:
                old_sub = old.get(name) if isinstance(old, dict) else None
                _cel(sub, value[name], old_sub, [*path, name], errors)
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            _cel(schema["items"], item, None, [*path, i], errors)


class CRDSet:
    """The CRDs of one rendering, indexed by (group, version, kind)."""

    def __init__(self, crds: Iterable[Obj]) -> None:
        self._served: dict[tuple[str, str, str], Served] = {}
        self.kinds: set[tuple[str, str]] = set()
        for crd in crds:
            spec = crd["spec"]
            kind = spec["names"]["kind"]
            self.kinds.add((spec["group"], kind))
            for version in spec["versions"]:
                if version["served"]:
                    self._served[(spec["group"], version["name"], kind)] = Served(crd, version)

    def knows(self, obj: Obj) -> bool:
        group = obj.get("apiVersion", "").partition("/")[0]
        return (group, obj.get("kind", "")) in self.kinds

    def served(self, obj: Obj) -> Served:
        group, _, version = obj["apiVersion"].partition("/")
        return self._served[(group, version, obj["kind"])]

    def validate(self, obj: Obj, old: Obj | None = None) -> list[str]:
        """The API server's complaints about creating `obj` (or updating `old` to it)."""
        group, _, version = obj.get("apiVersion", "").partition("/")
        key = (group, version, obj.get("kind", ""))
        if key not in self._served:
            return [f"no served CRD version for {obj.get('apiVersion')} {obj.get('kind')}"]
        schema = self._served[key].schema
        defaulted = apply_defaults(schema, obj)
        errors = [
            f"{_path(e.absolute_path)}: {e.message}"
            for e in jsonschema.Draft202012Validator(_json_schema(schema)).iter_errors(defaulted)
        ]
        if errors:
            return sorted(errors)
        old_defaulted = apply_defaults(schema, old) if old is not None else None
        _cel(schema, defaulted, old_defaulted, [], errors)
        return errors
