"""Label and field selectors, parsed from their query-string form.

Label selectors follow k8s.io/apimachinery/pkg/labels: `a=b`, `a==b`, `a!=b`, `a in (x,y)`,
`a notin (x,y)`, `a` (exists) and `!a` (does not exist), joined by commas. Field selectors
support `=`, `==` and `!=` on dotted paths (`metadata.name`); which paths a kind accepts is
decided by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import bad_request

__all__ = ["FieldSelector", "LabelSelector"]

_KEY = r"(?:[A-Za-z0-9.\-]+/)?[A-Za-z0-9](?:[A-Za-z0-9_.\-]*[A-Za-z0-9])?"
_VALUE = r"(?:[A-Za-z0-9](?:[A-Za-z0-9_.\-]*[A-Za-z0-9])?)?"
_SET_RE = re.compile(rf"^\s*({_KEY})\s+(in|notin)\s+\(([^)]*)\)\s*$")
_OP_RE = re.compile(rf"^\s*({_KEY})\s*(==|!=|=)\s*({_VALUE})\s*$")
_EXISTS_RE = re.compile(rf"^\s*(!?)\s*({_KEY})\s*$")
_VALUE_RE = re.compile(rf"^{_VALUE}$")


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    depth = 0
    cur: list[str] = []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p for p in parts if p.strip()]


Requirement = Callable[[Mapping[str, str]], bool]


def _parse_requirement(term: str, selector: str) -> Requirement:
    if m := _SET_RE.match(term):
        key, op = m.group(1), m.group(2)
        values = {v.strip() for v in m.group(3).split(",") if v.strip()}
        if not values or not all(_VALUE_RE.match(v) for v in values):
            raise bad_request(f"unable to parse requirement: invalid values in {selector!r}")
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if m := _OP_RE.match(term):
        key, op, value = m.group(1), m.group(2), m.group(3)
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if m := _EXISTS_RE.match(term):
        neg, key = m.group(1), m.group(2)
        if neg:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise bad_request(f"unable to parse requirement: {selector!r}")


@dataclass(frozen=True)
class LabelSelector:
    """A parsed label selector; the empty selector matches everything."""

    text: str
    requirements: tuple[Requirement, ...]

    @classmethod
    def parse(cls, text: str | None) -> LabelSelector:
        """Parse `text`; raises a 400 BadRequest `KubeError` when it is malformed."""
        text = text or ""
        reqs = tuple(_parse_requirement(t, text) for t in _split_top_level(text))
        return cls(text, reqs)

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """True when the object's metadata.labels satisfy every requirement."""
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(req(labels) for req in self.requirements)


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The string form of the value at dotted `path` ("" when absent), as apiserver compares it."""
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return ""
        cur = cur[part]
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return "" if cur is None else str(cur)


@dataclass(frozen=True)
class FieldSelector:
    """A parsed field selector: (path, operator, value) terms, all of which must hold."""

    text: str
    terms: tuple[tuple[str, str, str], ...]

    @classmethod
    def parse(cls, text: str | None, supported: frozenset[str]) -> FieldSelector:
        """Parse `text`; unknown paths are a 400 BadRequest as in the apiserver."""
        text = text or ""
        terms: list[tuple[str, str, str]] = []
        for term in _split_top_level(text):
            m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(==|!=|=)\s*(.*?)\s*$", term)
            if not m:
                raise bad_request(f"invalid selector: {text!r}; can't understand {term!r}")
            path, op, value = m.groups()
            if path not in supported:
                raise bad_request(f'field label not supported: "{path}"')
            terms.append((path, "!=" if op == "!=" else "=", value))
        return cls(text, tuple(terms))

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """True when every term holds for `obj`."""
        for path, op, value in self.terms:
            actual = field_value(obj, path)
            if (actual == value) != (op == "="):
                return False
        return True
