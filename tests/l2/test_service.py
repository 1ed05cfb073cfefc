"""The L2 service on real interfaces: `metallb-grpc l2` in a node namespace, and arping, ndisc6
and raw captures in a peer namespace (see conftest.py for the links)."""

import asyncio
import contextlib
import itertools
import os
import re
import select
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import grpc
import pytest
from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, IPv6
from scapy.layers.l2 import ARP, Ether

from metallb.common.v1 import common_pb2
from metallb.l2.v1 import l2_pb2
from tests.conftest import require_binary
from tests.l2.lab import L2Process, Lab, netns, raw_socket

Run = Callable[[Coroutine[Any, Any, Any]], Any]


def spec(ip: str, *interfaces: str, owner: str = "") -> l2_pb2.AnnouncementSpec:
    return l2_pb2.AnnouncementSpec(
        ip=ip, interfaces=list(interfaces), all_interfaces=not interfaces, owner=owner
    )


async def set_announcements(
    l2: L2Process, *specs: l2_pb2.AnnouncementSpec
) -> l2_pb2.SetAnnouncementsResponse:
    async with grpc.aio.insecure_channel(l2.target) as channel:
        response: l2_pb2.SetAnnouncementsResponse = await l2.stub(channel).SetAnnouncements(
            l2_pb2.SetAnnouncementsRequest(announcements=list(specs))
        )
        return response


def arping(lab: Lab, ifname: str, ip: str) -> subprocess.Popen[str]:
    return lab.popen(lab.peer, require_binary("arping"), "-I", ifname, "-c", "1", "-w", "1", ip)


def ndisc6(lab: Lab, ifname: str, ip: str) -> subprocess.Popen[str]:
    return lab.popen(lab.peer, require_binary("ndisc6"), "-1", "-r", "1", "-w", "1000", ip, ifname)


def answers(probes: Sequence[subprocess.Popen[str]]) -> list[str | None]:
    """Run probes concurrently; each gives the MAC that answered, or None."""
    found: list[str | None] = []
    for probe in probes:
        out, _ = probe.communicate(timeout=10)
        match = re.search(r"(?:reply from \S+ \[|link-layer address: )([0-9A-Fa-f:]{17})", out)
        found.append(match.group(1).lower() if match and probe.returncode == 0 else None)
    return found


async def grpc_settled(limit: float = 1.0) -> None:
    """Give grpc.aio's own status task of a cancelled stream (it ends a few ms after the
    channel closes) a bounded time to finish, so the leak check sees only real leaks."""
    end = time.monotonic() + limit
    current = asyncio.current_task()
    while time.monotonic() < end and any(
        not t.done() and t is not current for t in asyncio.all_tasks()
    ):
        await asyncio.sleep(0.01)


def test_list_interfaces_says_why_each_link_is_or_is_not_used(arun: Run, l2: L2Process) -> None:
    async def scenario() -> l2_pb2.ListInterfacesResponse:
        # IPv6 link-locals appear a moment after the links come up; the service learns of them
        # from netlink address events, so poll (bounded) until both plain links have theirs.
        async with grpc.aio.insecure_channel(l2.target) as channel:
            end = time.monotonic() + 3
            while True:
                listed: l2_pb2.ListInterfacesResponse = await l2.stub(channel).ListInterfaces(
                    l2_pb2.ListInterfacesRequest()
                )
                plain = [i for i in listed.interfaces if i.name in ("ens1", "ens2")]
                if all(i.ndp_eligible for i in plain) or time.monotonic() > end:
                    return listed
                await asyncio.sleep(0.05)

    by_name = {i.name: i for i in arun(scenario()).interfaces}
    reasons = {
        name: (i.arp_eligible, i.arp_reason, i.ndp_eligible, i.ndp_reason)
        for name, i in by_name.items()
    }
    ok = (True, l2_pb2.INELIGIBLE_REASON_UNSPECIFIED) * 2
    assert reasons["ens1"] == reasons["ens2"] == ok
    assert reasons["br0"][:2] == ok[:2]  # its link-local may still be on its way

    def both(reason: int) -> tuple[bool, int, bool, int]:
        return (False, reason, False, reason)

    assert reasons["brport0"] == both(l2_pb2.INELIGIBLE_REASON_ENSLAVED)
    assert by_name["brport0"].master_index == by_name["br0"].index
    assert reasons["noarp0"] == both(l2_pb2.INELIGIBLE_REASON_NOARP)
    assert reasons["docker7"] == both(l2_pb2.INELIGIBLE_REASON_EXCLUDED)
    assert reasons["lo"] == both(l2_pb2.INELIGIBLE_REASON_EXCLUDED)
    if reasons["late0"][0]:
        pytest.fail("late0 must still be down here (test order)")
    assert reasons["late0"] == both(l2_pb2.INELIGIBLE_REASON_DOWN)
    assert by_name["ens1"].ipv6_link_local.startswith("fe80::")


