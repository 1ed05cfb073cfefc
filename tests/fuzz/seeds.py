"""One valid request per method that validation would otherwise stop at its first check, and
the state each service is put in first (a pool, a restored allocator, a peer, a session), so
that fuzzing near these seeds reaches the allocator, the speaker and the session table."""

from __future__ import annotations

from datetime import timedelta

from google.protobuf.message import Message

from metallb.bfd.v1 import bfd_pb2
from metallb.bgp.v1 import bgp_pb2
from metallb.common.v1 import common_pb2
from metallb.ipam.v1 import ipam_pb2
from metallb.l2.v1 import l2_pb2

V4, V6 = common_pb2.IP_FAMILY_IPV4, common_pb2.IP_FAMILY_IPV6
TCP = common_pb2.PROTOCOL_TCP

SERVICE = ipam_pb2.Service(
    namespace="demo",
    name="web",
    labels={"app": "web"},
    namespace_labels={"team": "a"},
    ip_families=[V4, V6],
    ip_family_policy=common_pb2.IP_FAMILY_POLICY_PREFER_DUAL_STACK,
    requested_pool="default",
    sharing_key="k",
    backend_key="b",
    ports=[common_pb2.Port(protocol=TCP, port=80)],
)
KEY = common_pb2.ServiceKey(namespace="demo", name="web")
POOL = ipam_pb2.Pool(
    name="default",
    addresses=["192.0.2.0/28", "198.51.100.10-198.51.100.20", "2001:db8::/124"],
    auto_assign=True,
    avoid_buggy_ips=True,
    service_allocation=ipam_pb2.ServiceAllocation(
        priority=1,
        namespaces=["demo"],
        namespace_selectors=[common_pb2.LabelSelector(match_labels={"team": "a"})],
        service_selectors=[
            common_pb2.LabelSelector(
                match_expressions=[
                    common_pb2.LabelSelectorRequirement(key="app", operator="In", values=["web"])
                ]
            )
        ],
    ),
)
LB_SERVICE = ipam_pb2.LoadBalancerService(
    namespace="demo",
    name="web",
    type="LoadBalancer",
    cluster_ips=["10.96.0.10", "fd00::10"],
    ip_families=[V4, V6],
    ip_family_policy=common_pb2.IP_FAMILY_POLICY_REQUIRE_DUAL_STACK,
    load_balancer_ip="",
    external_traffic_policy="Local",
    selector={"app": "web"},
    labels={"app": "web"},
    annotations={
        "metallb.io/address-pool": "default",
        "metallb.io/allow-shared-ip": "k",
        "metallb.io/loadBalancerIPs": "192.0.2.3,2001:db8::3",
    },
    ports=[common_pb2.Port(protocol=TCP, port=443)],
    ingress_ips=["192.0.2.3"],
)
BFD = bgp_pb2.BfdSettings(
    receive_interval=timedelta(milliseconds=300),
    transmit_interval=timedelta(milliseconds=300),
    detect_multiplier=3,
    echo_interval=timedelta(milliseconds=50),
    echo_mode=False,
    passive_mode=False,
    minimum_ttl=254,
)
PEER = bgp_pb2.PeerConf(
    name="p1",
    my_asn=64512,
    peer_asn=64513,
    peer_address="192.0.2.254",
    peer_port=179,
    source_address="192.0.2.1",
    router_id="192.0.2.1",
    password="secret",
    hold_time=timedelta(seconds=90),
    keepalive_time=timedelta(seconds=30),
    connect_time=timedelta(seconds=10),
    ebgp_multihop=True,
    enable_graceful_restart=True,
    dual_stack_address_family=True,
    bfd_profile="fast",
    bfd=BFD,
    max_prefixes=100,
    max_prefix_cease=True,
)
ROUTE = bgp_pb2.Route(
    prefix="192.0.2.3/32",
    communities=[bgp_pb2.Community(asn=65000, value=100)],
    large_communities=[
        bgp_pb2.LargeCommunity(global_administrator=1, local_data_1=2, local_data_2=3)
    ],
    local_pref=200,
)
SESSION = bfd_pb2.SessionConf(
    peer_address="192.0.2.254",
    local_address="192.0.2.1",
    hop_mode=bfd_pb2.HOP_MODE_SINGLE_HOP,
    profile=bfd_pb2.Profile(
        name="fast",
        receive_interval=timedelta(milliseconds=300),
        transmit_interval=timedelta(milliseconds=300),
        detect_multiplier=3,
    ),
)
SESSION_KEY = bfd_pb2.SessionKey(peer_address="192.0.2.254")

