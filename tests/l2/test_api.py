"""metallb.l2.v1 as API v1: what ListAnnouncements returns as `desired` goes back through
SetAnnouncements unchanged (the conversion both ways loses nothing)."""

import pytest
from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as st

from metallb.l2.v1 import l2_pb2
from services.l2 import convert
from services.l2.core.table import InvalidAnnouncementsError

names = st.lists(st.sampled_from(["ens1", "eth0", "br-lan", "bond0.7"]), unique=True)
specs = st.builds(
    lambda ip, interfaces, owner: l2_pb2.AnnouncementSpec(
        ip=ip, all_interfaces=not interfaces, interfaces=sorted(interfaces), owner=owner
    ),
    st.sampled_from(["192.0.2.10", "198.51.100.7", "2001:db8::10", "fd00::1"]),
    names,
    st.sampled_from(["", "demo/web", "demo/db"]),
)


@given(st.lists(specs, max_size=6))
def test_every_announcement_spec_round_trips(messages: list[l2_pb2.AnnouncementSpec]) -> None:
    request = l2_pb2.SetAnnouncementsRequest(announcements=messages)
    again = json_format.Parse(json_format.MessageToJson(request), l2_pb2.SetAnnouncementsRequest())
    domain = convert.specs_from_proto(again.announcements)
    assert [convert.spec_to_proto(spec) for spec in domain] == messages


def test_counts_per_request_are_bounded_and_the_field_named() -> None:
    """Issue 15: one SetAnnouncements could carry any number of entries and interface names
    (up to the message size, itself raisable), all kept by the service."""
    one = l2_pb2.AnnouncementSpec(ip="192.0.2.10", interfaces=["ens1"])
    too_many = [one] * (convert.MAX_ANNOUNCEMENTS + 1)
    wide = l2_pb2.AnnouncementSpec(
        ip="192.0.2.10", interfaces=[f"e{i}" for i in range(convert.MAX_INTERFACES + 1)]
    )
    errors = []
    for messages in (too_many, [one, wide]):
        with pytest.raises(InvalidAnnouncementsError) as info:
            convert.specs_from_proto(messages)
        errors.append((info.value.status, info.value.field))
    assert errors == [
        ("INVALID_ARGUMENT", "announcements"),
        ("INVALID_ARGUMENT", "announcements[1].interfaces"),
    ]
    # At the bounds themselves, accepted.
    assert len(convert.specs_from_proto([one] * convert.MAX_ANNOUNCEMENTS)) == 100_000
    names = [f"e{i}" for i in range(convert.MAX_INTERFACES)]
    assert convert.specs_from_proto([l2_pb2.AnnouncementSpec(ip="192.0.2.1", interfaces=names)])