def test_arping_and_ndisc6_get_our_mac_only_where_named_and_nothing_after_withdraw(
    arun: Run, lab: Lab, l2: L2Process
) -> None:
    ens1, br0 = lab.mac(lab.node, "ens1"), lab.mac(lab.node, "br0")
    response = arun(
        set_announcements(
            l2,
            spec("10.77.1.10", "ens1", owner="a/web"),
            spec("10.77.1.10", "ens1", owner="b/web"),
            spec("fd77:1::10", "ens1"),
            spec("10.77.1.11"),
        )
    )
    assert list(response.announced) == ["10.77.1.10", "10.77.1.11", "fd77:1::10"]
    shared = response.announcements[0]
    assert list(shared.owners) == ["a/web", "b/web"] and list(shared.answering_on) == ["ens1"]
    groups = lab.ip(lab.node, "-6", "maddr", "show", "dev", "ens1")
    assert "ff02::1:ff00:10" in groups  # the solicited-node group of fd77:1::10
    got = answers(
        [
            arping(lab, "p1", "10.77.1.10"),
            arping(lab, "p2", "10.77.1.10"),  # not named: ens2 must stay silent
            arping(lab, "p2", "10.77.1.11"),  # all interfaces
            arping(lab, "pb", "10.77.1.11"),  # through the bridge: br0 answers
            arping(lab, "p1", "10.77.1.12"),  # announced by nobody
            ndisc6(lab, "p1", "fd77:1::10"),
        ]
    )
    assert got == [ens1, None, lab.mac(lab.node, "ens2"), br0, None, ens1]
    # One owner leaves: the shared address is still answered (reference counted).
    arun(
        set_announcements(l2, spec("10.77.1.10", "ens1", owner="b/web"), spec("fd77:1::10", "ens1"))
    )
    assert answers([arping(lab, "p1", "10.77.1.10")]) == [ens1]
    response = arun(set_announcements(l2))
    assert list(response.withdrawn) == ["10.77.1.10", "fd77:1::10"] and not response.announcements
    assert answers([arping(lab, "p1", "10.77.1.10"), ndisc6(lab, "p1", "fd77:1::10")]) == [
        None,
        None,
    ]
    assert "ff02::1:ff00:10" not in lab.ip(lab.node, "-6", "maddr", "show", "dev", "ens1")
    # The kernel still answers for the address configured on ens1: we never touch it.
    assert answers([arping(lab, "p1", "10.77.1.2")]) == [ens1]
    metrics = l2.scrape()
    for line in (
        'metallb_layer2_requests_received{ip="10.77.1.10"} 2.0',
        'metallb_layer2_responses_sent{ip="10.77.1.10"} 2.0',
        'metallb_layer2_responses_sent{ip="fd77:1::10"} 1.0',
        'metallb_layer2_requests_dropped{reason="not_match_interface"}',
        'metallb_layer2_requests_dropped{reason="announce_ip"}',
    ):
        assert line in metrics, line


SO_TIMESTAMPNS = 35


