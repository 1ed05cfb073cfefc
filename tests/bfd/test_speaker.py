"""The asyncio adapter after a stall: bounded turns, and no session declared down by our lag.

A detection time restarts when we read a packet (as FRR's and BIRD's do): a packet waiting in
our socket is one the peer sent in time, so it must be read before any detection timer fires.

Real sockets on loopback (no root): the speaker under test is 127.0.0.1, each peer is a plain
UDP socket on 127.0.0.x that we drive by hand with packets built by our own codec. A stall of
the process is a blocking `time.sleep` while the peers keep sending.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from ipaddress import ip_address
from typing import Any

from metallb_rules.bfd_profile import BFDProfile
from services.bfd.core.drop import DropReason
from services.bfd.core.events import StateChanged
from services.bfd.core.packet import ControlPacket, State, decode, encode
from services.bfd.core.table import KeyedEvent, SessionKey
from services.bfd.model import SessionSpec
from services.bfd.speaker import DRAIN_BUDGET, RECV_BATCH, Speaker
from tests.bfd.test_service import free_ports

LOCAL = "127.0.0.1"
PEERS = ("127.0.0.2", "127.0.0.3")
PEER_DISCRIMINATORS = {"127.0.0.2": 0x0202, "127.0.0.3": 0x0303}


DETECT_MULT = 10  # the peers': detection time 10 x 50 ms, slack for a loaded test machine
DETECTION = DETECT_MULT * 0.05


class Peer:
    """A hand-driven BFD peer at 50 ms."""

    def __init__(self, address: str, port: int, target: tuple[str, int]) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
        self.sock.bind((address, port))
        self.sock.setblocking(False)
        self.target = target
        self.your = 0

    def send(self, state: State, count: int = 1) -> None:
        data = encode(
            ControlPacket(
                state=state,
                my_discriminator=PEER_DISCRIMINATORS[self.address],
                your_discriminator=self.your,
                detect_mult=DETECT_MULT,
                desired_min_tx=50_000,
                required_min_rx=50_000,
            )
        )
        for _ in range(count):
            self.sock.sendto(data, self.target)

    def received(self) -> list[ControlPacket]:
        out = []
        while True:
            try:
                out.append(decode(self.sock.recv(512)))
            except BlockingIOError:
                return out

    def close(self) -> None:
        self.sock.close()


def test_a_backlog_is_read_in_bounded_turns_and_delays_no_detection_into_a_false_down(
    arun: Callable[..., Any],
) -> None:
    """After a stall longer than the detection time, with more packets queued than one turn
    reads: the first turn reads DRAIN_BUDGET packets and sends our overdue ones at once; the
    session whose packet waits behind the backlog is not declared down; a real silence is
    still detected."""

    async def scenario() -> None:
        ours, theirs = free_ports(), free_ports()
        events: list[KeyedEvent] = []
        speaker = Speaker(events.extend, ports=ours, peer_ports=theirs)
        peers = [Peer(a, theirs.single_hop, (LOCAL, ours.single_hop)) for a in PEERS]
        try:
            profile = BFDProfile(receive_interval=50, transmit_interval=50)
            keys = [SessionKey(ip_address(a)) for a in PEERS]
            for address in PEERS:
                speaker.add(
                    SessionSpec(peer=ip_address(address), local=ip_address(LOCAL), profile=profile)
                )
            for peer, key in zip(peers, keys, strict=True):
                peer.your = speaker.session(key).local_discriminator
                peer.send(State.INIT)  # Down + Init -> Up (RFC 5880 §6.8.6)
            await asyncio.sleep(0.05)
            for peer in peers:
                peer.send(State.UP)
            await asyncio.sleep(0.05)
            sessions = [speaker.session(k) for k in keys]
            assert [s.state for s in sessions] == [State.UP, State.UP]
            assert [s.detection_time for s in sessions] == [DETECTION, DETECTION]

            # The stall: the process does not run for longer than the detection time, while
            # the first peer floods us and then the second sends one packet. That packet was
            # received in time (it waits in our socket), but behind more than a turn's worth.
            flood = DRAIN_BUDGET + 3 * RECV_BATCH
            stall = DETECTION + 0.2
            sent: list[float] = []

            def peers_during_the_stall() -> None:
                time.sleep(stall - 0.1)
                peers[0].send(State.UP, flood)
                sent.append(time.monotonic())
                peers[1].send(State.UP)
                sent.append(time.monotonic())

            for peer in peers:
                peer.received()  # forget what we sent before the stall
            before = [s.counters.control_in for s in sessions]
            sender = threading.Thread(target=peers_during_the_stall)
            sender.start()
            time.sleep(stall)
            sender.join()
            assert speaker.now() > sessions[1].next_timer()  # type: ignore[operator]

            speaker._on_timer()  # the first turn after the stall
            read = [s.counters.control_in - b for s, b in zip(sessions, before, strict=True)]
            assert read == [DRAIN_BUDGET, 0]  # bounded; the second's packet still waits
            assert [s.state for s in sessions] == [State.UP, State.UP]  # no false Down
            assert all(peer.received() for peer in peers)  # overdue packets left at once

            await asyncio.sleep(0.02)  # the loop reads the rest
            read = [s.counters.control_in - b for s, b in zip(sessions, before, strict=True)]
            assert read == [flood, 1]
            assert [s.state for s in sessions] == [State.UP, State.UP]
            received = sessions[1].last_received_at
            assert received is not None and received >= sent[1]
            changes = [e.event for e in events if isinstance(e.event, StateChanged)]
            assert [c.new for c in changes] == [State.UP, State.UP]  # no flap at all

            # A real silence is still detected: not before the detection time has passed.
            while sessions[1].state is State.UP and time.monotonic() - sent[1] < 3:
                peers[0].send(State.UP)
                await asyncio.sleep(0.01)
            assert sessions[1].state is State.DOWN
            assert sessions[0].state is State.UP
            down = [e.event for e in events if isinstance(e.event, StateChanged)][-1]
            assert down.new is State.DOWN and down.at - received >= DETECTION
        finally:
            speaker.close()
            for peer in peers:
                peer.close()

    arun(scenario())


def test_a_packet_with_a_known_discriminator_from_another_host_is_dropped_and_counted(
    arun: Callable[..., Any],
) -> None:
    """Issue 15, over real sockets: 127.0.0.3 sends Down carrying the discriminator of the Up
    session with 127.0.0.2 (what a host that saw one packet could do). The session stays Up and
    the drop is counted by name (the `metallb_bfd_packet_drops` metric reads `drops`)."""

    async def wait_until(condition: Callable[[], bool]) -> None:
        # Real sockets: the speaker reads on the loop; poll, bounded.
        for _ in range(200):
            if condition():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("timed out")

    async def scenario() -> None:
        ours, theirs = free_ports(), free_ports()
        speaker = Speaker(lambda _events: None, ports=ours, peer_ports=theirs)
        peer, stranger = (Peer(a, theirs.single_hop, (LOCAL, ours.single_hop)) for a in PEERS)
        try:
            profile = BFDProfile(receive_interval=50, transmit_interval=50)
            key = SessionKey(ip_address(PEERS[0]))
            speaker.add(
                SessionSpec(peer=ip_address(PEERS[0]), local=ip_address(LOCAL), profile=profile)
            )
            session = speaker.session(key)
            peer.your = stranger.your = session.local_discriminator
            peer.send(State.INIT)
            await wait_until(lambda: session.state is State.UP)
            before = session.counters.control_in
            stranger.send(State.DOWN, 3)
            name = DropReason.SOURCE_NOT_SESSION_PEER
            await wait_until(lambda: speaker.drops.get(name, 0) == 3)
            assert session.state is State.UP
            assert session.counters.control_in == before
        finally:
            speaker.close()
            peer.close()
            stranger.close()

    arun(scenario())
