"""Kubernetes label selectors (metav1.LabelSelector) and their matching rules.

A selector is a conjunction: every matchLabels pair and every matchExpressions requirement must
hold. An empty selector matches everything, as `metav1.LabelSelectorAsSelector` makes it.
`render()` gives the canonical `labels.Selector.String()` form (requirements sorted by key), which
MetalLB prints in its duplicate-definition errors.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from metallb_rules.gotext import quote


class Operator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class SelectorError(ValueError):
    """A selector Kubernetes would refuse to build."""


_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _check_key(key: str) -> None:
    prefix, _, name = key.rpartition("/")
    if not name or len(name) > 63 or not _NAME.match(name):
        raise SelectorError(f"invalid label key {quote(key)}")
    if "/" in key and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        raise SelectorError(f"invalid label key {quote(key)}")


def _check_value(value: str) -> None:
    if value and (len(value) > 63 or not _NAME.match(value)):
        raise SelectorError(f"invalid label value: {quote(value)}")


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator is Operator.IN:
            return self.key in labels and labels[self.key] in self.values
        if self.operator is Operator.NOT_IN:
            return self.key not in labels or labels[self.key] not in self.values
        if self.operator is Operator.EXISTS:
            return self.key in labels
        return self.key not in labels

    def render(self) -> str:
        vals = ",".join(sorted(self.values))
        if self.operator is Operator.IN:
            return f"{self.key} in ({vals})"
        if self.operator is Operator.NOT_IN:
            return f"{self.key} notin ({vals})"
        if self.operator is Operator.EXISTS:
            return self.key
        return f"!{self.key}"


@dataclass(frozen=True)
class LabelSelector:
    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[Requirement, ...] = field(default=())

    @classmethod
    def build(
        cls,
        match_labels: Mapping[str, str] | None = None,
        match_expressions: Iterable[tuple[str, str, Iterable[str]]] = (),
    ) -> "LabelSelector":
        """Validate and build, as `metav1.LabelSelectorAsSelector` does."""
        labels = tuple(sorted((match_labels or {}).items()))
        for key, value in labels:
            _check_key(key)
            _check_value(value)
        reqs = []
        for key, op_text, values in match_expressions:
            _check_key(key)
            try:
                op = Operator(op_text)
            except ValueError:
                raise SelectorError(
                    f"{quote(op_text)} is not a valid label selector operator"
                ) from None
            vals = tuple(values)
            if op in (Operator.IN, Operator.NOT_IN) and not vals:
                raise SelectorError("for 'in', 'notin' operators, values set can't be empty")
            if op in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and vals:
                raise SelectorError("values set must be empty for exists and does not exist")
            for v in vals:
                _check_value(v)
            reqs.append(Requirement(key, op, vals))
        return cls(labels, tuple(reqs))

    @property
    def is_everything(self) -> bool:
        return not self.match_labels and not self.match_expressions

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match_labels) and all(
            r.matches(labels) for r in self.match_expressions
        )

    def render(self) -> str:
        """`labels.Selector.String()`: requirements sorted by key, comma-separated."""
        parts = [(k, f"{k}={v}") for k, v in self.match_labels]
        parts += [(r.key, r.render()) for r in self.match_expressions]
        return ",".join(text for _, text in sorted(parts, key=lambda p: p[0]))


EVERYTHING = LabelSelector()