def _recv_stamped(sock: socket.socket) -> tuple[float, bytes]:
    """A frame and the kernel's receive time (CLOCK_REALTIME), unaffected by our own delays."""
    data, ancillary, _, _ = sock.recvmsg(2048, 64)
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            sec, nsec = struct.unpack("qq", value[:16])
            return sec + nsec / 1e9, data
    raise AssertionError("no receive timestamp")


def test_gratuitous_burst_seen_in_the_peer_namespace(arun: Run, lab: Lab, l2: L2Process) -> None:
    mac = lab.mac(lab.node, "ens1")
    with netns(lab.peer):
        sock = raw_socket("p1")
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    frames: list[tuple[float, bytes]] = []
    try:
        t0 = time.time()
        arun(
            set_announcements(
                l2,
                spec("10.77.1.20", "ens1"),
                spec("fd77:1::20", "ens1"),
                spec("10.77.1.21", "ens1"),
            )
        )
        withdrawn = False
        while (left := t0 + 4.8 - time.time()) > 0:
            if not withdrawn and time.time() > t0 + 1.6:
                arun(set_announcements(l2, spec("10.77.1.20", "ens1"), spec("fd77:1::20", "ens1")))
                withdrawn = True
            if select.select([sock], [], [], min(left, 0.1))[0]:
                frames.append(_recv_stamped(sock))
    finally:
        sock.close()
    arp: dict[tuple[str, int], list[float]] = {}
    na: list[float] = []
    for at, data in frames:
        pkt = Ether(data)  # scapy is the oracle for what went on the wire
        if pkt.haslayer(ARP) and pkt[ARP].psrc == pkt[ARP].pdst:
            assert pkt[Ether].dst == "ff:ff:ff:ff:ff:ff" and pkt[ARP].hwsrc == mac
            arp.setdefault((pkt[ARP].psrc, pkt[ARP].op), []).append(at - t0)
        elif pkt.haslayer(ICMPv6ND_NA) and pkt[ICMPv6ND_NA].tgt == "fd77:1::20":
            assert pkt[IPv6].dst == "ff02::1" and pkt[IPv6].hlim == 255
            assert (pkt[ICMPv6ND_NA].O, pkt[ICMPv6ND_NA].S) == (1, 0)
            assert pkt[ICMPv6NDOptDstLLAddr].lladdr == mac
            na.append(at - t0)
    for times in (arp[("10.77.1.20", 1)], arp[("10.77.1.20", 2)], na):
        assert len(times) == 5, times  # t = 0, 1.1, 2.2, 3.3, 4.4
        assert times[0] < 0.25  # at once (the bench measures ~1 ms), well before 1.1 s
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(0.95 < gap < 1.3 for gap in gaps), gaps  # 1.1 s, with timer jitter
    # Withdrawn at ~1.6 s: its rounds at 0 and 1.1 s went out, no more.
    assert len(arp[("10.77.1.21", 1)]) == len(arp[("10.77.1.21", 2)]) == 2
    assert 'metallb_layer2_gratuitous_sent{ip="10.77.1.20"} 10.0' in l2.scrape()
    arun(set_announcements(l2))


