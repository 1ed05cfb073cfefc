"""Declarative advertisements: after every SetAdvertisements the peer holds exactly the set.

Rows of desired sets (hypothesis draws them) are applied in order to one speaker core wired to
another; after each row the receiver's prefixes, the sender's Adj-RIB-Out and the attributes
seen are checked, and re-sending the same set sends nothing (STYLE.md §7 scenario tables).
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv6Address

from hypothesis import given, settings
from hypothesis import strategies as st

from services.bgp.codec import Update
from services.bgp.codec.attributes import Communities, MpReachNlri, find
from services.bgp.codec.prefixes import Prefix, parse_prefix
from services.bgp.fsm import RouteAttrs
from services.bgp.fsm.peer import Send

from .fsm_harness import config, sent_messages, wired

POOL: list[Prefix] = [parse_prefix(f"198.51.100.{i}/32") for i in range(24)]
POOL += [parse_prefix(f"2001:db8::{i:x}/128") for i in range(24)]

desired_sets = st.dictionaries(
    st.sampled_from(POOL),
    st.builds(RouteAttrs, st.tuples() | st.tuples(st.sampled_from([1, 2, 0xFDE80064]))),
    max_size=len(POOL),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(desired_sets, min_size=1, max_size=6))
def test_every_row_converges_and_repeats_send_nothing(rows: list[dict[Prefix, RouteAttrs]]) -> None:
    wire = wired(
        config(peer_address="10.0.0.2", dual_stack=True),
        config(my_asn=65002, peer_asn=64512, peer_address="10.0.0.1", dual_stack=True),
    )
    wire.a.extra_next_hop6 = None
    conn = wire.a.established()
    assert conn is not None and conn.routing is not None
    # the session is IPv4; give it an IPv6 next hop as the adapter would from the interface
    conn.routing = replace(conn.routing, next_hop6=IPv6Address("2001:db8:ffff::1"))
    now = 1.0
    for row in rows:
        wire.a.set_routes(row)
        actions = wire.a.take_actions()
        seen: dict[Prefix, tuple[int, ...]] = {}
        for message in sent_messages(actions, conn.ctx):
            if isinstance(message, Update):
                reach = find(message.attributes, MpReachNlri)
                communities = find(message.attributes, Communities)
                values = communities.values if communities else ()
                for prefix in (*message.nlri, *(reach.nlri if reach else ())):
                    seen[prefix] = values
        for prefix, values in seen.items():
            assert row[prefix].communities == values  # announced with its own attributes
        wire.b.data_received(
            wire.links[("a", conn.conn)][1],
            b"".join(a.data for a in actions if isinstance(a, Send)),
            now,
        )
        wire.pump(now)
        assert set(wire.b.received) == set(row)
        assert wire.a.rib.sent == row and wire.a.pending() == 0
        wire.a.set_routes(dict(row))
        assert wire.a.take_actions() == []  # idempotent
        now += 1.0
