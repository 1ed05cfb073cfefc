"""`metallb.bgp.v1` conventions (STYLE.md §10): what GetPeer returns can be sent back unchanged,
partial updates take a FieldMask, times are Timestamps and intervals Durations (grpcurl prints
RFC 3339 and "0.150s"), per-peer failures of SetAdvertisements are `google.rpc.Status`."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from metallb.bgp.v1 import bgp_pb2, bgp_pb2_grpc
from tests.conftest import require_binary

from .routes import routes
from .test_service import bgp_server_at

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def full_conf(name: str = "p1") -> bgp_pb2.PeerConf:
    """A PeerConf with every field set (127.0.0.1 port 9: nothing answers, which is fine)."""
    return bgp_pb2.PeerConf(
        name=name,
        my_asn=64512,
        peer_asn=0,
        dynamic_asn=bgp_pb2.DYNAMIC_ASN_EXTERNAL,
        replace_as=4_200_000_001,
        peer_address="127.0.0.1",
        peer_port=9,
        source_address="127.0.0.1",
        router_id="192.0.2.1",
        password="s3cret",
        hold_time=timedelta(seconds=30),
        keepalive_time=timedelta(seconds=10),
        connect_time=timedelta(seconds=5),
        ebgp_multihop=True,
        vrf="",
        enable_graceful_restart=True,
        disable_mp=False,
        dual_stack_address_family=True,
        bfd_profile="fast",
        bfd=bgp_pb2.BfdSettings(
            receive_interval=timedelta(milliseconds=150),
            transmit_interval=timedelta(milliseconds=200),
            detect_multiplier=5,
            echo_interval=timedelta(milliseconds=60),
            echo_mode=False,
            passive_mode=True,
            minimum_ttl=250,
        ),
        max_prefixes=5000,
        max_prefix_cease=True,
    )


def without_secret(conf: bgp_pb2.PeerConf) -> bgp_pb2.PeerConf:
    """`conf` as a response may show it: no password, nor the two output-only fields."""
    out = bgp_pb2.PeerConf()
    out.CopyFrom(conf)
    out.ClearField("password")
    out.ClearField("password_set")
    out.ClearField("password_fingerprint")
    return out


@asynccontextmanager
async def server() -> AsyncIterator[tuple[str, bgp_pb2_grpc.BGPServiceStub]]:
    async with bgp_server_at() as (_, address, stub):
        yield address, stub


def test_get_then_update_round_trip_loses_nothing(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        async with server() as (_, stub):
            sent = full_conf()
            await stub.AddPeer(bgp_pb2.AddPeerRequest(peer=sent))
            got = (await stub.GetPeer(bgp_pb2.GetPeerRequest(name="p1"))).peer.conf
            assert without_secret(got) == without_secret(sent)  # BFD settings included
            assert got.password == "" and got.password_set and len(got.password_fingerprint) == 16
            # Sent back unchanged (no password, the current fingerprint): the password is kept.
            reply = await stub.UpdatePeer(bgp_pb2.UpdatePeerRequest(peer=got))
            assert not reply.restarted and reply.peer.conf == got
            # Unset timers come back as the ones the session runs with; sent back, the same.
            plain = bgp_pb2.PeerConf(
                name="p2", my_asn=64512, peer_asn=65000, peer_address="127.0.0.2", peer_port=9
            )
            added = (await stub.AddPeer(bgp_pb2.AddPeerRequest(peer=plain))).peer.conf
            assert (added.hold_time.seconds, added.keepalive_time.seconds) == (90, 30)
            again = await stub.UpdatePeer(bgp_pb2.UpdatePeerRequest(peer=added))
            assert not again.restarted and again.peer.conf == added

    arun(scenario())


def test_update_mask_changes_only_the_named_fields(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        async with server() as (_, stub):
            await stub.AddPeer(bgp_pb2.AddPeerRequest(peer=full_conf()))
            change = bgp_pb2.PeerConf(name="p1", hold_time=timedelta(seconds=60))
            change.bfd.detect_multiplier = 7
            reply = await stub.UpdatePeer(
                bgp_pb2.UpdatePeerRequest(
                    peer=change, update_mask=FieldMask(paths=["hold_time", "bfd.detect_multiplier"])
                )
            )
            assert reply.restarted
            expected = full_conf()
            expected.hold_time.FromSeconds(60)
            expected.bfd.detect_multiplier = 7
            assert without_secret(reply.peer.conf) == without_secret(expected)
            assert reply.peer.conf.password_set  # not named in the mask: kept
            # docs/bgp.md's example (ebgp_multihop off first: gtsm refuses it)
            hardening = bgp_pb2.PeerConf(name="p1", gtsm=True, max_prefixes=1000)
            paths = ["gtsm", "max_prefixes", "ebgp_multihop"]
            hardened = await stub.UpdatePeer(
                bgp_pb2.UpdatePeerRequest(peer=hardening, update_mask=FieldMask(paths=paths))
            )
            assert hardened.peer.conf.gtsm and hardened.peer.conf.max_prefixes == 1000
            assert hardened.peer.conf.hold_time.seconds == 60  # not named: kept
            for paths, text in (
                (["no_such_field"], "update_mask: unknown PeerConf field in no_such_field"),
                (["name"], "update_mask: a peer cannot be renamed"),
            ):
                with_mask = bgp_pb2.UpdatePeerRequest(
                    peer=change, update_mask=FieldMask(paths=paths)
                )
                try:
                    await stub.UpdatePeer(with_mask)
                except grpc.aio.AioRpcError as err:
                    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
                    assert err.details() == text
                else:
                    raise AssertionError(f"{paths} accepted")

    arun(scenario())


def test_advertisements_list_then_set_round_trip(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        async with server() as (_, stub):
            await stub.AddPeer(bgp_pb2.AddPeerRequest(peer=full_conf()))
            wanted = routes(["192.0.2.1/32", "2001:db8::1/128"], ["65000:1", "large:1:2:3"], 150)
            request = bgp_pb2.SetAdvertisementsRequest(
                advertisements=[bgp_pb2.PeerAdvertisements(peer="p1", routes=wanted)]
            )
            first = await stub.SetAdvertisements(request)
            assert [(c.peer, c.announced, c.withdrawn) for c in first.changes] == [("p1", 2, 0)]
            listed = await stub.ListAdvertisements(bgp_pb2.ListAdvertisementsRequest())
            assert [list(p.routes) for p in listed.peers] == [wanted]  # nothing sent: down
            again = await stub.SetAdvertisements(
                bgp_pb2.SetAdvertisementsRequest(advertisements=listed.peers)
            )
            assert [(c.peer, c.announced, c.withdrawn) for c in again.changes] == [("p1", 0, 0)]

    arun(scenario())


async def grpcurl(address: str, method: str, data: object) -> Any:
    proc = await asyncio.create_subprocess_exec(
        require_binary("grpcurl"),
        "-plaintext",
        "-d",
        json.dumps(data),
        address,
        method,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    return json.loads(out)


def test_grpcurl_shows_rfc3339_times_and_durations(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        async with server() as (address, stub):
            await stub.AddPeer(bgp_pb2.AddPeerRequest(peer=full_conf()))
            got = await grpcurl(address, "metallb.bgp.v1.BGPService/GetPeer", {"name": "p1"})
            conf, state = got["peer"]["conf"], got["peer"]["state"]
            assert conf["bfd"]["receive_interval"] == "0.150s"
            assert (conf["hold_time"], conf["keepalive_time"], conf["connect_time"]) == (
                "30s",
                "10s",
                "5s",
            )
            assert conf["replace_as"] == 4_200_000_001
            assert RFC3339.match(state["last_transition_time"]), state["last_transition_time"]
            # A grpcurl user writes the same shapes back.
            await grpcurl(
                address,
                "metallb.bgp.v1.BGPService/UpdatePeer",
                {
                    "peer": {"name": "p1", "hold_time": "12s"},
                    "update_mask": {"paths": ["hold_time"]},
                },
            )
            after = (await stub.GetPeer(bgp_pb2.GetPeerRequest(name="p1"))).peer.conf
            assert after.hold_time.seconds == 12 and after.bfd.detect_multiplier == 5

    arun(scenario())


def test_the_password_is_write_only(arun: Callable[..., Any]) -> None:
    """Issue 15: the MD5 password came back in clear from AddPeer, GetPeer, ListPeers and
    WatchPeers. Now no response carries it; a fingerprint changes when it changes."""

    async def scenario() -> None:
        async with server() as (_, stub):
            watch = stub.WatchPeers(bgp_pb2.WatchPeersRequest())
            added = (await stub.AddPeer(bgp_pb2.AddPeerRequest(peer=full_conf()))).peer.conf
            got = (await stub.GetPeer(bgp_pb2.GetPeerRequest(name="p1"))).peer.conf
            listed = (await stub.ListPeers(bgp_pb2.ListPeersRequest())).peers[0].conf
            seen = []
            async for response in watch:
                seen += [e.peer.conf for e in response.events]
                if seen:
                    break
            watch.cancel()
            for conf in (added, got, listed, *seen):
                assert "s3cret" not in str(conf) and conf.password == ""
                assert conf.password_set
            first = got.password_fingerprint
            # A new password: another fingerprint.
            changed = bgp_pb2.PeerConf(name="p1", password="0ther")
            reply = await stub.UpdatePeer(
                bgp_pb2.UpdatePeerRequest(peer=changed, update_mask=FieldMask(paths=["password"]))
            )
            assert reply.restarted and reply.peer.conf.password_fingerprint not in ("", first)
            # The same password on another peer does not look the same.
            other = full_conf("p2")
            other.password = "0ther"
            p2 = (await stub.AddPeer(bgp_pb2.AddPeerRequest(peer=other))).peer.conf
            assert p2.password_fingerprint != reply.peer.conf.password_fingerprint
            # Both empty: the password is removed.
            cleared = (await stub.GetPeer(bgp_pb2.GetPeerRequest(name="p1"))).peer.conf
            cleared.password_fingerprint = ""
            reply = await stub.UpdatePeer(bgp_pb2.UpdatePeerRequest(peer=cleared))
            assert not reply.peer.conf.password_set and reply.peer.conf.password_fingerprint == ""

    arun(scenario())


def test_no_repr_holds_a_password() -> None:
    from metallb_rules.bgp_peer import PeerFields, validate_peer
    from services.bgp.convert import peer_conf_from_proto

    conf = full_conf()
    settings = validate_peer(
        PeerFields(name="p", my_asn=1, peer_asn=2, address="192.0.2.1", password="s3cret")
    )
    for obj in (settings, peer_conf_from_proto(conf)):
        assert "s3cret" not in repr(obj)


def test_a_peer_reads_the_same_every_time_and_watch_shows_its_bfd_settings(
    arun: Callable[..., Any],
) -> None:
    """Times were converted with an offset measured at each read, so two reads of one event
    differed by microseconds (an interop test comparing two reads of last_error failed); and a
    watched CHANGED peer lacked the BFD settings GetPeer shows."""

    async def scenario() -> None:
        async with server() as (_, stub):
            watch = stub.WatchPeers(bgp_pb2.WatchPeersRequest())
            # Subscribed before the peer exists (the end of the empty snapshot), so its changes
            # reach the stream whenever the server handles AddPeer.
            while not (await anext(aiter(watch))).HasField("end_of_snapshot"):
                pass
            await stub.AddPeer(bgp_pb2.AddPeerRequest(peer=full_conf()))
            reads = [
                (await stub.GetPeer(bgp_pb2.GetPeerRequest(name="p1"))).peer.state for _ in range(3)
            ]
            stamps = {r.last_transition_time.ToNanoseconds() for r in reads}
            assert len(stamps) == 1
            changed = None
            async with asyncio.timeout(30):  # a failure, not a hung suite
                async for response in watch:
                    for event in response.events:
                        if event.type == bgp_pb2.PEER_EVENT_TYPE_CHANGED:
                            changed = event.peer
                    if changed is not None:
                        break
            watch.cancel()
            assert changed is not None and changed.conf.bfd == full_conf().bfd

    arun(scenario())