def test_another_host_announcing_our_address_is_reported_in_the_watch(
    arun: Run, lab: Lab, l2: L2Process
) -> None:
    """A peer's gratuitous ARP and unsolicited NA for addresses we answer on ens1 (a hand-off's
    new owner) come out of WatchEvents as EVENT_TYPE_ANNOUNCED_ELSEWHERE, naming its MAC."""
    peer = lab.mac(lab.peer, "p1")
    garp = Ether(dst="ff:ff:ff:ff:ff:ff", src=peer) / ARP(
        op=1, hwsrc=peer, psrc="10.77.1.95", hwdst="ff:ff:ff:ff:ff:ff", pdst="10.77.1.95"
    )
    na = (
        Ether(dst="33:33:00:00:00:01", src=peer)
        / IPv6(src="fd77:1::95", dst="ff02::1", hlim=255)
        / ICMPv6ND_NA(R=0, S=0, O=1, tgt="fd77:1::95")
        / ICMPv6NDOptDstLLAddr(lladdr=peer)
    )

    async def watch() -> list[l2_pb2.ForeignAnnouncement]:
        found: list[l2_pb2.ForeignAnnouncement] = []
        async with grpc.aio.insecure_channel(l2.target) as channel:
            call = l2.stub(channel).WatchEvents(l2_pb2.WatchEventsRequest())
            while len(found) < 2:
                response = await asyncio.wait_for(call.read(), 5)
                if response.HasField("end_of_snapshot"):
                    with netns(lab.peer):
                        sock = raw_socket("p1")
                    with sock:
                        sock.send(bytes(garp))
                        sock.send(bytes(na))
                found += [
                    e.foreign
                    for e in response.events
                    if e.type == l2_pb2.EVENT_TYPE_ANNOUNCED_ELSEWHERE
                ]
            call.cancel()
        await grpc_settled()
        return found

    arun(set_announcements(l2, spec("10.77.1.95", "ens1"), spec("fd77:1::95", "ens1")))
    try:
        found = arun(watch())
    finally:
        arun(set_announcements(l2))
    assert sorted((f.ip, f.mac, f.interface) for f in found) == [
        ("10.77.1.95", peer, "ens1"),
        ("fd77:1::95", peer, "ens1"),
    ]


def test_interface_rules_and_a_link_brought_up_is_served_at_once(
    arun: Run, lab: Lab, l2: L2Process
) -> None:
    subscribed = asyncio.Event()

    async def watch_until_late0_eligible(events: list[l2_pb2.Event]) -> None:
        async with grpc.aio.insecure_channel(l2.target) as channel:
            call = l2.stub(channel).WatchEvents(l2_pb2.WatchEventsRequest())
            while True:
                response = await call.read()
                events.extend(response.events)
                if response.HasField("end_of_snapshot"):
                    subscribed.set()
                if any(
                    event.type == l2_pb2.EVENT_TYPE_INTERFACE_CHANGED
                    and event.interface.name == "late0"
                    and event.interface.arp_eligible
                    for event in response.events
                ):
                    call.cancel()
                    assert await call.code() == grpc.StatusCode.CANCELLED
                    return

    response = arun(
        set_announcements(
            l2, spec("10.77.1.30"), spec("10.77.1.31", "brport0", "noarp0", "docker7", "late0")
        )
    )
    named = response.announcements[1]
    assert named.status == l2_pb2.ANNOUNCEMENT_STATUS_NO_INTERFACE and not named.answering_on
    got = answers(
        [
            arping(lab, "pn", "10.77.1.30"),
            arping(lab, "pd", "10.77.1.30"),
            arping(lab, "pl", "10.77.1.30"),
            arping(lab, "pb", "10.77.1.31"),
            arping(lab, "pn", "10.77.1.31"),
        ]
    )
    assert got == [None] * 5

    async def bring_up() -> tuple[float, list[l2_pb2.Event]]:
        events: list[l2_pb2.Event] = []
        watch = asyncio.create_task(watch_until_late0_eligible(events))
        await asyncio.wait_for(subscribed.wait(), 10)
        start = time.monotonic()
        await asyncio.to_thread(lab.ip, lab.node, "link", "set", "late0", "up")
        await asyncio.wait_for(watch, 5)
        elapsed = time.monotonic() - start
        await grpc_settled()
        return elapsed, events

    elapsed, events = arun(bring_up())
    assert elapsed < 2.0  # served on the netlink event, not at a 10 s rescan
    snapshot = [e for e in events if e.type == l2_pb2.EVENT_TYPE_SNAPSHOT]
    assert [e.announcement.ip for e in snapshot if e.HasField("announcement")] == [
        "10.77.1.30",
        "10.77.1.31",
    ]
    assert {e.interface.name for e in snapshot if e.HasField("interface")} >= {"ens1", "late0"}
    assert answers([arping(lab, "pl", "10.77.1.30")]) == [lab.mac(lab.node, "late0")]
    lab.ip(lab.node, "link", "set", "late0", "down")
    arun(set_announcements(l2))


