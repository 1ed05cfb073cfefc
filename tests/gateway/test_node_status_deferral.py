"""The node role writes its status objects after announcements: while changes keep coming they
wait (announcements first), once changes stop they are written within a couple of seconds, and
under changes that never stop they are still written every `report_at_least_every`.

On virtual time (the node's reconciler, every RPC answered at once): 40 new services 50 ms apart
are each announced within the batching time, and their status objects follow the burst. (The
same reconciler against a real BGP service: test_node_role.py.)"""

from gateway.node.reconciler import Rpc, WriteStatus
from gateway.node.status import BGP, StatusWrite
from tests.gateway.test_node_reconciler import (
    OK,
    WEB,
    Cluster,
    endpoints,
    held,
    node,
    service,
)
from tests.gateway.virtual_time import Reply, play


def test_status_objects_wait_for_a_burst_to_end_but_not_forever() -> None:
    cluster = Cluster()
    _, vt = node(cluster, l2=False, statuses=True, report_at_least_every=3.0)
    play(vt, [Reply(("list status objects",), set()), Reply(("bgp", "ListPeers"), held())])
    play(vt, [Reply(("bgp", "AddPeer")), Reply(("bgp", "SetAdvertisements"))])
    vt.take()

    written: dict[str, float] = {}  # service key -> when its status object was asked for
    announced: dict[str, float] = {}  # prefix -> when it was first sent to BGP

    def run(seconds: float, *, new_services: range) -> None:
        """A new service every 50 ms (or none), for `seconds`; every RPC succeeds at once."""
        services = iter(new_services)
        for _ in range(round(seconds / 0.05)):
            i = next(services, None)
            if i is not None:
                vt.change(cluster.put(endpoints(i)))
                vt.change(cluster.put(service(i)))
            for _ in range(5):
                vt.advance(0.01)
                for command in list(vt.outstanding):
                    if isinstance(command, Rpc):
                        for a in getattr(command.request, "advertisements", []):
                            for r in a.routes:
                                announced.setdefault(r.prefix, vt.now)
                        vt.answer(command, OK)
                    elif isinstance(command, WriteStatus):
                        vt.outstanding.remove(command)
                        for op in command.ops:
                            if isinstance(op, StatusWrite) and op.plural == BGP:
                                written.setdefault(op.service_key, vt.now)

    # A burst of 40 services over 2 s: each announced within the batching time...
    run(2.0, new_services=range(1, 41))
    assert len(announced) == 40
    assert max(announced[f"192.0.2.{i}/32"] for i in range(1, 41)) <= 2.0 + 0.03
    # ... but no status object written while it goes on.
    assert list(written) == [WEB]  # (by the first pass, before the burst)
    # Once it is over, all are written within the quiet time (0.5 s) and a pass (1 s).
    run(1.6, new_services=range(0))
    assert len(written) == 41
    assert min(written[f"demo/s{i}"] for i in range(1, 41)) >= 2.0 + 0.5

    # Changes that never stop: still written, every report_at_least_every (3 s).
    burst_start = vt.now
    written.clear()
    run(4.0, new_services=range(41, 121))
    assert written, "status objects starved by a steady stream of changes"
    first = min(written.values())
    assert 3.0 - 1.0 <= first - burst_start <= 3.0 + 0.5
