"""BFDProfile: MetalLB's defaults, ranges and exact error texts."""

from __future__ import annotations

import pytest

from metallb_rules.bfd_profile import BFDProfile, ProfileError
from services.bfd.core.session import SessionParams


def test_defaults_are_metallbs() -> None:
    profile = BFDProfile("p")
    assert (
        profile.receive_interval,
        profile.transmit_interval,
        profile.detect_multiplier,
        profile.echo_interval,
        profile.echo_mode,
        profile.passive_mode,
        profile.minimum_ttl,
    ) == (300, 300, 3, 50, False, False, 254)


@pytest.mark.parametrize(
    ("field", "value", "text"),
    [
        (
            "detect_multiplier",
            1,
            "invalid value 1, must be in 2-255 range\ninvalid detect multiplier value",
        ),
        (
            "detect_multiplier",
            256,
            "invalid value 256, must be in 2-255 range\ninvalid detect multiplier value",
        ),
        (
            "receive_interval",
            9,
            "invalid value 9, must be in 10-60000 range\ninvalid receive interval value",
        ),
        (
            "receive_interval",
            60001,
            "invalid value 60001, must be in 10-60000 range\ninvalid receive interval value",
        ),
        (
            "transmit_interval",
            0,
            "invalid value 0, must be in 10-60000 range\ninvalid transmit interval value",
        ),
        ("minimum_ttl", 0, "invalid value 0, must be in 1-254 range\ninvalid minimum ttl value"),
        (
            "minimum_ttl",
            255,
            "invalid value 255, must be in 1-254 range\ninvalid minimum ttl value",
        ),
        (
            "echo_interval",
            9,
            "invalid value 9, must be in 10-60000 range\ninvalid echo interval value",
        ),
    ],
)
def test_out_of_range_texts(field: str, value: int, text: str) -> None:
    with pytest.raises(ProfileError) as info:
        BFDProfile("p", **{field: value})  # type: ignore[arg-type]
    assert str(info.value) == text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("detect_multiplier", 2),
        ("detect_multiplier", 255),
        ("receive_interval", 10),
        ("transmit_interval", 60000),
        ("minimum_ttl", 1),
        ("minimum_ttl", 254),
        ("echo_interval", 10),
    ],
)
def test_range_ends_are_accepted(field: str, value: int) -> None:
    assert getattr(BFDProfile("p", **{field: value}), field) == value  # type: ignore[arg-type]


def test_first_bad_field_in_metallb_order_is_reported() -> None:
    # MetalLB checks detect multiplier, receive, transmit, minimum TTL, then echo interval.
    with pytest.raises(ProfileError, match="invalid receive interval value"):
        BFDProfile("p", echo_interval=1, minimum_ttl=0, transmit_interval=1, receive_interval=1)
    with pytest.raises(ProfileError, match="invalid minimum ttl value"):
        BFDProfile("p", echo_interval=1, minimum_ttl=0)


def test_missing_name() -> None:
    with pytest.raises(ProfileError) as info:
        BFDProfile("")
    assert str(info.value) == "missing bfd profile name"


def test_non_integers_are_rejected() -> None:
    with pytest.raises(ProfileError, match="not an integer"):
        BFDProfile("p", detect_multiplier=True)
    with pytest.raises(ProfileError, match="not an integer"):
        BFDProfile("p", receive_interval="300")  # type: ignore[arg-type]


def test_from_spec_uses_camel_case_and_defaults() -> None:
    profile = BFDProfile.from_spec(
        "fast",
        {
            "receiveInterval": 50,
            "transmitInterval": 60,
            "detectMultiplier": 5,
            "echoMode": True,
            "passiveMode": None,
            "minimumTtl": 200,
        },
    )
    assert profile == BFDProfile(
        "fast",
        receive_interval=50,
        transmit_interval=60,
        detect_multiplier=5,
        echo_mode=True,
        minimum_ttl=200,
    )
    with pytest.raises(ProfileError, match="invalid echo interval value"):
        BFDProfile.from_spec("x", {"echoInterval": 70000})


def test_profile_is_frozen_and_maps_to_microseconds() -> None:
    profile = BFDProfile(
        "p", receive_interval=100, transmit_interval=200, echo_interval=20, passive_mode=True
    )
    with pytest.raises(AttributeError):
        profile.receive_interval = 5  # type: ignore[misc]
    params = SessionParams.from_profile(profile)
    assert (params.required_min_rx, params.desired_min_tx, params.echo_interval) == (
        100_000,
        200_000,
        20_000,
    )
    assert params.passive and params.detect_mult == 3 and params.minimum_ttl == 254