def test_instance_id_and_a_resumed_watch_get_only_the_missed_announcement(
    arun: Run, l2: L2Process
) -> None:
    """The same instance id in GetStatus and the resume tokens; a reconnecting watcher gets
    only what it missed; after a restart, the old token gets a full snapshot saying so."""

    async def marker(
        token: common_pb2.ResumeToken | None,
    ) -> tuple[l2_pb2.WatchEventsResponse, list[l2_pb2.Event]]:
        async with grpc.aio.insecure_channel(l2.target) as channel:
            call = l2.stub(channel).WatchEvents(l2_pb2.WatchEventsRequest(resume_token=token))
            events: list[l2_pb2.Event] = []
            while not (reply := await call.read()).HasField("end_of_snapshot"):
                events += reply.events
            if token is not None and reply.end_of_snapshot.start == common_pb2.WATCH_START_RESUMED:
                events += (await asyncio.wait_for(call.read(), 5)).events  # what was missed
            call.cancel()
        await grpc_settled()
        return reply, events

    async def status() -> str:
        async with grpc.aio.insecure_channel(l2.target) as channel:
            reply = await l2.stub(channel).GetStatus(l2_pb2.GetStatusRequest())
            return str(reply.instance_id)

    first = arun(status())
    reply, snapshot = arun(marker(None))
    assert reply.resume_token.instance_id == first
    assert all(e.type == l2_pb2.EVENT_TYPE_SNAPSHOT for e in snapshot)
    arun(set_announcements(l2, spec("10.77.1.40")))  # while nobody watches
    resumed, missed = arun(marker(reply.resume_token))
    assert resumed.end_of_snapshot.start == common_pb2.WATCH_START_RESUMED
    assert [(e.type, e.announcement.ip) for e in missed] == [
        (l2_pb2.EVENT_TYPE_ANNOUNCED, "10.77.1.40")
    ]
    l2.stop()
    l2.start()
    assert arun(status()) != first
    again, snapshot = arun(marker(reply.resume_token))
    assert again.end_of_snapshot.start == common_pb2.WATCH_START_OTHER_INSTANCE
    assert any(e.HasField("interface") for e in snapshot)


def test_listed_desired_set_sent_back_changes_nothing(arun: Run, l2: L2Process) -> None:
    """List -> edit -> Set: the desired set comes back as it was given and loses nothing."""
    given = [
        spec("10.77.1.50", owner="demo/a"),
        spec("10.77.1.50", "ens1", owner="demo/b"),
        spec("fd77:1::50", "ens1", "late0", owner="demo/c"),
    ]
    arun(set_announcements(l2, *given))

    async def listed() -> l2_pb2.ListAnnouncementsResponse:
        async with grpc.aio.insecure_channel(l2.target) as channel:
            reply: l2_pb2.ListAnnouncementsResponse = await l2.stub(channel).ListAnnouncements(
                l2_pb2.ListAnnouncementsRequest()
            )
            return reply

    desired = list(arun(listed()).desired)
    assert desired == given
    again = arun(set_announcements(l2, *desired))
    assert (list(again.announced), list(again.withdrawn), list(again.updated)) == ([], [], [])
    edited = [*desired, spec("10.77.1.51", owner="demo/d")]
    assert list(arun(set_announcements(l2, *edited)).announced) == ["10.77.1.51"]
    assert list(arun(listed()).desired) == edited
    arun(set_announcements(l2))


