"""Our speaker against FRR bgpd and GoBGP: sessions, attributes and MD5 seen on their side."""

from __future__ import annotations

import signal
import time
from datetime import timedelta

import pytest

from metallb.bgp.v1 import bgp_pb2

from .lab import Frr, GoBGP, Lab, lab, wait_for
from .test_bird import OUR_AS, add_peers, ads
from .test_gobgp import gobgp_conf

FRR_AS = 65003
GOBGP_AS = 65004


def frr_conf(lab: Lab, *, local_as: int = FRR_AS, password: str = "") -> str:
    lines = [
        f"router bgp {local_as}",
        f" bgp router-id {lab.peer4}",
        " no bgp ebgp-requires-policy",
        " no bgp default ipv4-unicast",
        " no bgp network import-check",
    ]
    for addr in (lab.spk4, lab.spk6):
        lines.append(f" neighbor {addr} remote-as {OUR_AS if local_as == FRR_AS else local_as}")
        lines.append(f" neighbor {addr} timers connect 1")
        if password:
            lines.append(f" neighbor {addr} password {password}")
    lines += [" address-family ipv4 unicast", f"  neighbor {lab.spk4} activate",
              " exit-address-family", " address-family ipv6 unicast",
              f"  neighbor {lab.spk6} activate", " exit-address-family", "exit", ""]  # fmt: skip
    return "\n".join(lines)


@pytest.mark.usefixtures("frr_lab")
def test_frr_ebgp_v4_v6_communities_and_large_communities() -> None:
    with lab("f") as the_lab:
        frr = Frr(the_lab, frr_conf(the_lab))
        s = the_lab.speaker()
        try:
            add_peers(s, the_lab, peer_asn=FRR_AS)
            wait_for("FRR sessions", lambda: frr.established(the_lab.spk4)
                     and frr.established(the_lab.spk6), timeout=30)  # fmt: skip
            s.stub.SetAdvertisements(
                ads(4, 4, communities=["65000:7", "large:4200000001:1:2"]), timeout=10
            )
            wait_for("routes on FRR", lambda: frr.count("ipv4") == 4 and frr.count("ipv6") == 4)
            route = frr.json("show bgp ipv4 unicast 198.18.0.1/32")
            path = route["paths"][0]
            assert path["aspath"]["string"] == str(OUR_AS)
            assert path["community"]["string"] == "65000:7"
            assert path["largeCommunity"]["string"] == "4200000001:1:2"
            assert path["valid"] is True
            path6 = frr.json("show bgp ipv6 unicast fd00:198:18::1/128")["paths"][0]
            assert path6["nexthops"][0]["ip"] == the_lab.spk6 and path6["valid"] is True
            s.stub.SetAdvertisements(ads(2, 0), timeout=10)
            wait_for(
                "withdrawals on FRR", lambda: frr.count("ipv4") == 2 and frr.count("ipv6") == 0
            )
        finally:
            s.close()


@pytest.mark.usefixtures("frr_lab")
def test_frr_ibgp_local_pref_and_md5() -> None:
    with lab("fi") as the_lab:
        frr = Frr(the_lab, frr_conf(the_lab, local_as=64512, password="fr5ecret"))
        s = the_lab.speaker()
        try:
            add_peers(s, the_lab, my_asn=64512, peer_asn=64512, password="fr5ecret")
            wait_for("FRR iBGP sessions with MD5", lambda: frr.established(the_lab.spk4)
                     and frr.established(the_lab.spk6), timeout=30)  # fmt: skip
            s.stub.SetAdvertisements(ads(1, 1, local_pref=333), timeout=10)
            wait_for("routes on FRR", lambda: frr.count("ipv4") == 1 and frr.count("ipv6") == 1)
            path = frr.json("show bgp ipv4 unicast 198.18.0.0/32")["paths"][0]
            assert path["locPrf"] == 333 and path["aspath"]["string"] == "Local"
            wrong = bgp_pb2.PeerConf(
                name="b4", my_asn=64512, peer_asn=64512, peer_address=the_lab.peer4,
                password="wrong", connect_time=timedelta(seconds=2),
            )  # fmt: skip
            s.stub.UpdatePeer(bgp_pb2.UpdatePeerRequest(peer=wrong), timeout=10)
            time.sleep(4)
            assert not frr.established(the_lab.spk4) and not s.established("b4")
        finally:
            s.close()


@pytest.mark.usefixtures("gobgp_lab")
def test_gobgp_ebgp_v4_v6_communities() -> None:
    with lab("g") as the_lab:
        gobgp = GoBGP(the_lab, gobgp_conf(the_lab, asn=GOBGP_AS, peer_as=OUR_AS))
        s = the_lab.speaker()
        try:
            add_peers(s, the_lab, peer_asn=GOBGP_AS)
            wait_for("GoBGP sessions", lambda: gobgp.established(the_lab.spk4)
                     and gobgp.established(the_lab.spk6), timeout=30)  # fmt: skip
            s.stub.SetAdvertisements(ads(3, 3, communities=["65000:9", "large:1:2:3"]), timeout=10)
            wait_for("routes on GoBGP", lambda: gobgp.count("ipv4") == 3
                     and gobgp.count("ipv6") == 3)  # fmt: skip
            text = gobgp.cmd("global", "rib", "-a", "ipv4", "198.18.0.1/32")
            assert "4200000001" in text and "65000:9" in text and "1:2:3" in text, text
            s.stub.SetAdvertisements(ads(0, 1), timeout=10)
            wait_for("withdrawals on GoBGP", lambda: gobgp.count("ipv4") == 0
                     and gobgp.count("ipv6") == 1)  # fmt: skip
        finally:
            s.close()


@pytest.mark.usefixtures("frr_lab")
def test_frr_route_refresh_and_graceful_restart() -> None:
    with lab("fg") as the_lab:
        conf = frr_conf(the_lab).replace(
            " no bgp ebgp-requires-policy", " no bgp ebgp-requires-policy\n bgp graceful-restart"
        )
        frr = Frr(the_lab, conf)
        s = the_lab.speaker()
        try:
            add_peers(s, the_lab, peer_asn=FRR_AS, enable_graceful_restart=True)
            wait_for("FRR sessions", lambda: frr.established(the_lab.spk4), timeout=30)
            s.stub.SetAdvertisements(ads(10, 0), timeout=10)
            wait_for("routes on FRR", lambda: frr.count("ipv4") == 10)
            frr.cmd(f"clear bgp ipv4 unicast {the_lab.spk4} soft in")  # sends ROUTE-REFRESH
            wait_for(
                "the refresh to be answered",
                lambda: s.peer("b4").state.received.route_refresh == 1,
            )
            s.proc.send_signal(signal.SIGKILL)
            s.proc.wait(timeout=5)
            s.close()
            wait_for("FRR to notice", lambda: not frr.established(the_lab.spk4), timeout=15)

            def stale() -> int:
                routes = frr.json("show bgp ipv4 unicast").get("routes", {})
                return sum(1 for paths in routes.values() for p in paths if p.get("stale"))

            assert frr.count("ipv4") == 10 and stale() == 10  # kept, marked stale
            s = the_lab.speaker("speaker2")
            add_peers(s, the_lab, peer_asn=FRR_AS, enable_graceful_restart=True)
            wait_for("new session", lambda: frr.established(the_lab.spk4), timeout=30)
            assert frr.count("ipv4") == 10
            s.stub.SetAdvertisements(ads(10, 0), timeout=10)
            wait_for("End-of-RIB to clear the stale marks", lambda: stale() == 0)
            assert frr.count("ipv4") == 10
        finally:
            s.close()
