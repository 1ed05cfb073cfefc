"""The allocator's errors, each carrying MetalLB's exact text and the gRPC status that fits."""

from metallb_rules.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    ResourceExhaustedError,
    UnavailableError,
)
from metallb_rules.pools import InvalidPoolsError

__all__ = [
    "AddressInUseError",
    "InvalidPoolsError",
    "InvalidServiceError",
    "NoAllocationError",
    "NotAllowedError",
    "PoolExhaustedError",
    "RestoreInProgressError",
    "UnknownPoolError",
]


class InvalidServiceError(InvalidArgumentError):
    """The service description is malformed (requested IPs, families, ports)."""


class UnknownPoolError(NotFoundError):
    """`unknown pool %q`."""


class PoolExhaustedError(ResourceExhaustedError):
    """No address left: `no available IPs`, `no available IPs in pool %s ...`."""


class NotAllowedError(FailedPreconditionError):
    """The addresses are in no pool, or in a pool that does not admit the service."""


class AddressInUseError(AlreadyExistsError):
    """The address is held by a service it may not be shared with, or the port is taken."""


class NoAllocationError(NotFoundError):
    """The service holds no allocation."""


class RestoreInProgressError(UnavailableError):
    """No new address is handed out until the caller has restored every existing one."""