def test_bad_announcements_name_the_field_and_change_nothing(arun: Run, l2: L2Process) -> None:
    async def scenario() -> list[tuple[grpc.StatusCode, str]]:
        results = []
        async with grpc.aio.insecure_channel(l2.target) as channel:
            stub = l2.stub(channel)
            await stub.SetAnnouncements(
                l2_pb2.SetAnnouncementsRequest(announcements=[spec("10.77.1.40")])
            )
            for bad in (
                [spec("10.77.1.41"), spec("not-an-ip")],
                [spec("224.0.0.1")],
                [l2_pb2.AnnouncementSpec(ip="10.77.1.41")],
                [l2_pb2.AnnouncementSpec(ip="10.77.1.41", all_interfaces=True, interfaces=["x"])],
                [spec("10.77.1.41", "way-too-long-interface-name")],
                [spec("10.77.1.41", owner="a"), spec("10.77.1.41", owner="a")],
            ):
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await stub.SetAnnouncements(l2_pb2.SetAnnouncementsRequest(announcements=bad))
                results.append((info.value.code(), info.value.details() or ""))
            listed = await stub.ListAnnouncements(l2_pb2.ListAnnouncementsRequest())
            assert [a.ip for a in listed.announcements] == ["10.77.1.40"]
            await stub.SetAnnouncements(l2_pb2.SetAnnouncementsRequest())
        return results

    results = arun(scenario())
    assert {code for code, _ in results} == {grpc.StatusCode.INVALID_ARGUMENT}
    assert [details.split(":")[0] for _, details in results] == [
        "announcements[1].ip",
        "announcements[0].ip",
        "announcements[0].interfaces",
        "announcements[0].interfaces",
        "announcements[0].interfaces[0]",
        "announcements[1]",
    ]


def test_without_cap_net_raw_it_refuses_to_start_and_names_the_capability(lab: Lab) -> None:
    setpriv = require_binary("setpriv")
    proc = lab.run(
        lab.node,
        setpriv,
        "--inh-caps=-net_raw",
        "--bounding-set=-net_raw",
        require_binary("metallb-grpc"),
        "l2",
        "--listen",
        f"unix:/tmp/mlbl2-{lab.tag}-nocap.sock",
        "--metrics-listen",
        "",
    )
    assert proc.returncode == 1, proc.stderr
    assert "CAP_NET_RAW" in proc.stderr
    assert "metallb-grpc l2:" in proc.stderr


def test_sigterm_stops_cleanly(lab: Lab) -> None:
    process = L2Process(lab, require_binary("metallb-grpc"), metrics="127.0.0.1:9125").start()
    assert process.stop() == 0
    assert "NOT_SERVING" in "".join(process.log)


def test_the_loop_hot_path_answers_as_well(arun: Run, lab: Lab) -> None:
    """`--hot-path loop` (the measured alternative to the default thread) is a working mode."""
    process = L2Process(
        lab, require_binary("metallb-grpc"), ("--hot-path", "loop"), metrics="127.0.0.1:9126"
    ).start()
    try:
        arun(set_announcements(process, spec("10.77.1.60", "ens1"), spec("fd77:1::60", "ens1")))
        got = answers([arping(lab, "p1", "10.77.1.60"), ndisc6(lab, "p1", "fd77:1::60")])
        assert got == [lab.mac(lab.node, "ens1")] * 2
    finally:
        assert process.stop() == 0


def test_ndp_through_a_snooping_bridge_with_a_querier(arun: Run, lab: Lab, l2: L2Process) -> None:
    """With MLD snooping and a querier, a bridge forwards a solicitation for a group only to
    the ports that reported it: our group join must send MLD reports (LAB.md: test both)."""
    peer = lab.peer
    lab.ip(
        peer, "link", "add", "brs", "type", "bridge", "mcast_snooping", "1", "mcast_querier", "1"
    )
    lab.veth("ens3", "s3")
    lab.ip(peer, "link", "add", "ps", "type", "veth", "peer", "pq")
    for port in ("s3", "ps"):
        lab.ip(peer, "link", "set", port, "master", "brs")
        lab.ip(peer, "link", "set", port, "up")
    lab.ip(peer, "link", "set", "brs", "up")
    lab.ip(peer, "link", "set", "pq", "up")
    lab.ip(peer, "addr", "add", "fd77:3::100/64", "dev", "pq")
    try:
        deadline = time.monotonic() + 5
        while (
            not arun(set_announcements(l2, spec("fd77:3::70", "ens3")))
            .announcements[0]
            .answering_on
        ):
            assert time.monotonic() < deadline, "ens3 never became eligible for NDP"
            time.sleep(0.1)
        deadline = time.monotonic() + 5
        while "ff02::1:ff00:70" not in (mdb := sh_bridge_mdb(lab)):
            assert time.monotonic() < deadline, f"no MDB entry for our group: {mdb}"
            time.sleep(0.1)
        assert "port s3" in mdb
        assert answers([ndisc6(lab, "pq", "fd77:3::70")]) == [lab.mac(lab.node, "ens3")]
    finally:
        arun(set_announcements(l2))
        lab.ip(lab.node, "link", "del", "ens3")
        lab.ip(peer, "link", "del", "ps")
        lab.ip(peer, "link", "del", "brs")


