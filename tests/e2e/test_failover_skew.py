"""Nodes whose wall clocks disagree (issue 13): node1 30 s behind, node2 on time, node3 30 s
ahead, in what each writes in its Lease (`FailoverLab(skews=...)`: a fake wall clock for the node
role). Each node reads the others' Leases as client-go does (gateway/leases.py: a renewal is a
change it observed, on its own monotonic clock), so every node sees the same live set and each
address has one owner throughout; compared with the local wall clock, node3 would see node1's
and node2's renewals 60 s and 30 s old, count them dead and answer beside their owner.

Run with BFD liveness (the default: BFD decides once the sessions are Up) and with Leases only
(`--liveness lease`: the Lease reading alone decides), each in a lab of its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.conftest import require_binary, require_root
from tests.e2e.failover_lab import NODES, FailoverLab, failover_lab

SKEWS = dict(zip(NODES, (-30.0, 0.0, 30.0), strict=True))
# Longer than a Lease duration (15 s), so a node comparing renewTime with its own wall clock would
# have counted a skewed peer dead by the end even if it saw the peer renew at the start.
WATCH = 20.0


@pytest.fixture(scope="module", params=["bfd", "lease"])
def skewed(request: pytest.FixtureRequest) -> Iterator[FailoverLab]:
    require_root("network namespaces and raw sockets")
    for tool in ("ip", "timeout"):
        require_binary(tool)
    with failover_lab(skews=SKEWS, liveness=request.param) as lab:
        yield lab


def test_skewed_clocks_keep_one_owner_per_address(skewed: FailoverLab) -> None:
    prober = skewed.prober
    assert prober is not None
    owners = skewed.settle()
    start = time.monotonic()
    time.sleep(WATCH)  # real time on the wire: watch who answers
    end = time.monotonic()
    roles = skewed.lab.logs(*(f"{n}-role" for n in NODES))
    for family, owner in owners.items():
        doubles = prober.double_answers(family, start, end)
        macs = [skewed.node_of(mac) for mac in prober.owners(family, start, end)]
        assert (doubles, macs) == (0, [owner]), (
            f"IPv{family}: {doubles} probe intervals answered by two MACs, owners {macs[:6]}"
            f"\n{roles}"
        )
        assert prober.longest_silence(family, start, end) < 0.2
