"""Domain errors that know their gRPC status, defined without importing grpc.

Cores raise subclasses of `DomainError`; the shared error-mapping interceptor turns them into the
gRPC status named by `status` (a `grpc.StatusCode` member name). `field` names the request field
at fault, so an INVALID_ARGUMENT says which field, as the project's API rules require.
"""

from typing import ClassVar


class DomainError(Exception):
    """An error the caller caused or must handle; never a bug (those surface as INTERNAL)."""

    status: ClassVar[str] = "FAILED_PRECONDITION"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def with_field(self, field: str) -> "DomainError":
        """The same error, attributed to `field` (a prefix is added to a nested field)."""
        self.field = f"{field}.{self.field}" if self.field else field
        return self

    def describe(self) -> str:
        """The text a client sees: `field: message`, or the message alone."""
        return f"{self.field}: {self.message}" if self.field else self.message


def kept(err: DomainError) -> DomainError:
    """`err` without its traceback, to keep as a value (one result of a batch). Its traceback
    holds the frame that caught it, whose locals hold the batch's results, `err` among them: a
    reference cycle, freed only by the cyclic collector, which the servers run rarely
    (metallb_runtime/runtime.py). 16,384 such errors kept a 16 MB cycle per AllocateBatch."""
    return err.with_traceback(None)


class InvalidArgumentError(DomainError):
    status = "INVALID_ARGUMENT"


class NotFoundError(DomainError):
    status = "NOT_FOUND"


class AlreadyExistsError(DomainError):
    status = "ALREADY_EXISTS"


class ResourceExhaustedError(DomainError):
    status = "RESOURCE_EXHAUSTED"


class FailedPreconditionError(DomainError):
    status = "FAILED_PRECONDITION"


class UnavailableError(DomainError):
    status = "UNAVAILABLE"
