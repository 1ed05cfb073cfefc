"""Reception rules that need no session (RFC 5880 §6.8.6) and TTL rules (RFC 5881/5883)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from services.bfd.core.drop import DropReason
from services.bfd.core.packet import ControlPacket, State, encode
from services.bfd.core.validate import check_control, check_ttl, parse_control

GOOD = ControlPacket(
    State.UP,
    my_discriminator=1,
    your_discriminator=2,
    detect_mult=3,
    desired_min_tx=300_000,
    required_min_rx=300_000,
)


@pytest.mark.parametrize(
    ("packet", "reason"),
    [
        (replace(GOOD, detect_mult=0), DropReason.DETECT_MULT_ZERO),
        (replace(GOOD, multipoint=True), DropReason.MULTIPOINT_SET),
        (replace(GOOD, my_discriminator=0), DropReason.MY_DISCRIMINATOR_ZERO),
        (replace(GOOD, your_discriminator=0), DropReason.YOUR_DISCRIMINATOR_ZERO_NOT_DOWN),
        (
            replace(GOOD, your_discriminator=0, state=State.INIT),
            DropReason.YOUR_DISCRIMINATOR_ZERO_NOT_DOWN,
        ),
    ],
)
def test_sessionless_rules(packet: ControlPacket, reason: DropReason) -> None:
    assert check_control(packet) is reason
    assert parse_control(encode(packet)) is reason


@pytest.mark.parametrize("state", [State.DOWN, State.ADMIN_DOWN])
def test_your_discriminator_zero_is_fine_in_down_and_admin_down(state: State) -> None:
    packet = replace(GOOD, your_discriminator=0, state=state)
    assert check_control(packet) is None
    assert parse_control(encode(packet)) == packet


def test_rfc_order_first_failing_rule_wins() -> None:
    # Detect Mult is checked before the M bit, which is checked before My Discriminator.
    bad = replace(GOOD, detect_mult=0, multipoint=True, my_discriminator=0)
    assert check_control(bad) is DropReason.DETECT_MULT_ZERO
    assert check_control(replace(bad, detect_mult=1)) is DropReason.MULTIPOINT_SET


@pytest.mark.parametrize(
    ("ttl", "multihop", "minimum", "reason"),
    [
        (255, False, 254, None),
        (254, False, 254, DropReason.TTL_NOT_255),
        (1, False, 1, DropReason.TTL_NOT_255),
        (255, True, 254, None),
        (254, True, 254, None),
        (253, True, 254, DropReason.TTL_BELOW_MINIMUM),
        (1, True, 1, None),
        (0, True, 1, DropReason.TTL_BELOW_MINIMUM),
    ],
)
def test_ttl(ttl: int, multihop: bool, minimum: int, reason: DropReason | None) -> None:
    assert check_ttl(ttl, multihop=multihop, minimum_ttl=minimum) is reason