def sh_bridge_mdb(lab: Lab) -> str:
    return lab.run(lab.peer, require_binary("bridge"), "mdb", "show").stdout


# --- the hot path: its table swaps, its threads, its priority ---------------------------------


def _arp_request(lab: Lab, ifname: str, target: str) -> bytes:
    peer = lab.mac(lab.peer, ifname)
    return bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=peer) / ARP(op=1, hwsrc=peer, pdst=target))


def _peer_arp_socket(lab: Lab, ifname: str) -> socket.socket:
    with netns(lab.peer):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
    sock.bind((ifname, 0x0806))
    sock.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE: keep every reply
    return sock


def _replies(sock: socket.socket, quiet: float = 0.3) -> list[tuple[str, str, str]]:
    """(Ethernet destination, sender MAC, sender IP) of every ARP reply until `quiet` s pass."""
    found = []
    while select.select([sock], [], [], quiet)[0]:
        pkt = Ether(sock.recv(2048))
        if pkt.haslayer(ARP) and pkt[ARP].op == 2 and pkt.dst != "ff:ff:ff:ff:ff:ff":
            found.append((pkt.dst, pkt[ARP].hwsrc, pkt[ARP].psrc))
    return found


def _metric(text: str, name: str, ip: str) -> float:
    match = re.search(rf'^{name}{{ip="{re.escape(ip)}"}} (\S+)$', text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_withdrawn_address_is_not_answered_once_the_call_returns(
    arun: Run, lab: Lab, l2: L2Process
) -> None:
    kept, gone = "10.77.1.80", "10.77.1.81"
    sock = _peer_arp_socket(lab, "p1")
    try:
        arun(set_announcements(l2, spec(kept, "ens1"), spec(gone, "ens1")))
        _replies(sock, 0.1)  # the gratuitous burst's first round
        arun(set_announcements(l2, spec(kept, "ens1")))
        frames = [_arp_request(lab, "p1", gone), _arp_request(lab, "p1", kept)]
        for _ in range(200):
            for frame in frames:
                sock.send(frame)
        got = _replies(sock)
    finally:
        sock.close()
        arun(set_announcements(l2))
    assert {ip for _, _, ip in got} == {kept}
    assert len(got) == 200


def test_reply_table_swaps_under_concurrent_set_announcements(
    arun: Run, lab: Lab, l2: L2Process
) -> None:
    """Requests for a steady address and a toggled one stream in while SetAnnouncements swaps
    the table 40 times: the steady one is answered every time, every reply is well formed, the
    counters agree, and after the last withdraw the toggled one is never answered."""
    steady, toggled = "10.77.1.82", "10.77.1.83"
    ens1, peer = lab.mac(lab.node, "ens1"), lab.mac(lab.peer, "p1")
    before = l2.scrape()
    sock = _peer_arp_socket(lab, "p1")
    frames = [_arp_request(lab, "p1", steady), _arp_request(lab, "p1", toggled)]
    sent = 0
    stop = False

    def send() -> None:
        nonlocal sent
        while not stop:
            for frame in frames:
                sock.send(frame)
            sent += 1
            time.sleep(0.0005)

    sender = threading.Thread(target=send)
    try:
        arun(set_announcements(l2, spec(steady, "ens1")))
        sender.start()

        async def toggle() -> None:
            async with grpc.aio.insecure_channel(l2.target) as channel:
                stub = l2.stub(channel)
                for i in range(40):
                    specs = [spec(steady, "ens1")] + ([spec(toggled, "ens1")] if i % 2 else [])
                    await stub.SetAnnouncements(l2_pb2.SetAnnouncementsRequest(announcements=specs))
                    await asyncio.sleep(0.01)

        arun(toggle())  # the last call (i = 39) announces it; withdraw it for good:
        arun(set_announcements(l2, spec(steady, "ens1")))
        withdrawn_at = sent
        time.sleep(0.3)
        stop = True
        sender.join()
        got = _replies(sock)
    finally:
        stop = True
        sock.close()
        arun(set_announcements(l2))
    assert {(dst, src) for dst, src, _ in got} == {(peer, ens1)}
    steady_replies = sum(1 for _, _, ip in got if ip == steady)
    assert steady_replies == sent
    toggled_replies = sum(1 for _, _, ip in got if ip == toggled)
    assert 0 < toggled_replies <= withdrawn_at + 1  # + the request in flight at the call
    after = l2.scrape()
    for name in ("metallb_layer2_requests_received", "metallb_layer2_responses_sent"):
        assert _metric(after, name, steady) - _metric(before, name, steady) == sent
        assert _metric(after, name, toggled) - _metric(before, name, toggled) == toggled_replies


def _thread_policies(process: L2Process) -> dict[str, int]:
    """Scheduling policy (0 normal, 1 SCHED_FIFO) of each thread of the process, by thread id."""
    assert process.proc is not None
    task_dir = f"/proc/{process.proc.pid}/task"
    policies = {}
    for tid in os.listdir(task_dir):
        with contextlib.suppress(FileNotFoundError), open(f"{task_dir}/{tid}/stat") as stat:
            policies[tid] = int(stat.read().rsplit(")", 1)[1].split()[38])
    return policies


def test_link_threads_answer_at_realtime_priority_and_leave_it_under_a_flood(
    arun: Run, lab: Lab, l2: L2Process
) -> None:
    # One SCHED_FIFO thread per answering link (ens1, ens2, br0, ...); the rest stay normal.
    policies = _thread_policies(l2)
    assert 3 <= list(policies.values()).count(1) < len(policies)
    assert "ens1: answering at SCHED_FIFO priority 1" in "".join(l2.log)
    sock = _peer_arp_socket(lab, "p2")
    try:
        arun(set_announcements(l2, spec("10.77.2.90", "ens2")))
        frame = _arp_request(lab, "p2", "10.77.2.90")
        for _ in range(5000):  # well over FloodGuard's 1,000 frames per 0.1 s
            sock.send(frame)
        assert len(_replies(sock)) == 5000
        assert "ens2: more than 1000 frames in 0.1 s" in "".join(l2.log)
        assert list(_thread_policies(l2).values()).count(1) == list(policies.values()).count(1) - 1
        time.sleep(0.3)  # quiet now: the next frame finds it so
        sock.send(frame)
        assert len(_replies(sock)) == 1
        assert "ens2: load back under the limit" in "".join(l2.log)
        assert _thread_policies(l2) == policies
    finally:
        sock.close()
        arun(set_announcements(l2))


def test_priority_zero_keeps_every_thread_normal(arun: Run, lab: Lab) -> None:
    process = L2Process(
        lab, require_binary("metallb-grpc"), ("--hot-path-priority", "0"), metrics="127.0.0.1:9127"
    ).start()
    try:
        arun(set_announcements(process, spec("10.77.1.91", "ens1")))
        assert answers([arping(lab, "p1", "10.77.1.91")]) == [lab.mac(lab.node, "ens1")]
        assert set(_thread_policies(process).values()) == {0}
    finally:
        assert process.stop() == 0
