"""Building blocks of OpenAPI v3 structural schemas, as plain dicts ready for YAML.

Each helper returns a fresh dict so that a shared piece (the LabelSelector, say) can be placed in
many schemas without aliasing: PyYAML would otherwise emit anchors and references.
"""

from typing import Any

Schema = dict[str, Any]

UINT32_MAX = 4294967295


def _with(schema: Schema, description: str | None, extra: dict[str, Any]) -> Schema:
    if description:
        schema = {"description": description, **schema}
    schema.update(extra)
    return schema


def string(description: str | None = None, **extra: Any) -> Schema:
    return _with({"type": "string"}, description, extra)


def boolean(description: str | None = None, **extra: Any) -> Schema:
    return _with({"type": "boolean"}, description, extra)


def integer(
    description: str | None = None,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    fmt: str | None = None,
    **extra: Any,
) -> Schema:
    schema: Schema = {"type": "integer"}
    if fmt is not None:
        schema["format"] = fmt
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return _with(schema, description, extra)


def array(items: Schema, description: str | None = None, **extra: Any) -> Schema:
    return _with({"type": "array", "items": items}, description, extra)


def strings(description: str | None = None, **extra: Any) -> Schema:
    return array(string(), description, **extra)


def obj(
    properties: dict[str, Schema] | None = None,
    description: str | None = None,
    *,
    required: list[str] | None = None,
    extensions: dict[str, Any] | None = None,
    **extra: Any,
) -> Schema:
    """An object schema; `extensions` holds the `x-kubernetes-*` keys, not valid Python names."""
    schema: Schema = {"type": "object"}
    if properties is not None:
        schema["properties"] = dict(sorted(properties.items()))
    if required:
        schema["required"] = sorted(required)
    return _with(schema, description, {**extra, **(extensions or {})})


def rule(expression: str, message: str) -> dict[str, str]:
    """One `x-kubernetes-validations` entry (a CEL rule and the exact message it reports)."""
    return {"message": message, "rule": expression}


def immutable(schema: Schema, message: str) -> Schema:
    """`schema` with a transition rule refusing any change once set."""
    return {**schema, "x-kubernetes-validations": [rule("self == oldSelf", message)]}


def label_selector(*, legacy: bool = False) -> Schema:
    """metav1.LabelSelector; `legacy`: v1beta1 BGPPeer's flavour, whose requirements need values."""
    values = strings(
        "values is an array of string values. If the operator is In or NotIn, the values array "
        "must be non-empty. If the operator is Exists or DoesNotExist, the values array must be "
        "empty.",
        **({"minItems": 1} if legacy else {"x-kubernetes-list-type": "atomic"}),
    )
    requirement = obj(
        {
            "key": string("key is the label key that the selector applies to."),
            "operator": string(
                "operator represents a key's relationship to a set of values. Valid operators "
                "are In, NotIn, Exists and DoesNotExist."
            ),
            "values": values,
        },
        "A label selector requirement: a key, an operator and values.",
        required=["key", "operator", "values"] if legacy else ["key", "operator"],
    )
    expressions = array(
        requirement, "matchExpressions is a list of label selector requirements, ANDed."
    )
    if not legacy:
        expressions["x-kubernetes-list-type"] = "atomic"
    selector = obj(
        {
            "matchExpressions": expressions,
            "matchLabels": obj(
                None,
                "matchLabels is a map of {key,value} pairs, each equivalent to an In requirement.",
                additionalProperties=string(),
            ),
        },
        "A label selector: matchLabels and matchExpressions are ANDed; an empty selector "
        "matches everything.",
    )
    if not legacy:
        selector["x-kubernetes-map-type"] = "atomic"
    return selector


def selectors(description: str, *, legacy: bool = False) -> Schema:
    return array(label_selector(legacy=legacy), description)


def condition() -> Schema:
    """metav1.Condition, with the apiserver's own limits."""
    return obj(
        {
            "lastTransitionTime": string("When the condition last changed.", format="date-time"),
            "message": string("A human readable message.", maxLength=32768),
            "observedGeneration": integer(
                "The .metadata.generation the condition was set for.", minimum=0, fmt="int64"
            ),
            "reason": string(
                "A CamelCase identifier of the reason for the last transition.",
                maxLength=1024,
                minLength=1,
                pattern="^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
            ),
            "status": string("True, False or Unknown.", enum=["True", "False", "Unknown"]),
            "type": string(
                "The condition's type, CamelCase or foo.example.com/CamelCase.",
                maxLength=316,
                pattern=(
                    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
                ),
            ),
        },
        "One aspect of the current state of this object.",
        required=["lastTransitionTime", "message", "reason", "status", "type"],
    )
