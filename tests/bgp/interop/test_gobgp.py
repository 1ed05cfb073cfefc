"""Our speaker against GoBGP, beyond test_frr_gobgp.py: iBGP, MD5, 4-octet ASNs, hold timer,
graceful restart (GoBGP as the receiving speaker). Every check is read on GoBGP's side.

Not here: route refresh. `gobgp neighbor X softresetin` (GoBGP 3.10) re-runs GoBGP's import
policy over its own Adj-RIB-In and sends no ROUTE-REFRESH (our received counter stays 0), and
GoBGP offers no other way to send one; BIRD and FRR cover it.
"""

from __future__ import annotations

import signal
import threading
import time
from datetime import timedelta

import pytest

from metallb.bgp.v1 import bgp_pb2

from .lab import GoBGP, Lab, hold_timer_expires_while_frozen, lab, wait_for
from .test_bird import OUR_AS, add_peers, ads

pytestmark = pytest.mark.usefixtures("gobgp_lab")

GOBGP_AS4 = 4_200_000_004  # 4-octet on GoBGP's side too


def gobgp_conf(
    lab: Lab, *, asn: int, peer_as: int, password: str = "", graceful_restart: bool = False
) -> str:
    out = f"""[global.config]
  as = {asn}
  router-id = "{lab.peer4}"
  local-address-list = ["{lab.peer4}", "{lab.peer6}"]
"""
    for addr, family in ((lab.spk4, "ipv4-unicast"), (lab.spk6, "ipv6-unicast")):
        out += f"""
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{addr}"
    peer-as = {peer_as}
"""
        if password:
            out += f'    auth-password = "{password}"\n'
        out += """  [neighbors.timers.config]
    connect-retry = 1
    idle-hold-time-after-reset = 1
"""
        if graceful_restart:
            out += """  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 60
"""
        out += f"""  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "{family}"
"""
        if graceful_restart:
            out += """    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
"""
    return out


def both(gobgp: GoBGP, lab: Lab) -> bool:
    return gobgp.established(lab.spk4) and gobgp.established(lab.spk6)


def attrs(gobgp: GoBGP, afi: str, prefix: str) -> dict[int, object]:
    """The path attributes GoBGP holds for `prefix`, by type code."""
    rib = gobgp.json("global", "rib", "-a", afi)
    (path,) = rib[prefix]
    return {attr["type"]: attr for attr in path["attrs"]}


def test_gobgp_ibgp_local_pref_large_communities_md5_and_wrong_password() -> None:
    with lab("gi") as the_lab:
        gobgp = GoBGP(the_lab, gobgp_conf(the_lab, asn=64512, peer_as=64512, password="g0bgp"))
        s = the_lab.speaker()
        try:
            add_peers(s, the_lab, my_asn=64512, peer_asn=64512, password="g0bgp")
            wait_for("iBGP sessions with MD5", lambda: both(gobgp, the_lab), timeout=30)
            s.stub.SetAdvertisements(
                ads(1, 1, local_pref=250, communities=["65000:5", "large:4200000001:7:8"]),
                timeout=10,
            )
            wait_for("routes", lambda: gobgp.count("ipv4") == 1 and gobgp.count("ipv6") == 1)
            for afi, prefix in (("ipv4", "198.18.0.0/32"), ("ipv6", "fd00:198:18::/128")):
                got = attrs(gobgp, afi, prefix)
                assert got[5] == {"type": 5, "value": 250}  # LOCAL_PREF
                assert got[2] == {"type": 2, "as_paths": []}  # iBGP: empty AS_PATH
                assert got[32]["value"] == [  # type: ignore[index]
                    {"ASN": 4200000001, "LocalData1": 7, "LocalData2": 8}
                ]
                assert got[8]["communities"] == [65000 << 16 | 5]  # type: ignore[index]
            for name, addr in (("b4", the_lab.peer4), ("b6", the_lab.peer6)):
                wrong = bgp_pb2.PeerConf(
                    name=name, my_asn=64512, peer_asn=64512, peer_address=addr,
                    password="wrong", connect_time=timedelta(seconds=2),
                )  # fmt: skip
                s.stub.UpdatePeer(bgp_pb2.UpdatePeerRequest(peer=wrong), timeout=10)
            time.sleep(4)  # several attempts; the kernel drops SYNs signed with another key
            assert not gobgp.established(the_lab.spk4) and not gobgp.established(the_lab.spk6)
            assert not s.established("b4") and not s.established("b6")
        finally:
            s.close()


