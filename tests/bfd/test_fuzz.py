"""Random operation sequences: the session never raises and keeps the RFC's output invariants."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from services.bfd.core.echo import EchoPacket, encode_echo
from services.bfd.core.packet import ControlPacket, State, decode, encode
from services.bfd.core.session import Session, SessionParams

LOCAL = 0x1234

peer_packets = st.builds(
    ControlPacket,
    state=st.sampled_from(State),
    my_discriminator=st.sampled_from([0, 0x99, 0x98]),
    your_discriminator=st.sampled_from([0, LOCAL, 0x4321]),
    detect_mult=st.integers(0, 5),
    desired_min_tx=st.sampled_from([0, 1, 10_000, 300_000, 1_000_000]),
    required_min_rx=st.sampled_from([0, 1, 10_000, 300_000, 1_000_000]),
    required_min_echo_rx=st.sampled_from([0, 50_000]),
    poll=st.booleans(),
    final=st.booleans(),
    demand=st.booleans(),
)
params = st.builds(
    SessionParams,
    desired_min_tx=st.sampled_from([10_000, 300_000, 2_000_000]),
    required_min_rx=st.sampled_from([0, 10_000, 300_000]),
    detect_mult=st.integers(1, 4),
    echo_mode=st.booleans(),
    passive=st.booleans(),
)
operations = st.one_of(
    st.tuples(st.just("rx"), peer_packets, st.sampled_from([255, 255, 254])),
    st.tuples(st.just("garbage"), st.binary(max_size=40)),
    st.tuples(st.just("wait"), st.floats(0, 5)),
    st.tuples(st.just("echo"), st.booleans()),
    st.tuples(st.sampled_from(["admin_down", "admin_up", "delete"])),
    st.tuples(st.just("update"), params),
)


@settings(max_examples=300, deadline=None)
@given(params, st.lists(operations, max_size=60), st.booleans())
def test_random_operations(start: SessionParams, ops: list[tuple[object, ...]], mh: bool) -> None:
    session = Session(LOCAL, start, 0.0, multihop=mh, rng=random.Random(0))
    now = 0.0
    for op in ops:
        kind = op[0]
        if kind == "rx":
            packet, ttl = op[1], op[2]
            assert isinstance(packet, ControlPacket) and isinstance(ttl, int)
            session.receive_packet(encode(packet), ttl, now)
        elif kind == "garbage":
            assert isinstance(op[1], bytes)
            session.receive_packet(op[1], 255, now)
        elif kind == "wait":
            assert isinstance(op[1], float)
            end = now + op[1]
            while (t := session.next_timer()) is not None and t <= end:
                now = max(now, t)
                session.handle_timer(now)
                check_output(session, now)
            now = end
        elif kind == "echo":
            disc = LOCAL if op[1] else LOCAL + 1
            session.receive_echo(encode_echo(EchoPacket(disc, 1, 0)), now)
        elif kind == "update":
            assert isinstance(op[1], SessionParams)
            session.update_params(op[1], now)
        else:
            getattr(session, str(kind))(now)
        session.handle_timer(now)
        check_output(session, now)


def check_output(session: Session, now: float) -> None:
    for data in session.packets_to_send(now):
        packet = decode(data)
        assert not (packet.poll and packet.final)  # RFC 5880 §6.8.7
        assert packet.my_discriminator == LOCAL
        if packet.state is not State.UP:
            assert packet.desired_min_tx >= 1_000_000  # §6.8.3
        if session.multihop:
            assert packet.required_min_echo_rx == 0
    for _ in session.echo_packets_to_send(now):
        assert session.state is State.UP and not session.multihop
    timer = session.next_timer()
    assert timer is None or math.isfinite(timer)
