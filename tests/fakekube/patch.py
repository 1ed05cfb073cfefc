"""PATCH bodies: JSON merge patch (RFC 7386) and JSON patch (RFC 6902).

Strategic merge patch is applied as a JSON merge patch: lists are replaced, not merged by key.
That is enough for the objects this project writes (annotations, labels, status blocks);
a test relying on list merging by key would need the real apiserver.
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import KubeError

__all__ = ["PatchError", "json_patch", "merge_patch"]


class PatchError(KubeError):
    """A patch that cannot be applied: 422 (test failed, missing path) as the apiserver answers."""

    def __init__(self, message: str, code: int = 422) -> None:
        super().__init__(code, "Invalid" if code == 422 else "BadRequest", message)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, `null` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: dict[str, Any] = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _split_pointer(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"invalid JSON pointer {pointer!r}")
    return [_unescape(t) for t in pointer[1:].split("/")]


def _list_index(container: list[Any], token: str, *, for_add: bool) -> int:
    if for_add and token == "-":
        return len(container)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise PatchError(f"invalid array index {token!r}")
    index = int(token)
    limit = len(container) if for_add else len(container) - 1
    if index > limit:
        raise PatchError(f"array index {index} out of range")
    return index


def _resolve(doc: Any, tokens: list[str], pointer: str) -> Any:
    cur = doc
    for token in tokens:
        if isinstance(cur, dict):
            if token not in cur:
                raise PatchError(f"path {pointer!r} does not exist")
            cur = cur[token]
        elif isinstance(cur, list):
            cur = cur[_list_index(cur, token, for_add=False)]
        else:
            raise PatchError(f"path {pointer!r} does not exist")
    return cur


def _add(doc: Any, pointer: str, value: Any) -> Any:
    tokens = _split_pointer(pointer)
    if not tokens:
        return copy.deepcopy(value)
    parent = _resolve(doc, tokens[:-1], pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        parent.insert(_list_index(parent, last, for_add=True), copy.deepcopy(value))
    else:
        raise PatchError(f"path {pointer!r} does not exist")
    return doc


def _remove(doc: Any, pointer: str) -> tuple[Any, Any]:
    tokens = _split_pointer(pointer)
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _resolve(doc, tokens[:-1], pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"path {pointer!r} does not exist")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_list_index(parent, last, for_add=False))
    raise PatchError(f"path {pointer!r} does not exist")


def json_patch(doc: Any, operations: Any) -> Any:
    """RFC 6902: apply add/remove/replace/move/copy/test in order to a copy of `doc`."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations", code=400)
    result = copy.deepcopy(doc)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"invalid JSON patch operation {op!r}", code=400)
        kind, path = op["op"], op["path"]
        if kind == "add":
            result = _add(result, path, op.get("value"))
        elif kind == "remove":
            result, _ = _remove(result, path)
        elif kind == "replace":
            result, _ = _remove(result, path)
            result = _add(result, path, op.get("value"))
        elif kind == "move":
            result, value = _remove(result, op["from"])
            result = _add(result, path, value)
        elif kind == "copy":
            value = _resolve(result, _split_pointer(op["from"]), op["from"])
            result = _add(result, path, value)
        elif kind == "test":
            if _resolve(result, _split_pointer(path), path) != op.get("value"):
                raise PatchError(f"testing value {path} failed")
        else:
            raise PatchError(f"unknown JSON patch operation {kind!r}", code=400)
    return result
