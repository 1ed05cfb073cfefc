"""What is kept of received routes is bounded (issue #15), against BIRD in namespaces.

BIRD exports N static /32 to our speaker. Before the bound, 800,000 took the service from
89 MiB to 527 MiB RSS; now at most max_prefixes (100,000 by default) are kept, as compact ints.
Figures (`python3 -m pytest -s tests/bgp/interop/test_received_bound.py`, MLB_ROUTES=800000 for
the issue's case) are printed.
"""

from __future__ import annotations

import ipaddress
import os
import time
from datetime import timedelta

import pytest

from metallb.bgp.v1 import bgp_pb2

from .lab import Bird, Lab, Speaker, lab, wait_for

pytestmark = pytest.mark.usefixtures("bird_lab")

OUR_AS, BIRD_AS = 4_200_000_001, 65002
ROUTES = int(os.environ.get("MLB_ROUTES", "150000"))


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def bird_with_routes(the_lab: Lab, n: int) -> Bird:
    routes = "\n".join(
        f"  route {ipaddress.IPv4Address(0x0B000000 + i)}/32 blackhole;" for i in range(n)
    )
    bird = the_lab.bird(f"""
protocol static st {{ ipv4;
{routes}
}}
protocol bgp spk4 {{ local {the_lab.peer4} as {BIRD_AS}; neighbor {the_lab.spk4} as {OUR_AS};
  hold time 90; connect delay time 1; error wait time 1, 10;
  ipv4 {{ import all; export all; next hop self; }}; }}
""")
    wait_for("BIRD's static routes", lambda: bird.count("st") >= n, 120)
    return bird


def add_peer(s: Speaker, the_lab: Lab, **kw: object) -> None:
    conf = bgp_pb2.PeerConf(
        name="b4",
        my_asn=OUR_AS,
        peer_asn=BIRD_AS,
        peer_address=the_lab.peer4,
        connect_time=timedelta(seconds=2),
        **kw,  # type: ignore[arg-type]
    )
    s.stub.AddPeer(bgp_pb2.AddPeerRequest(peer=conf), timeout=10)


def test_many_received_prefixes_keep_the_session_and_memory_bounded() -> None:
    with lab("rb") as the_lab:
        bird_with_routes(the_lab, ROUTES)
        s = the_lab.speaker()
        try:
            time.sleep(1)  # a real process settling: the idle figure is read after start-up
            idle = rss_mib(s.proc.pid)
            add_peer(s, the_lab)
            started = time.monotonic()

            def all_seen() -> bool:
                st = s.peer("b4").state
                return st.prefixes_received + st.prefixes_ignored >= ROUTES

            wait_for("every announced prefix counted or ignored", all_seen, 300)
            took = time.monotonic() - started
            state = s.peer("b4").state
            after = rss_mib(s.proc.pid)
            print(
                f"\n{ROUTES} /32 received: RSS {idle:.1f} -> {after:.1f} MiB "
                f"(+{after - idle:.1f}) in {took:.1f} s; kept {state.prefixes_received}, "
                f"ignored {state.prefixes_ignored}"
            )
            assert state.session_state == bgp_pb2.SESSION_STATE_ESTABLISHED
            assert state.established_transitions == 1
            assert state.prefixes_received == min(ROUTES, 100_000)
            assert state.prefix_limit_reached == (ROUTES > 100_000)
            assert after - idle < 20, f"+{after - idle:.1f} MiB"
        finally:
            s.close()


def test_max_prefix_cease_closes_with_rfc_4486_subcode() -> None:
    with lab("rc") as the_lab:
        bird = bird_with_routes(the_lab, 2000)
        s = the_lab.speaker()
        try:
            add_peer(s, the_lab, max_prefixes=1000, max_prefix_cease=True)

            def ceased() -> bool:
                error = s.peer("b4").state.last_error
                return error.reason == bgp_pb2.STATE_REASON_MAX_PREFIXES

            wait_for("the Cease", ceased, 30)
            error = s.peer("b4").state.last_error
            assert (error.notification.code, error.notification.subcode) == (6, 1)
            assert error.notification.data == bytes.fromhex("000101000003e8")
            # BIRD decodes it: "Received: Maximum number of prefixes reached"
            wait_for(
                "BIRD's view of the Cease",
                lambda: (
                    "Maximum number of prefixes reached"
                    in bird.cmd("show", "protocols", "all", "spk4")
                ),
                10,
            )
        finally:
            s.close()
