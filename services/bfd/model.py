"""A BFD session's configuration as the service sees it, validated, and the service's errors.

A session is identified by its peer address and the device it is bound to: the interface, or
else the VRF, or nothing (`SessionKey(peer, interface or vrf)`); both are network device names,
unique within a network namespace. Validation raises `DomainError`s naming the request field;
profile values are checked by `BFDProfile` with MetalLB's texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address

from metallb_rules.bfd_profile import BFDProfile
from metallb_rules.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from services.bfd.core.table import SessionKey

DEFAULT_PROFILE = BFDProfile()

__all__ = [
    "SessionExistsError",
    "SessionNotFoundError",
    "SessionSpec",
    "make_key",
    "parse_address",
]

IPAddress = IPv4Address | IPv6Address


class SessionExistsError(AlreadyExistsError):
    pass


class SessionNotFoundError(NotFoundError):
    pass


def parse_address(text: str, field: str, what: str) -> IPAddress:
    try:
        return ip_address(text)
    except ValueError:
        raise InvalidArgumentError(f"invalid {what} address {text!r}", field) from None


def make_key(peer: IPAddress, interface: str, vrf: str) -> SessionKey:
    return SessionKey(peer, interface or vrf)


@dataclass(frozen=True, slots=True)
class SessionSpec:
    """The configured intent for one session."""

    peer: IPAddress
    local: IPAddress | None = None
    interface: str = ""
    vrf: str = ""
    multihop: bool = False
    profile: BFDProfile = DEFAULT_PROFILE
    admin_down: bool = False

    def __post_init__(self) -> None:
        if self.local is not None and self.local.version != self.peer.version:
            raise InvalidArgumentError(
                f"local address {self.local} and peer address {self.peer} differ in family",
                "local_address",
            )
        if self.peer.is_multicast or self.peer.is_unspecified:
            raise InvalidArgumentError(f"peer address {self.peer} is not unicast", "peer_address")
        if (
            not self.multihop
            and isinstance(self.peer, IPv6Address)
            and self.peer.is_link_local
            and not self.interface
        ):
            raise InvalidArgumentError(
                f"link-local peer {self.peer} needs an interface", "interface"
            )
        for name in ("interface", "vrf"):
            value: str = getattr(self, name)
            if len(value) > 15 or "/" in value or value.strip() != value:
                raise InvalidArgumentError(f"invalid device name {value!r}", name)

    @property
    def key(self) -> SessionKey:
        return make_key(self.peer, self.interface, self.vrf)

    @property
    def device(self) -> str:
        """The device sockets bind to: the interface, else the VRF, else none."""
        return self.interface or self.vrf

    def same_binding(self, other: SessionSpec) -> bool:
        """Whether `other` differs only in what an update may change (profile, admin state)."""
        return (self.peer, self.local, self.interface, self.vrf, self.multihop) == (
            other.peer,
            other.local,
            other.interface,
            other.vrf,
            other.multihop,
        )
