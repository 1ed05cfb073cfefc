"""The BGP speaker's sans-I/O core: the RFC 4271 §8 state machine, peers, Adj-RIB-Out.

Theory of operation (STYLE.md §1, layer 3): table.py is the FSM as data; peer.py runs it per
TCP connection and owns a peer's timers, collision handling, graceful restart and counters;
rib.py diffs each peer's declarative route set into UPDATEs packed by the codec; config.py is
the typed peer configuration (validated by metallb_rules.bgp_peer). Nothing here does I/O or
reads a clock: every call takes `now`, and the asyncio adapter (services/bgp/speaker.py) moves
bytes and arms one timer per peer.
"""

from .config import DynamicASN, InvalidPeerError, PeerConfig
from .peer import Close, Connect, LastError, Peer, PeerAction, Reason, Send
from .rib import RouteAttrs
from .table import TRANSITIONS, Action, Event, State, UnknownTransitionError

__all__ = [
    "TRANSITIONS",
    "Action",
    "Close",
    "Connect",
    "DynamicASN",
    "Event",
    "InvalidPeerError",
    "LastError",
    "Peer",
    "PeerAction",
    "PeerConfig",
    "Reason",
    "RouteAttrs",
    "Send",
    "State",
    "UnknownTransitionError",
]