SEEDS: dict[str, Message] = {
    "metallb.ipam.v1.IPAMService.SetPools": ipam_pb2.SetPoolsRequest(pools=[POOL]),
    "metallb.ipam.v1.IPAMService.GetPool": ipam_pb2.GetPoolRequest(name="default"),
    "metallb.ipam.v1.IPAMService.ConvergeServices": ipam_pb2.ConvergeServicesRequest(
        services=[LB_SERVICE],
        namespace_labels={"demo": ipam_pb2.Labels(labels={"team": "a"})},
        deleted=[common_pb2.ServiceKey(namespace="demo", name="old")],
    ),
    "metallb.ipam.v1.IPAMService.Allocate": ipam_pb2.AllocateRequest(service=SERVICE),
    "metallb.ipam.v1.IPAMService.AllocateBatch": ipam_pb2.AllocateBatchRequest(
        requests=[ipam_pb2.AllocateRequest(service=SERVICE)]
    ),
    "metallb.ipam.v1.IPAMService.AllocateAdditionalFamily": (
        ipam_pb2.AllocateAdditionalFamilyRequest(service=SERVICE)
    ),
    "metallb.ipam.v1.IPAMService.Assign": ipam_pb2.AssignRequest(
        service=SERVICE, ips=["192.0.2.5", "2001:db8::5"]
    ),
    "metallb.ipam.v1.IPAMService.Release": ipam_pb2.ReleaseRequest(service=KEY),
    "metallb.ipam.v1.IPAMService.RestoreAllocations": ipam_pb2.RestoreAllocationsRequest(
        restorations=[ipam_pb2.Restoration(service=SERVICE, ips=["192.0.2.6"])], complete=True
    ),
    "metallb.ipam.v1.IPAMService.GetAllocation": ipam_pb2.GetAllocationRequest(service=KEY),
    "metallb.ipam.v1.IPAMService.ListAllocations": ipam_pb2.ListAllocationsRequest(
        pool="default", namespace="demo"
    ),
    "metallb.bgp.v1.BGPService.AddPeer": bgp_pb2.AddPeerRequest(peer=PEER),
    "metallb.bgp.v1.BGPService.UpdatePeer": bgp_pb2.UpdatePeerRequest(
        peer=PEER, update_mask={"paths": ["hold_time", "bfd.detect_multiplier"]}
    ),
    "metallb.bgp.v1.BGPService.DeletePeer": bgp_pb2.DeletePeerRequest(name="p1"),
    "metallb.bgp.v1.BGPService.GetPeer": bgp_pb2.GetPeerRequest(name="p1"),
    "metallb.bgp.v1.BGPService.ResetPeer": bgp_pb2.ResetPeerRequest(name="p1"),
    "metallb.bgp.v1.BGPService.SetAdvertisements": bgp_pb2.SetAdvertisementsRequest(
        advertisements=[bgp_pb2.PeerAdvertisements(peer="p1", routes=[ROUTE])]
    ),
    "metallb.bgp.v1.BGPService.ListAdvertisements": bgp_pb2.ListAdvertisementsRequest(peer="p1"),
    "metallb.bfd.v1.BFDService.AddSession": bfd_pb2.AddSessionRequest(session=SESSION),
    "metallb.bfd.v1.BFDService.UpdateSession": bfd_pb2.UpdateSessionRequest(
        session=SESSION, update_mask={"paths": ["profile.detect_multiplier", "admin_down"]}
    ),
    "metallb.bfd.v1.BFDService.DeleteSession": bfd_pb2.DeleteSessionRequest(key=SESSION_KEY),
    "metallb.bfd.v1.BFDService.GetSession": bfd_pb2.GetSessionRequest(key=SESSION_KEY),
    "metallb.l2.v1.L2Service.SetAnnouncements": l2_pb2.SetAnnouncementsRequest(
        announcements=[
            l2_pb2.AnnouncementSpec(ip="192.0.2.3", interfaces=["eth0"], owner="demo/web"),
            l2_pb2.AnnouncementSpec(ip="2001:db8::3", all_interfaces=True),
        ]
    ),
}

# Sent once before fuzzing: the state the seeds above find.
SETUP: dict[str, list[tuple[str, Message]]] = {
    "ipam": [
        ("SetPools", SEEDS["metallb.ipam.v1.IPAMService.SetPools"]),
        ("RestoreAllocations", ipam_pb2.RestoreAllocationsRequest(complete=True)),
        ("Allocate", SEEDS["metallb.ipam.v1.IPAMService.Allocate"]),
    ],
    "bgp": [("AddPeer", SEEDS["metallb.bgp.v1.BGPService.AddPeer"])],
    "bfd": [("AddSession", SEEDS["metallb.bfd.v1.BFDService.AddSession"])],
    "l2": [],
}
