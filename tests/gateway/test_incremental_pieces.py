"""The node role's incremental pieces equal what they replace, computed from scratch.

- `_sorted_update` (the memo's route list kept sorted by bisection) equals sorting again;
- `index_slice` (a source's EndpointSlice index kept current per change) equals `slice_index`
  of the objects now held;
- `AdvertisementBuilder` (messages reused between passes) equals building them afresh.
"""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.node.desired import BGPRoute, _sorted_update
from gateway.node.rpc import AdvertisementBuilder
from gateway.snapshot import SliceIndex, index_slice, key_of, slice_index
from metallb.bgp.v1 import bgp_pb2
from metallb_rules.communities import Community

C1, LARGE = Community.legacy(65000, 1), Community.large_of(1, 2, 3)

ROUTES = st.builds(
    BGPRoute,
    st.sampled_from(["a", "b", "c"]),
    st.sampled_from([f"198.18.0.{i}/32" for i in range(40)]),
    st.sampled_from([(), (C1,), (C1, LARGE)]),
    st.sampled_from([None, 0, 100]),
)


@settings(max_examples=200, deadline=None)
@given(st.sets(ROUTES, max_size=120), st.sets(ROUTES, max_size=12), st.data())
def test_sorted_update_equals_sorting_again(
    held: set[BGPRoute], gained: set[BGPRoute], data: st.DataObject
) -> None:
    gained -= held
    lost = (
        data.draw(st.sets(st.sampled_from(sorted(held, key=BGPRoute.sort_key)), max_size=12))
        if held
        else set()
    )
    routes = sorted(held, key=BGPRoute.sort_key)
    got = _sorted_update(routes, set(gained), set(lost))
    want = (held - lost) | gained
    # Routes whose sort keys are equal (local_pref None and 0) may come in either order.
    assert [r.sort_key() for r in got] == sorted(r.sort_key() for r in want)
    assert len(got) == len(want) and set(got) == want
    assert routes == sorted(held, key=BGPRoute.sort_key)  # the input list is left alone
    if gained or lost:
        assert got is not routes


def _slice(name: str, service: str | None, namespace: str = "default") -> dict[str, Any]:
    labels = {} if service is None else {"kubernetes.io/service-name": service}
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels, "v": 0}}


SLICE_OPS = st.lists(
    st.tuples(
        st.sampled_from(["put", "delete"]),
        st.sampled_from(["s1", "s2", "s3", "s4"]),
        st.sampled_from(["svc-a", "svc-b", None]),
        st.sampled_from(["default", "other"]),
    ),
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(SLICE_OPS)
def test_slice_index_kept_current_equals_rebuilt(
    ops: list[tuple[str, str, str | None, str]],
) -> None:
    held: dict[str, Any] = {}
    index: SliceIndex = {}
    for version, (op, name, service, namespace) in enumerate(ops):
        key = f"{namespace}/{name}"
        old = held.get(key)
        if op == "delete":
            held.pop(key, None)
            index_slice(index, old, None)
        else:
            new = _slice(name, service, namespace)
            new["metadata"]["v"] = version
            held[key] = new
            index_slice(index, old, new)
        assert index == slice_index(held.values())
        for objs in index.values():
            assert [key_of(o) for o in objs] == sorted(key_of(o) for o in objs)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sets(ROUTES, max_size=40), min_size=1, max_size=6))
def test_advertisement_builder_equals_building_afresh(passes: list[set[BGPRoute]]) -> None:
    builder = AdvertisementBuilder()
    for held in passes:
        routes = sorted(held, key=BGPRoute.sort_key)
        fresh = AdvertisementBuilder().build(routes)
        got = builder.build(routes)
        assert got == fresh
        assert builder.build(routes) is got  # the very same list: nothing rebuilt
        # One entry per peer, one route per prefix, every prefix the peer was given.
        assert [a.peer for a in got] == sorted({r.peer for r in held})
        for adv in got:
            prefixes = [r.prefix for r in adv.routes]
            assert prefixes == sorted({r.prefix for r in held if r.peer == adv.peer})


def test_advertisement_builder_reuses_unchanged_messages() -> None:
    builder = AdvertisementBuilder()
    one = BGPRoute("a", "198.18.0.1/32", (C1, LARGE), 100)
    two = BGPRoute("b", "198.18.0.2/32")
    first = builder.build([one, two])
    second = builder.build([one, BGPRoute("b", "198.18.0.3/32")])
    assert second[0] is first[0] and second[1] is not first[1]
    expected = bgp_pb2.Route(prefix="198.18.0.1/32", local_pref=100)
    expected.communities.add(asn=65000, value=1)
    expected.large_communities.add(global_administrator=1, local_data_1=2, local_data_2=3)
    assert second[0] == bgp_pb2.PeerAdvertisements(peer="a", routes=[expected])
