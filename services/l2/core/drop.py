"""Named reasons for not answering a received frame.

Theory of operation
-------------------
Every rule that makes the responder ignore a frame has one `DropReason`, whether the frame broke
a protocol rule (the codec raises `FrameDecodeError(reason)`) or is valid but not for us
(`decide` returns the reason). The adapter counts each one in `metallb_layer2_requests_dropped`,
so no frame disappears without a trace. MetalLB's own `dropReason` names are kept where one
exists (`arp_reply`, `ethernet_destination`, `no_source_ll`, `announce_ip`,
`not_match_interface`); the values are stable snake_case metric labels.
"""

import enum

__all__ = ["DropReason", "FrameDecodeError"]


class DropReason(enum.Enum):
    """Why a received frame was not answered. The value is the metric label."""

    # --- Ethernet ---
    TRUNCATED = "truncated"  # shorter than the headers it claims
    UNSUPPORTED_ETHERTYPE = "unsupported_ethertype"  # neither ARP nor IPv6 (VLAN tags included)
    # --- ARP (RFC 826 "Packet Reception") ---
    ARP_NOT_ETHERNET_IPV4 = "arp_not_ethernet_ipv4"  # ar$hrd != 1, ar$pro != 0x0800, or lengths
    ARP_REPLY = "arp_reply"  # MetalLB dropReasonARPReply: any operation but request
    # --- IPv6 / ICMPv6 (RFC 8200 §3, RFC 4443 §2.3) ---
    IPV6_BAD_VERSION = "ipv6_bad_version"
    IPV6_BAD_LENGTH = "ipv6_bad_length"  # payload length beyond the frame
    NOT_ICMPV6 = "not_icmpv6"  # next header is not ICMPv6 (extension headers included)
    ICMPV6_BAD_CHECKSUM = "icmpv6_bad_checksum"
    NOT_NEIGHBOR_DISCOVERY = "not_neighbor_discovery"  # ICMPv6 type other than NS/NA
    # --- Neighbor Discovery validation (RFC 4861 §7.1.1, §7.1.2) ---
    NDP_BAD_HOP_LIMIT = "ndp_bad_hop_limit"  # IP Hop Limit is not 255
    NDP_BAD_CODE = "ndp_bad_code"  # ICMP Code is not 0
    NDP_TOO_SHORT = "ndp_too_short"  # ICMP length below 24 octets
    NDP_MULTICAST_TARGET = "ndp_multicast_target"
    NDP_BAD_OPTION = "ndp_bad_option"  # an option of length 0, or running past the message
    NS_UNSPECIFIED_SOURCE_WITH_SLLA = "ns_unspecified_source_with_slla"
    NS_UNSPECIFIED_SOURCE_NOT_SOLICITED_NODE = "ns_unspecified_source_not_solicited_node"
    NA_SOLICITED_TO_MULTICAST = "na_solicited_to_multicast"
    # --- the responder's decision (MetalLB's arp.go / ndp.go) ---
    NOT_SOLICITATION = "not_solicitation"  # an NA: we answer only solicitations
    ETHERNET_DESTINATION = "ethernet_destination"  # neither broadcast/multicast for us nor our MAC
    NO_SOURCE_LL = "no_source_ll"  # an NS without a Source Link-Layer Address option
    ARP_DISABLED = "arp_disabled"  # ARP on an interface not eligible for ARP
    NDP_DISABLED = "ndp_disabled"  # NDP on an interface not eligible for NDP
    ANNOUNCE_IP = "announce_ip"  # the target address is not announced by this node
    NOT_MATCH_INTERFACE = "not_match_interface"  # announced, but not on this interface
    # --- the adapter ---
    SEND_FAILED = "send_failed"  # the reply could not be written to the socket
    # --- after a freeze (services/l2/core/resume.py) ---
    STALE = "stale"  # received long before it was read: queued while we were not reading
    RESUMING = "resuming"  # we were frozen: held until the node role confirms the set


class FrameDecodeError(ValueError):
    """A received frame broke a protocol rule; `reason` says which."""

    def __init__(self, reason: DropReason) -> None:
        super().__init__(reason.value)
        self.reason = reason
