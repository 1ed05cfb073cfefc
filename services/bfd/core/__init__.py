"""Sans-I/O BFD core (RFC 5880, 5881, 5883): codec, validation, state machine, sessions.

Layers (STYLE.md §1), none of which does I/O or reads a clock:

* `packet`   — control packet codec (§4.1–§4.4), frozen dataclasses, `encode`/`decode`;
* `echo`     — our echo payload format (§6.4);
* `drop`     — `DropReason`, the named reason for every discarded packet;
* `validate` — reception rules of §6.8.6 that need no session, and TTL rules (RFC 5881/5883);
* `fsm`      — the §6.2 state machine as a transition table;
* `session`  — one session: timers, Poll/Final, AdminDown, passive, echo;
* `table`    — many sessions: demultiplexing, discriminators, one batched timer;
* `profile`  — MetalLB's BFDProfile, validated with MetalLB's error texts.
"""

from metallb_rules.bfd_profile import BFDProfile, ProfileError
from services.bfd.core.drop import DropReason, PacketDecodeError
from services.bfd.core.events import (
    Event,
    PacketDropped,
    PollSequenceCompleted,
    SessionCounters,
    SessionFinished,
    StateChanged,
)
from services.bfd.core.fsm import FsmEvent, InvalidTransitionError
from services.bfd.core.packet import ControlPacket, Diagnostic, State, decode, encode
from services.bfd.core.session import Session, SessionParams
from services.bfd.core.table import KeyedEvent, Outgoing, SessionKey, SessionTable

__all__ = [
    "BFDProfile",
    "ControlPacket",
    "Diagnostic",
    "DropReason",
    "Event",
    "FsmEvent",
    "InvalidTransitionError",
    "KeyedEvent",
    "Outgoing",
    "PacketDecodeError",
    "PacketDropped",
    "PollSequenceCompleted",
    "ProfileError",
    "Session",
    "SessionCounters",
    "SessionFinished",
    "SessionKey",
    "SessionParams",
    "SessionTable",
    "State",
    "StateChanged",
    "decode",
    "encode",
]
