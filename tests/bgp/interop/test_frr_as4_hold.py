"""Our speaker against FRR bgpd, beyond test_frr_gobgp.py: 4-octet ASNs on both sides and the
hold timer expiring while bgpd is frozen (SIGSTOP)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from .lab import Frr, hold_timer_expires_while_frozen, lab, wait_for
from .test_bird import OUR_AS, add_peers, ads
from .test_frr_gobgp import FRR_AS, frr_conf

pytestmark = pytest.mark.usefixtures("frr_lab")

FRR_AS4 = 4_200_000_003


def test_frr_4octet_asns_and_hold_timer_expiry_when_frozen() -> None:
    with lab("f4") as the_lab:
        conf = frr_conf(the_lab).replace(f"router bgp {FRR_AS}", f"router bgp {FRR_AS4}")
        frr = Frr(the_lab, conf)
        s = the_lab.speaker()
        try:
            add_peers(s, the_lab, peer_asn=FRR_AS4, hold_time=timedelta(seconds=3))
            wait_for("4-octet sessions", lambda: frr.established(the_lab.spk4)
                     and frr.established(the_lab.spk6), timeout=30)  # fmt: skip
            s.stub.SetAdvertisements(ads(1, 1), timeout=10)
            wait_for("routes on FRR", lambda: frr.count("ipv4") == 1 and frr.count("ipv6") == 1)
            neighbor = frr.json("show bgp neighbors " + the_lab.spk4)[the_lab.spk4]
            assert neighbor["localAs"] == FRR_AS4 and neighbor["remoteAs"] == OUR_AS
            assert neighbor["neighborCapabilities"]["4byteAs"] == "advertisedAndReceived"
            path = frr.json("show bgp ipv4 unicast 198.18.0.0/32")["paths"][0]
            assert path["aspath"]["string"] == str(OUR_AS)
            state = s.peer("b4").state
            assert state.capabilities.four_octet_as and state.peer_asn == FRR_AS4
            assert state.negotiated_hold_time.seconds == 3
            hold_timer_expires_while_frozen(s, "b4", frr.pid("bgpd"))
            wait_for("the session to come back", lambda: s.established("b4"), timeout=30)
            wait_for("FRR to hold the route again", lambda: frr.count("ipv4") == 1)
        finally:
            s.close()
