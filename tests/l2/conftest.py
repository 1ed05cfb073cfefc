"""Fixtures: one lab (node + peer namespaces) and one `metallb-grpc l2` in it, per module.

Node-side links (peer side in brackets):
- ens1 [p1], ens2 [p2]: plain links, eligible for ARP and NDP;
- br0, a bridge, with port brport0 [pb]: the port is enslaved, the bridge answers;
- noarp0 [pn] with NOARP; docker7 [pd], excluded by MetalLB's default list;
- late0 [pl], created down and brought up by a test.
The node owns 10.77.1.2 and fd77:1::2 on ens1 (kernel-answered); the peer 10.77.x.100.
"""

from collections.abc import Iterator

import pytest

from tests.conftest import require_binary
from tests.conftest import require_root as shared_require_root
from tests.l2.lab import L2Process, Lab


def require_root() -> None:
    shared_require_root("network namespaces, raw sockets")


def build_topology(lab: Lab) -> None:
    lab.veth("ens1", "p1")
    lab.veth("ens2", "p2")
    lab.ip(lab.node, "link", "add", "br0", "type", "bridge")
    lab.veth("brport0", "pb")
    lab.ip(lab.node, "link", "set", "brport0", "master", "br0")
    lab.ip(lab.node, "link", "set", "br0", "up")
    lab.veth("noarp0", "pn")
    lab.ip(lab.node, "link", "set", "noarp0", "arp", "off")
    lab.veth("docker7", "pd")
    lab.veth("late0", "pl", up=False)
    lab.ip(lab.node, "addr", "add", "10.77.1.2/24", "dev", "ens1")
    lab.ip(lab.node, "addr", "add", "fd77:1::2/64", "dev", "ens1")
    for i, name in enumerate(("p1", "p2", "pb", "pn", "pd", "pl"), start=1):
        lab.ip(lab.peer, "addr", "add", f"10.77.{i}.100/24", "dev", name)
    lab.ip(lab.peer, "addr", "add", "fd77:1::100/64", "dev", "p1")
    lab.ip(lab.peer, "addr", "add", "fd77:2::100/64", "dev", "p2")


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    require_root()
    require_binary("ip")
    lab = Lab()
    try:
        lab.open()
        build_topology(lab)
        yield lab
    finally:
        lab.close()


@pytest.fixture(scope="module")
def l2(lab: Lab) -> Iterator[L2Process]:
    process = L2Process(lab, require_binary("metallb-grpc"))
    try:
        process.start()
        yield process
    finally:
        process.stop()
