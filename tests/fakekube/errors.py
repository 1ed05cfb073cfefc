"""Kubernetes `Status` errors, as the API server writes them on the wire.

Store operations raise `KubeError`; the HTTP layer turns it into the JSON `Status` body and the
HTTP code, so the real client raises `ApiException` with the same `status` and `reason`.
"""

from __future__ import annotations

from typing import Any

from .kinds import ResourceKind

__all__ = [
    "KubeError",
    "already_exists",
    "bad_request",
    "conflict",
    "expired",
    "internal_error",
    "invalid",
    "not_found",
    "status_object",
]


def status_object(
    code: int,
    reason: str,
    message: str,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A `Status` of Failure (metav1.Status), the body of every error response."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


class KubeError(Exception):
    """An API error: HTTP code, Kubernetes reason (StatusReason) and message."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        """The `Status` JSON object for this error."""
        return status_object(self.code, self.reason, self.message, self.details)


def _details(kind: ResourceKind, name: str) -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, "kind": kind.plural}
    if kind.group:
        d["group"] = kind.group
    return d


def not_found(kind: ResourceKind, name: str) -> KubeError:
    """404 NotFound for one object."""
    return KubeError(
        404, "NotFound", f'{kind.qualified()} "{name}" not found', _details(kind, name)
    )


def already_exists(kind: ResourceKind, name: str) -> KubeError:
    """409 AlreadyExists on create."""
    return KubeError(
        409, "AlreadyExists", f'{kind.qualified()} "{name}" already exists', _details(kind, name)
    )


def conflict(kind: ResourceKind, name: str, why: str | None = None) -> KubeError:
    """409 Conflict: a stale resourceVersion or failed precondition."""
    why = why or (
        "the object has been modified; please apply your changes to the latest version "
        "and try again"
    )
    return KubeError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {kind.qualified()} "{name}": {why}',
        _details(kind, name),
    )


def invalid(kind: ResourceKind, name: str, causes: list[dict[str, str]]) -> KubeError:
    """422 Invalid, with one cause per offending field (`field`, `reason`, `message`)."""
    text = "; ".join(f"{c.get('field', '')}: {c.get('message', '')}" for c in causes)
    details = _details(kind, name)
    details["kind"] = kind.kind
    details["causes"] = causes
    return KubeError(422, "Invalid", f'{kind.kind} "{name}" is invalid: {text}', details)


def expired(message: str) -> KubeError:
    """410 Expired (Gone): a too old resourceVersion or continue token."""
    return KubeError(410, "Expired", message)


def bad_request(message: str) -> KubeError:
    """400 BadRequest."""
    return KubeError(400, "BadRequest", message)


def internal_error(message: str) -> KubeError:
    """500 InternalError."""
    return KubeError(500, "InternalError", f"Internal error occurred: {message}")
