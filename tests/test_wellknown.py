"""A Duration that breaks its own spec is INVALID_ARGUMENT naming the field (the fuzzer's find:
BFD's AddSession answered INTERNAL, protobuf's ToJsonString raising ValueError in an error
text)."""

import pytest
from google.protobuf.duration_pb2 import Duration

from metallb_rules.errors import InvalidArgumentError
from metallb_runtime.wellknown import duration_nanoseconds


@pytest.mark.parametrize(
    ("seconds", "nanos", "want"),
    [
        (0, 0, 0),
        (1, 500_000_000, 1_500_000_000),
        (-1, -500_000_000, -1_500_000_000),
        (315_576_000_000, 999_999_999, 315_576_000_000_999_999_999),
        (0, -999_999_999, -999_999_999),
    ],
)
def test_a_valid_duration_in_nanoseconds(seconds: int, nanos: int, want: int) -> None:
    assert duration_nanoseconds(Duration(seconds=seconds, nanos=nanos), "f") == want


@pytest.mark.parametrize(
    ("seconds", "nanos"),
    [(186, 1_333_725_254), (0, -1_000_000_000), (1, -1), (-1, 1), (315_576_000_001, 0)],
)
def test_an_invalid_duration_is_refused_naming_the_field(seconds: int, nanos: int) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        duration_nanoseconds(Duration(seconds=seconds, nanos=nanos), "session.profile.x")
    assert info.value.field == "session.profile.x"
    assert "not a valid google.protobuf.Duration" in info.value.message
