"""metallb.bfd.v1 as API v1: Durations and Timestamps, round trips, FieldMask updates.

What GetSession returns can be sent back unchanged (AddSession, UpdateSession) and nothing is
lost; UpdateSession with an update_mask changes only what it names; intervals are whole
milliseconds in a profile, and grpcurl shows them as "0.300s" and times in RFC 3339.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import replace
from ipaddress import ip_address
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask
from hypothesis import given
from hypothesis import strategies as st

from metallb.bfd.v1 import bfd_pb2
from metallb_rules.bfd_profile import BFDProfile
from metallb_rules.errors import InvalidArgumentError
from services.bfd import convert
from services.bfd.model import SessionSpec
from tests.bfd.lab import ms
from tests.bfd.test_service import A, B, _error, _until, bfd_server, conf, free_ports, key
from tests.conftest import require_binary

profiles = st.builds(
    BFDProfile,
    name=st.sampled_from(["default", "fast", "p-1"]),
    receive_interval=st.integers(10, 60_000),
    transmit_interval=st.integers(10, 60_000),
    detect_multiplier=st.integers(2, 255),
    echo_interval=st.integers(10, 60_000),
    echo_mode=st.booleans(),
    passive_mode=st.booleans(),
    minimum_ttl=st.integers(1, 254),
)


@given(
    profile=profiles,
    peer=st.sampled_from(["192.0.2.1", "2001:db8::1"]),
    local=st.booleans(),
    vrf=st.sampled_from(["", "red"]),
    multihop=st.booleans(),
    admin_down=st.booleans(),
)
def test_every_session_conf_round_trips(
    *, profile: BFDProfile, peer: str, local: bool, vrf: str, multihop: bool, admin_down: bool
) -> None:
    """SessionConf and Profile: domain -> proto -> JSON -> proto -> domain loses nothing."""
    peer_ip = ip_address(peer)
    local_ip = ip_address("192.0.2.9" if peer_ip.version == 4 else "2001:db8::9")
    spec = SessionSpec(
        peer=peer_ip,
        local=local_ip if local else None,
        vrf=vrf,
        multihop=multihop,
        profile=profile,
        admin_down=admin_down,
    )
    msg = convert.spec_to_proto(spec)
    again = json_format.Parse(json_format.MessageToJson(msg), bfd_pb2.SessionConf())
    assert again == msg
    assert convert.spec_from_proto(again) == spec


def test_profile_intervals_are_whole_milliseconds_and_name_the_field() -> None:
    profile = bfd_pb2.Profile(receive_interval=Duration(nanos=10_500_000))
    with pytest.raises(InvalidArgumentError) as info:
        convert.profile_from_proto(profile, "session.profile")
    assert info.value.field == "session.profile.receive_interval"
    assert "whole number of milliseconds, not 0.010500s" in str(info.value)
    with pytest.raises(InvalidArgumentError) as info:
        convert.profile_from_proto(bfd_pb2.Profile(echo_interval=ms(5)), "session.profile")
    assert info.value.field == "session.profile.echo_interval"
    assert "invalid echo interval value" in str(info.value)  # MetalLB's text for the range
    parsed = convert.profile_from_proto(bfd_pb2.Profile(transmit_interval=ms(60_000)), "p")
    assert (parsed.transmit_interval, parsed.receive_interval) == (60_000, 300)  # absent: default


def _current() -> bfd_pb2.SessionConf:
    profile = BFDProfile("fast", receive_interval=50, transmit_interval=60, echo_mode=True)
    return convert.spec_to_proto(
        SessionSpec(peer=ip_address("192.0.2.1"), local=ip_address("192.0.2.9"), profile=profile)
    )


@pytest.mark.parametrize(
    ("paths", "edit", "expect"),
    [
        # One profile field named: only it changes.
        (["profile.receive_interval"], {"receive_interval": ms(70)}, {"receive_interval": 70}),
        # Named but absent from the request: MetalLB's default.
        (["profile.transmit_interval"], {}, {"transmit_interval": 300}),
        # The whole profile named: replaced; what the request leaves out takes the defaults.
        (
            ["profile"],
            {"name": "slow", "detect_multiplier": 5},
            {
                "name": "slow",
                "detect_multiplier": 5,
                "receive_interval": 300,
                "transmit_interval": 300,
                "echo_mode": False,
            },
        ),
    ],
)
def test_update_mask_changes_only_the_named_fields(
    paths: list[str], edit: dict[str, Any], expect: dict[str, Any]
) -> None:
    current = _current()
    update = bfd_pb2.SessionConf(
        peer_address="192.0.2.1", profile=bfd_pb2.Profile(**edit), admin_down=True
    )
    merged = convert.merge_update(current, update, FieldMask(paths=paths))
    assert not merged.admin_down  # not named: kept
    assert merged.local_address == "192.0.2.9"  # not named, absent from the request: kept
    before = convert.profile_from_proto(current.profile, "p")
    assert convert.profile_from_proto(merged.profile, "p") == replace(before, **expect)


def test_update_mask_admin_down_and_refused_paths() -> None:
    current = _current()
    merged = convert.merge_update(
        current, bfd_pb2.SessionConf(admin_down=True), FieldMask(paths=["admin_down"])
    )
    assert merged.admin_down and merged.profile == current.profile
    for bad in ("peer_address", "local_address", "hop_mode", "profile.nope", "nope"):
        with pytest.raises(InvalidArgumentError) as info:
            convert.merge_update(current, current, FieldMask(paths=["admin_down", bad]))
        assert info.value.field == "update_mask.paths[1]", bad
        assert repr(bad) in str(info.value)


def test_get_edit_update_round_trip_and_masked_update_over_grpc(
    arun: Callable[..., Any],
) -> None:
    async def scenario() -> None:
        async with bfd_server(free_ports(), free_ports()) as (_, stub):
            added = (await stub.AddSession(bfd_pb2.AddSessionRequest(session=conf(B, A)))).session
            got = (await stub.GetSession(bfd_pb2.GetSessionRequest(key=key(B)))).session
            assert got.conf == added.conf
            # Sent back unchanged: nothing changes, nothing is lost.
            same = await stub.UpdateSession(bfd_pb2.UpdateSessionRequest(session=got.conf))
            assert same.session.conf == got.conf
            # Get -> edit -> Update.
            edited = bfd_pb2.SessionConf()
            edited.CopyFrom(got.conf)
            edited.profile.detect_multiplier = 7
            updated = await stub.UpdateSession(bfd_pb2.UpdateSessionRequest(session=edited))
            assert updated.session.conf == edited
            # Deleted and added again from what Get returned: the same session.
            await stub.DeleteSession(bfd_pb2.DeleteSessionRequest(key=key(B)))
            again = await stub.AddSession(bfd_pb2.AddSessionRequest(session=edited))
            assert again.session.conf == edited
            # A partial update: only the key and the named field are sent.
            partial = bfd_pb2.SessionConf(peer_address=B, admin_down=True)
            masked = await stub.UpdateSession(
                bfd_pb2.UpdateSessionRequest(
                    session=partial, update_mask=FieldMask(paths=["admin_down"])
                )
            )
            assert masked.session.conf.admin_down
            assert masked.session.conf.profile == edited.profile
            assert masked.session.conf.local_address == A
            err = await _error(
                stub.UpdateSession(
                    bfd_pb2.UpdateSessionRequest(
                        session=partial, update_mask=FieldMask(paths=["vrf"])
                    )
                )
            )
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert err.details().startswith("update_mask.paths[0]: 'vrf' cannot be updated")
            unknown = bfd_pb2.SessionConf(peer_address="192.0.2.77")
            err = await _error(
                stub.UpdateSession(
                    bfd_pb2.UpdateSessionRequest(
                        session=unknown, update_mask=FieldMask(paths=["admin_down"])
                    )
                )
            )
            assert err.code() == grpc.StatusCode.NOT_FOUND

    arun(scenario())


RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_grpcurl_shows_durations_and_rfc3339_times(arun: Callable[..., Any]) -> None:
    grpcurl = require_binary("grpcurl")
    pa, pb = free_ports(), free_ports()

    async def run(address: str, method: str, data: object) -> Any:
        proc = await asyncio.create_subprocess_exec(
            grpcurl,
            "-plaintext",
            "-d",
            json.dumps(data),
            address,
            f"metallb.bfd.v1.BFDService/{method}",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        return json.loads(out)

    async def scenario() -> None:
        async with bfd_server(pa, pb) as (server_a, a), bfd_server(pb, pa) as (_, b):
            address = server_a.address
            fast = {"receive_interval": "0.050s", "transmit_interval": "0.050s"}
            session = {"peer_address": B, "local_address": A, "profile": fast}
            await run(address, "AddSession", {"session": session})
            await b.AddSession(bfd_pb2.AddSessionRequest(session=conf(A, B)))

            async def up() -> bool:
                got = await a.GetSession(bfd_pb2.GetSessionRequest(key=key(B)))
                return bool(got.session.state.local_state == bfd_pb2.STATE_UP)

            await _until("Up", up, 10)
            got = (await run(address, "GetSession", {"key": {"peer_address": B}}))["session"]
            assert got["conf"]["profile"]["receive_interval"] == "0.050s"
            assert got["conf"]["profile"]["echo_interval"] == "0.050s"  # MetalLB's default
            state = got["state"]
            assert state["detection_time"] == "0.150s"
            assert state["transmit_interval"] == "0.050s"
            assert RFC3339.match(state["last_up_time"]), state["last_up_time"]
            assert RFC3339.match(state["last_transition"]["time"])
            assert "last_down_time" not in state  # never: absent, not 1970

    arun(scenario())
