"""GTSM (RFC 5082) against BIRD in namespaces: a directly connected peer establishes, a peer one
router further away cannot, even though it sends with TTL 255 itself.

Topology: the lab's direct link (BIRD "direct" in the peer namespace, `ttl security on`), and a
second path speaker -- router -- far namespace, where a second BIRD ("far", `ttl security on`,
`multihop 2`) peers with the speaker. Control: the far peer configured with ebgp_multihop and
no gtsm establishes over the same path, so the refusal is GTSM's doing.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from metallb.bgp.v1 import bgp_pb2

from .lab import Bird, Lab, lab, run, wait_for

pytestmark = pytest.mark.usefixtures("bird_lab")

OUR_AS, DIRECT_AS, FAR_AS = 4_200_000_001, 65002, 65003


@dataclass
class FarPath:
    router_ns: str
    far_ns: str
    spk_side: str  # the speaker's address towards the router
    far: str  # the far peer's address


@contextlib.contextmanager
def far_path(the_lab: Lab) -> Iterator[FarPath]:
    """speaker -- router -- far, with routes both ways through the router."""
    i = the_lab.index
    router_ns, far_ns = f"{the_lab.spk_ns}-r", f"{the_lab.spk_ns}-f"
    path = FarPath(router_ns, far_ns, f"10.78.{i}.2", f"10.79.{i}.2")
    s_r, r_s, r_f, f_r = f"gsr{i}", f"grs{i}", f"grf{i}", f"gfr{i}"
    try:
        run("ip", "netns", "add", router_ns)
        run("ip", "netns", "add", far_ns)
        run("ip", "link", "add", s_r, "netns", the_lab.spk_ns, "type", "veth", "peer", "name",
            r_s, "netns", router_ns)  # fmt: skip
        run("ip", "link", "add", r_f, "netns", router_ns, "type", "veth", "peer", "name", f_r,
            "netns", far_ns)  # fmt: skip
        for ns, dev, addr in (
            (the_lab.spk_ns, s_r, f"10.78.{i}.2/24"),
            (router_ns, r_s, f"10.78.{i}.1/24"),
            (router_ns, r_f, f"10.79.{i}.1/24"),
            (far_ns, f_r, f"10.79.{i}.2/24"),
        ):
            run("ip", "-n", ns, "addr", "add", addr, "dev", dev)
            run("ip", "-n", ns, "link", "set", dev, "up")
            run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "netns", "exec", router_ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        run("ip", "-n", the_lab.spk_ns, "route", "add", f"10.79.{i}.0/24", "via", f"10.78.{i}.1")
        run("ip", "-n", far_ns, "route", "add", "default", "via", f"10.79.{i}.1")
        yield path
    finally:
        for ns in (far_ns, router_ns):
            run("ip", "netns", "del", ns, check=False)


def far_bird(the_lab: Lab, path: FarPath) -> Bird:
    """A second BIRD in the far namespace (its own config, socket and pid file)."""
    conf, sock, pid = (the_lab.dir / f"far.{x}" for x in ("conf", "ctl", "pid"))
    conf.write_text(f"""
log "{the_lab.dir}/far.log" all;
router id {path.far};
protocol device {{ scan time 10; }}
protocol bgp spk {{ local {path.far} as {FAR_AS}; neighbor {path.spk_side} as {OUR_AS};
  multihop 2; ttl security on; hold time 9; connect delay time 1; error wait time 1, 10;
  ipv4 {{ import all; export none; }}; }}
""")
    run("ip", "netns", "exec", path.far_ns, "bird", "-c", str(conf), "-s", str(sock),
        "-P", str(pid))  # fmt: skip
    the_lab.pidfiles.append(pid)
    wait_for("the far BIRD's control socket", sock.exists, 10)
    return Bird(sock, pid, the_lab.dir / "far.log")


def test_gtsm_refuses_a_peer_behind_a_router_and_accepts_the_direct_one() -> None:
    with lab("gt") as the_lab, far_path(the_lab) as path:
        direct = the_lab.bird(f"""
protocol bgp spk {{ local {the_lab.peer4} as {DIRECT_AS}; neighbor {the_lab.spk4} as {OUR_AS};
  ttl security on; hold time 9; connect delay time 1; error wait time 1, 10;
  ipv4 {{ import all; export none; }}; }}
protocol bgp spk6 {{ local {the_lab.peer6} as {DIRECT_AS}; neighbor {the_lab.spk6} as {OUR_AS};
  ttl security on; hold time 9; connect delay time 1; error wait time 1, 10;
  ipv6 {{ import all; export none; }}; }}
""")
        far = far_bird(the_lab, path)
        s = the_lab.speaker()
        try:
            for name, addr, asn in (
                ("direct", the_lab.peer4, DIRECT_AS),
                ("direct6", the_lab.peer6, DIRECT_AS),  # IPV6_MINHOPCOUNT and the v6 filter
                ("far", path.far, FAR_AS),
            ):
                conf = bgp_pb2.PeerConf(
                    name=name, my_asn=OUR_AS, peer_asn=asn, peer_address=addr,
                    connect_time=timedelta(seconds=2), hold_time=timedelta(seconds=9), gtsm=True,
                )  # fmt: skip
                s.stub.AddPeer(bgp_pb2.AddPeerRequest(peer=conf), timeout=10)
            wait_for("the direct GTSM session", lambda: s.established("direct"), 30)
            wait_for("the direct IPv6 GTSM session", lambda: s.established("direct6"), 30)
            assert direct.established("spk") and direct.established("spk6")
            # The far peer has had as long as the direct one, and more: several connection
            # attempts each way (connect delay 1 s, connect_time 2 s).
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline:
                assert not s.established("far") and not far.established("spk")
                time.sleep(0.5)  # watching a real network for a while: nothing to wait on
            # Control: the same far peer as multihop without GTSM establishes.
            multihop = bgp_pb2.PeerConf(
                name="far", my_asn=OUR_AS, peer_asn=FAR_AS, peer_address=path.far,
                connect_time=timedelta(seconds=2), hold_time=timedelta(seconds=9),
                ebgp_multihop=True,
            )  # fmt: skip
            s.stub.UpdatePeer(bgp_pb2.UpdatePeerRequest(peer=multihop), timeout=10)
            wait_for("the far multihop session without GTSM", lambda: s.established("far"), 30)
        finally:
            s.close()
