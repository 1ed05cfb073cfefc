"""MetalLB's BFDProfile as a validated value (shared by the BFD service and the gateway).

Theory of operation
-------------------
A `BFDProfile` carries the seven knobs of MetalLB's `BFDProfile` CR (`metallb.io/v1beta1`) with
MetalLB's documented defaults. Construction validates the ranges MetalLB's config parser applies
(`bfdProfileFromCR`) and raises `ProfileError` with the very text MetalLB produces: the range
error `invalid value %d, must be in %d-%d range` joined (Go `errors.Join`, i.e. a newline) with
the field's message such as `invalid detect multiplier value`. Fields are checked in MetalLB's
order, so with several bad fields the first one is reported. The gateway adds MetalLB's outer
wrapping (`parsing bfd profile #%d: %s`).

Intervals are milliseconds, as in the CR; the session converts them to the microseconds of the
wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["BFDProfile", "ProfileError"]


class ProfileError(ValueError):
    """A BFDProfile value is out of range; the message is MetalLB's exact text."""


# (attribute, CR field, min, max, message joined after the range error), in MetalLB's order.
_RANGES: tuple[tuple[str, str, int, int, str], ...] = (
    ("detect_multiplier", "detectMultiplier", 2, 255, "invalid detect multiplier value"),
    ("receive_interval", "receiveInterval", 10, 60000, "invalid receive interval value"),
    ("transmit_interval", "transmitInterval", 10, 60000, "invalid transmit interval value"),
    ("minimum_ttl", "minimumTtl", 1, 254, "invalid minimum ttl value"),
    ("echo_interval", "echoInterval", 10, 60000, "invalid echo interval value"),
)


@dataclass(frozen=True, slots=True)
class BFDProfile:
    """BFD timers and modes for a session; defaults are MetalLB's."""

    name: str = "default"
    receive_interval: int = 300  # ms: RequiredMinRxInterval
    transmit_interval: int = 300  # ms: DesiredMinTxInterval
    detect_multiplier: int = 3
    echo_interval: int = 50  # ms: echo transmit and RequiredMinEchoRxInterval
    echo_mode: bool = False
    passive_mode: bool = False
    minimum_ttl: int = 254  # multihop only

    def __post_init__(self) -> None:
        if not self.name:
            raise ProfileError("missing bfd profile name")
        for attr, _field, low, high, message in _RANGES:
            value = getattr(self, attr)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ProfileError(f"{message}: not an integer: {value!r}")
            if not low <= value <= high:
                raise ProfileError(
                    f"invalid value {value}, must be in {low}-{high} range\n{message}"
                )

    @classmethod
    def from_spec(cls, name: str, spec: Mapping[str, object]) -> BFDProfile:
        """Build from a CR spec with camelCase keys; absent or null keys take the defaults."""
        kwargs: dict[str, object] = {}
        for attr, field, *_ in _RANGES:
            if spec.get(field) is not None:
                kwargs[attr] = spec[field]
        for attr, field in (("echo_mode", "echoMode"), ("passive_mode", "passiveMode")):
            if spec.get(field) is not None:
                kwargs[attr] = bool(spec[field])
        return cls(name, **kwargs)  # type: ignore[arg-type]