def test_gobgp_4octet_asns_and_hold_timer_expiry_when_frozen() -> None:
    with lab("g4") as the_lab:
        gobgp = GoBGP(the_lab, gobgp_conf(the_lab, asn=GOBGP_AS4, peer_as=OUR_AS))
        s = the_lab.speaker()
        try:
            add_peers(s, the_lab, peer_asn=GOBGP_AS4, hold_time=timedelta(seconds=3))
            wait_for("4-octet sessions", lambda: both(gobgp, the_lab), timeout=30)
            s.stub.SetAdvertisements(ads(1, 1), timeout=10)
            wait_for("routes", lambda: gobgp.count("ipv4") == 1 and gobgp.count("ipv6") == 1)
            assert attrs(gobgp, "ipv4", "198.18.0.0/32")[2] == {
                "type": 2,
                "as_paths": [{"segment_type": 2, "num": 1, "asns": [OUR_AS]}],
            }
            neighbor = gobgp.json("neighbor", the_lab.spk4)
            caps = [c["type_url"] for c in neighbor["state"]["remote_cap"]]
            assert "type.googleapis.com/apipb.FourOctetASNCapability" in caps
            state = s.peer("b4").state
            assert state.capabilities.four_octet_as and state.peer_asn == GOBGP_AS4
            assert state.negotiated_hold_time.seconds == 3
            hold_timer_expires_while_frozen(s, "b4", gobgp.proc.pid)
            # Not waited for: the session coming back (GoBGP idles 5 s first); BIRD's and FRR's
            # tests check it.
        finally:
            s.close()


def test_gobgp_keeps_our_routes_stale_across_our_sigkill() -> None:
    """RFC 4724 with GoBGP as the receiving speaker: stale, kept, refreshed by our End-of-RIB."""
    with lab("gg") as the_lab:
        gobgp = GoBGP(
            the_lab, gobgp_conf(the_lab, asn=65004, peer_as=OUR_AS, graceful_restart=True)
        )
        s = the_lab.speaker()
        try:
            add_peers(s, the_lab, peer_asn=65004, enable_graceful_restart=True)
            wait_for("sessions", lambda: both(gobgp, the_lab), timeout=30)
            s.stub.SetAdvertisements(ads(20, 20), timeout=10)
            wait_for("routes", lambda: gobgp.count("ipv4") == 20 and gobgp.count("ipv6") == 20)
            assert s.peer("b4").state.capabilities.graceful_restart

            def stale(afi: str) -> int:
                rib = gobgp.json("global", "rib", "-a", afi) or {}
                return sum(1 for paths in rib.values() for p in paths if p.get("stale"))

            counts: list[tuple[int, int]] = []
            stop = threading.Event()

            def watch() -> None:
                while not stop.is_set():  # bounded by the test's own timeouts
                    counts.append((gobgp.count("ipv4"), gobgp.count("ipv6")))
                    time.sleep(0.2)  # each count is a gobgp process: spare the 2 cores

            watcher = threading.Thread(target=watch)
            watcher.start()
            try:
                s.proc.send_signal(signal.SIGKILL)
                s.proc.wait(timeout=5)
                s.close()
                wait_for("GoBGP to mark our routes stale", lambda: stale("ipv4") == 20)
                s = the_lab.speaker("speaker2")
                add_peers(s, the_lab, peer_asn=65004, enable_graceful_restart=True)
                # GoBGP stays Idle for 5 s after a session drops, whatever its timers say.
                wait_for("new sessions", lambda: both(gobgp, the_lab), timeout=30)
                time.sleep(0.5)
                assert stale("ipv4") == 20 and stale("ipv6") == 20  # no End-of-RIB yet
                s.stub.SetAdvertisements(ads(20, 20), timeout=10)
                wait_for("End-of-RIB", lambda: stale("ipv4") == 0 and stale("ipv6") == 0)
            finally:
                stop.set()
                watcher.join()
            assert counts and min(counts) == (20, 20)  # nothing was ever withdrawn
            families = gobgp.json("neighbor", the_lab.spk4)["afi_safis"]
            assert families[0]["mp_graceful_restart"]["state"]["end_of_rib_received"] is True
        finally:
            s.close()
