"""Checks of the protobuf well-known types a client sends, before anything reads them.

A `google.protobuf.Duration` on the wire is two integers that its own spec constrains (seconds
within ±315,576,000,000, nanos within ±999,999,999 and of the same sign); protobuf parses any
values, and its helpers (`ToJsonString`, `ToTimedelta`) raise ValueError on the others. A
request carrying one is refused here with INVALID_ARGUMENT naming the field, instead of an
INTERNAL from deep inside a conversion (found by tests/fuzz/test_servicers.py).
"""

from google.protobuf.duration_pb2 import Duration

from metallb_rules.errors import InvalidArgumentError

MAX_DURATION_SECONDS = 315_576_000_000  # 10,000 years, the Duration spec's bound
MAX_NANOS = 999_999_999
NS_PER_S = 1_000_000_000


def duration_nanoseconds(duration: Duration, field: str) -> int:
    """The duration in nanoseconds; INVALID_ARGUMENT naming `field` if it breaks the spec."""
    seconds, nanos = duration.seconds, duration.nanos
    if (
        abs(seconds) > MAX_DURATION_SECONDS
        or abs(nanos) > MAX_NANOS
        or (seconds > 0 and nanos < 0)
        or (seconds < 0 and nanos > 0)
    ):
        raise InvalidArgumentError(
            f"not a valid google.protobuf.Duration (seconds {seconds}, nanos {nanos}: seconds "
            f"within ±{MAX_DURATION_SECONDS}, nanos within ±{MAX_NANOS}, of the same sign)",
            field,
        )
    return seconds * NS_PER_S + nanos
