"""Two BFD cores wired back to back in-process, with a simulated clock.

`Pair` runs a discrete-event simulation: it advances `now` to the earliest `next_timer()` of
either session, fires timers, and hands every packet one session emits straight to the other
(zero latency, TTL 255) unless that direction of the link is cut. Every packet on the wire is
logged decoded, with its time and sender, so tests can check P/F bits and intervals.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from services.bfd.core.events import Event
from services.bfd.core.packet import ControlPacket, State, decode
from services.bfd.core.session import Session, SessionParams

A_DISC = 0x0A0A0A0A
B_DISC = 0x0B0B0B0B


@dataclass(frozen=True)
class Sent:
    at: float
    sender: str
    packet: ControlPacket


@dataclass
class Pair:
    a_params: SessionParams = field(default_factory=SessionParams)
    b_params: SessionParams = field(default_factory=SessionParams)
    seed: int = 7
    now: float = 1000.0
    a_to_b: bool = True
    b_to_a: bool = True
    echo_loop: bool = True  # does the peer's forwarding plane loop our echo packets back?
    drop: Callable[[Sent], bool] | None = None  # extra loss: True drops that packet
    wire: list[Sent] = field(default_factory=list)
    echoes: list[tuple[float, str]] = field(default_factory=list)
    events: list[tuple[str, Event]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.a = Session(A_DISC, self.a_params, self.now, rng=random.Random(self.seed))
        self.b = Session(B_DISC, self.b_params, self.now, rng=random.Random(self.seed + 1))

    def sessions(self) -> list[tuple[str, Session, Session, bool]]:
        return [("a", self.a, self.b, self.a_to_b), ("b", self.b, self.a, self.b_to_a)]

    def _flush(self) -> None:
        """Deliver everything due at `now`, including replies to replies (Finals)."""
        for _ in range(1000):
            moved = False
            for name, src, dst, up in self.sessions():
                other = "b" if name == "a" else "a"
                for data in src.packets_to_send(self.now):
                    moved = True
                    sent = Sent(self.now, name, decode(data))
                    self.wire.append(sent)
                    if up and not (self.drop is not None and self.drop(sent)):
                        for ev in dst.receive_packet(data, 255, self.now):
                            self.events.append((other, ev))
                for data in src.echo_packets_to_send(self.now):
                    self.echoes.append((self.now, name))
                    if self.a_to_b and self.b_to_a and self.echo_loop:
                        for ev in src.receive_echo(data, self.now):
                            self.events.append((name, ev))
            if not moved:
                return
        raise AssertionError("packet storm: sessions kept sending at one instant")

    def run_until(self, t: float) -> None:
        self._flush()
        for _ in range(1_000_000):
            timers = [x for x in (self.a.next_timer(), self.b.next_timer()) if x is not None]
            nxt = min(timers) if timers else None
            if nxt is None or nxt > t:
                self.now = t
                self._flush()
                return
            self.now = max(self.now, nxt)
            for name, src, _dst, _up in self.sessions():
                for ev in src.handle_timer(self.now):
                    self.events.append((name, ev))
            self._flush()
        raise AssertionError("timer loop did not advance")

    def run_for(self, dt: float) -> None:
        self.run_until(self.now + dt)

    def both_up(self) -> bool:
        return self.a.state is State.UP and self.b.state is State.UP

    def sent_by(self, name: str, since: float = float("-inf")) -> list[Sent]:
        return [s for s in self.wire if s.sender == name and s.at >= since]
