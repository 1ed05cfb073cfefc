"""Every metallb.io kind, defined once: its names, versions, schema and printer columns.

The schemas follow MetalLB's (behaviour reference §2.1, API reference) and are deliberately no
stricter: every object MetalLB's API server accepted must be accepted here too, or an upgrade
would strand the user's CRs. Semantic checks beyond these (overlaps, community syntax, timers)
are the webhooks' and the gateway's job, as in MetalLB.
"""

from dataclasses import dataclass, field
from typing import Any

from deploy.crdgen.schema import (
    UINT32_MAX,
    Schema,
    array,
    boolean,
    condition,
    immutable,
    integer,
    label_selector,
    obj,
    rule,
    selectors,
    string,
    strings,
)

GROUP = "metallb.io"
NAMESPACE = "metallb-system"
WEBHOOK_SERVICE = "metallb-webhook-service"


@dataclass(frozen=True)
class Column:
    name: str
    json_path: str
    type: str = "string"
    priority: int = 0

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {"jsonPath": self.json_path, "name": self.name}
        if self.priority:
            out["priority"] = self.priority
        out["type"] = self.type
        return out


@dataclass(frozen=True)
class Version:
    name: str
    description: str
    spec: Schema | None
    status: Schema
    columns: tuple[Column, ...] = ()
    storage: bool = True
    deprecation_warning: str | None = None
    spec_required: bool = False


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    versions: tuple[Version, ...]
    # CRD conversion through the controller's /convert webhook (needed with several versions).
    conversion_webhook: bool = False
    short_names: tuple[str, ...] = field(default=())

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"


def _meta_props() -> dict[str, Schema]:
    return {
        "apiVersion": string(
            "APIVersion defines the versioned schema of this representation of an object."
        ),
        "kind": string("Kind is a string value representing the REST resource of this object."),
        "metadata": obj(),
    }


def root_schema(version: Version) -> Schema:
    props = _meta_props()
    if version.spec is not None:
        props["spec"] = version.spec
    props["status"] = version.status
    return obj(
        props,
        version.description,
        required=["spec"] if version.spec_required else None,
    )


def _empty_status(kind: str) -> Schema:
    return obj(None, f"{kind}Status defines the observed state of {kind}.")


# --- IPAddressPool ----------------------------------------------------------------------------

_IPADDRESSPOOL = Kind(
    kind="IPAddressPool",
    plural="ipaddresspools",
    versions=(
        Version(
            name="v1beta1",
            description=(
                "IPAddressPool represents a pool of IP addresses that can be allocated to "
                "LoadBalancer services."
            ),
            spec_required=True,
            spec=obj(
                {
                    "addresses": strings(
                        "A list of IP address ranges over which MetalLB has authority. You can "
                        "list multiple ranges in a single pool, they will all share the same "
                        "settings. Each range can be either a CIDR prefix, or an explicit "
                        "start-end range of IPs."
                    ),
                    "autoAssign": boolean(
                        "AutoAssign flag used to prevent MetalLB from automatic allocation for "
                        "a pool.",
                        default=True,
                    ),
                    "avoidBuggyIPs": boolean(
                        "AvoidBuggyIPs prevents addresses ending with .0 and .255 to be used "
                        "by a pool.",
                        default=False,
                    ),
                    "serviceAllocation": obj(
                        {
                            "priority": integer(
                                "Priority given to the pool when allocating an IP to a "
                                "service; the lowest value wins."
                            ),
                            "namespaces": strings(
                                "Namespaces list of namespace(s) on which ip pool can be attached."
                            ),
                            "namespaceSelectors": selectors(
                                "NamespaceSelectors list of label selectors to select "
                                "namespace(s) for ip pool, an alternative to using namespace "
                                "list."
                            ),
                            "serviceSelectors": selectors(
                                "ServiceSelectors list of label selector to select service(s) "
                                "for which ip pool can be used for ip allocation."
                            ),
                        },
                        "AllocateTo makes ip pool allocation to specific namespace and/or "
                        "service. The pool with the lowest priority value wins among matches; "
                        "a pool without priority is used only when the prioritised ones cannot "
                        "be.",
                    ),
                },
                "IPAddressPoolSpec defines the desired state of IPAddressPool.",
                required=["addresses"],
            ),
            status=obj(
                {
                    "assignedIPv4": integer("Number of assigned IPv4 addresses.", fmt="int64"),
                    "assignedIPv6": integer("Number of assigned IPv6 addresses.", fmt="int64"),
                    "availableIPv4": integer("Number of available IPv4 addresses.", fmt="int64"),
                    "availableIPv6": integer("Number of available IPv6 addresses.", fmt="int64"),
                },
                "IPAddressPoolStatus defines the observed state of IPAddressPool.",
                required=["assignedIPv4", "assignedIPv6", "availableIPv4", "availableIPv6"],
            ),
            columns=(
                Column("Auto Assign", ".spec.autoAssign", "boolean"),
                Column("Avoid Buggy IPs", ".spec.avoidBuggyIPs", "boolean"),
                Column("Addresses", ".spec.addresses"),
            ),
        ),
    ),
)

# --- L2Advertisement --------------------------------------------------------------------------

_POOLS = "The list of IPAddressPools to advertise via this advertisement, selected by name."
_POOL_SELECTORS = (
    "A selector for the IPAddressPools which would get advertised via this advertisement. If no "
    "IPAddressPool is selected by this or by the list, the advertisement is applied to all the "
    "IPAddressPools."
)
_NODE_SELECTORS = (
    "NodeSelectors allows to limit the nodes to announce as next hops for the LoadBalancer IP. "
    "When empty, all the nodes are announced as next hops."
)
_SERVICE_SELECTORS = (
    "A selector for the services from which the advertisement applies. If empty, it applies to "
    "all services."
)
_ADV_COLUMNS = (
    Column("IPAddressPools", ".spec.ipAddressPools"),
    Column("IPAddressPool Selectors", ".spec.ipAddressPoolSelectors"),
)

_L2ADVERTISEMENT = Kind(
    kind="L2Advertisement",
    plural="l2advertisements",
    versions=(
        Version(
            name="v1beta1",
            description=(
                "L2Advertisement allows to advertise the LoadBalancer IPs provided by the "
                "selected pools via L2."
            ),
            spec=obj(
                {
                    "ipAddressPools": strings(_POOLS),
                    "ipAddressPoolSelectors": selectors(_POOL_SELECTORS),
                    "nodeSelectors": selectors(_NODE_SELECTORS),
                    "serviceSelectors": selectors(_SERVICE_SELECTORS),
                    "interfaces": strings(
                        "A list of interfaces to announce from. The LB IP will be announced "
                        "only from these interfaces. If the field is not set, we advertise from "
                        "all the interfaces on the host."
                    ),
                    "preferredNodeSelectors": array(
                        obj(
                            {
                                "weight": integer(
                                    "Weight added to a matching node's score, 1-100.",
                                    minimum=1,
                                    maximum=100,
                                    fmt="int32",
                                ),
                                "preference": label_selector(),
                            },
                            "A weighted node preference.",
                            required=["preference", "weight"],
                        ),
                        "Nodes matching these weighted selectors are preferred as the announcing "
                        "node; the others remain eligible.",
                    ),
                },
                "L2AdvertisementSpec defines the desired state of L2Advertisement.",
            ),
            status=_empty_status("L2Advertisement"),
            columns=(
                *_ADV_COLUMNS,
                Column("Interfaces", ".spec.interfaces"),
                Column("Node Selectors", ".spec.nodeSelectors", priority=10),
            ),
        ),
    ),
)

# --- BGPAdvertisement -------------------------------------------------------------------------

AGGREGATION_RULE = rule(
    "!has(self.serviceSelectors) || self.serviceSelectors.size() == 0 || "
    "((!has(self.aggregationLength) || self.aggregationLength == 32) && "
    "(!has(self.aggregationLengthV6) || self.aggregationLengthV6 == 128))",
    "serviceSelectors and aggregationLength are mutually exclusive, can only be used together "
    "with default aggregationLength (32) and aggregationLengthV6 (128)",
)

_BGPADVERTISEMENT = Kind(
    kind="BGPAdvertisement",
    plural="bgpadvertisements",
    versions=(
        Version(
            name="v1beta1",
            description=(
                "BGPAdvertisement allows to advertise the IPs coming from the selected "
                "IPAddressPools via BGP, setting the parameters of the BGP Advertisement."
            ),
            spec=obj(
                {
                    "aggregationLength": integer(
                        "The aggregation-length advertisement option lets you roll up the /32s "
                        "into a larger prefix. Defaults to 32. Works for IPv4 addresses.",
                        minimum=1,
                        fmt="int32",
                        default=32,
                    ),
                    "aggregationLengthV6": integer(
                        "The aggregation-length advertisement option lets you roll up the "
                        "/128s into a larger prefix. Defaults to 128. Works for IPv6 addresses.",
                        fmt="int32",
                        default=128,
                    ),
                    "localPref": integer(
                        "The BGP LOCAL_PREF attribute which is used by BGP best path "
                        "algorithm, Path with higher localpref is preferred over one with "
                        "lower localpref.",
                        fmt="int32",
                    ),
                    "communities": strings(
                        "The BGP communities to be associated with the announcement. Each item "
                        "can be a standard community of the form 1234:1234, a large community "
                        "of the form large:1234:1234:1234 or the name of an alias defined in "
                        "the Community CRD."
                    ),
                    "ipAddressPools": strings(_POOLS),
                    "ipAddressPoolSelectors": selectors(_POOL_SELECTORS),
                    "nodeSelectors": selectors(_NODE_SELECTORS),
                    "serviceSelectors": selectors(_SERVICE_SELECTORS),
                    "peers": strings(
                        "Peers limits the bgppeer to advertise the ips of the selected pools "
                        "to. When empty, the loadbalancer IP is announced to all the BGPPeers "
                        "configured."
                    ),
                },
                "BGPAdvertisementSpec defines the desired state of BGPAdvertisement.",
                extensions={"x-kubernetes-validations": [AGGREGATION_RULE]},
            ),
            status=_empty_status("BGPAdvertisement"),
            columns=(
                *_ADV_COLUMNS,
                Column("Peers", ".spec.peers"),
                Column("Node Selectors", ".spec.nodeSelectors", priority=10),
            ),
        ),
    ),
)

# --- BGPPeer ----------------------------------------------------------------------------------

_PEER_DESCRIPTION = "BGPPeer is the Schema for the peers API."
_PEER_COLUMNS = (
    Column("Address", ".spec.peerAddress"),
    Column("ASN", ".spec.peerASN"),
    Column("BFD Profile", ".spec.bfdProfile"),
    Column("Multi Hops", ".spec.ebgpMultiHop"),
)


def _asn(description: str, minimum: int = 0) -> Schema:
    return integer(description, minimum=minimum, maximum=UINT32_MAX)


def _peer_common(*, legacy: bool) -> dict[str, Schema]:
    """The fields v1beta1 and v1beta2 share (v1beta1's selectors are the legacy flavour)."""
    return {
        "myASN": _asn("AS number to use for the local end of the session."),
        "peerASN": _asn(
            "AS number to expect from the remote end of the session. ASN and DynamicASN are "
            "mutually exclusive and one of them must be specified."
        ),
        "peerAddress": string("Address to dial when establishing the session."),
        "sourceAddress": string("Source address to use when establishing the session."),
        "holdTime": string("Requested BGP hold time, per RFC4271."),
        "keepaliveTime": string("Requested BGP keepalive time, per RFC4271."),
        "routerID": string("BGP router ID to advertise to the peer"),
        "nodeSelectors": selectors(
            "Only connect to this peer on nodes that match one of these selectors.",
            legacy=legacy,
        ),
        "password": string(
            "Authentication password for routers enforcing TCP MD5 authenticated sessions"
        ),
        "bfdProfile": string(
            "The name of the BFD Profile to be used for the BFD session associated to the BGP "
            "session. If not set, the BFD session won't be set up."
        ),
        "ebgpMultiHop": boolean("To set if the BGPPeer is multi-hops away."),
    }


CONNECT_TIME_RULES = [
    rule(
        "duration(self).getSeconds() >= 1 && duration(self).getSeconds() <= 65535",
        "connect time should be between 1 seconds to 65535",
    ),
    rule(
        "duration(self).getMilliseconds() % 1000 == 0",
        "connect time should contain a whole number of seconds",
    ),
]

_BGPPEER_V1BETA1 = Version(
    name="v1beta1",
    description=_PEER_DESCRIPTION,
    storage=False,
    deprecation_warning="v1beta1 is deprecated, please use v1beta2",
    spec=obj(
        {
            **_peer_common(legacy=True),
            "peerPort": integer(
                "Port to dial when establishing the session.", minimum=0, maximum=16384
            ),
        },
        "BGPPeerSpec defines the desired state of Peer.",
        required=["myASN", "peerASN", "peerAddress"],
    ),
    status=_empty_status("BGPPeer"),
    columns=_PEER_COLUMNS,
)

_BGPPEER_V1BETA2 = Version(
    name="v1beta2",
    description=_PEER_DESCRIPTION,
    spec=obj(
        {
            **_peer_common(legacy=False),
            "localASN": _asn(
                "AS number to present to the peer instead of myASN (local-as).", minimum=1
            ),
            "dynamicASN": string(
                "DynamicASN detects the AS number to use for the remote end of the session "
                "without explicitly setting it via the ASN field. Limited to: internal - if the "
                "neighbor's ASN is different than MyASN connection is denied. external - if the "
                "neighbor's ASN is the same as MyASN the connection is denied. ASN and "
                "DynamicASN are mutually exclusive and one of them must be specified.",
                enum=["internal", "external"],
            ),
            "interface": string(
                "Interface is the node interface over which the unnumbered BGP peering will be "
                "established. No API validation takes place as that string value represents an "
                "interface name on the host and if user provides an invalid value, only the "
                "actual BGP session will not be established. Address and Interface are "
                "mutually exclusive and one of them must be specified."
            ),
            "peerPort": integer(
                "Port to dial when establishing the session.",
                minimum=1,
                maximum=16384,
                default=179,
            ),
            "connectTime": string(
                "Requested BGP connect time, controls how long BGP waits between connection "
                "attempts to a neighbor.",
                **{"x-kubernetes-validations": CONNECT_TIME_RULES},
            ),
            "passwordSecret": obj(
                {
                    "name": string("name is unique within a namespace to reference a secret."),
                    "namespace": string(
                        "namespace defines the space within which the secret name must be unique."
                    ),
                },
                "passwordSecret is name of the authentication secret for BGP Peer. The secret "
                'must be of type "kubernetes.io/basic-auth", and created in the same namespace '
                "as the MetalLB deployment. The password is stored in the secret as the key "
                '"password".',
                extensions={"x-kubernetes-map-type": "atomic"},
            ),
            "enableGracefulRestart": immutable(
                boolean(
                    "EnableGracefulRestart allows BGP peer to continue to forward data packets "
                    "along known routes while the routing protocol information is being "
                    "restored. This field is immutable because it requires restart of the BGP "
                    "session."
                ),
                "EnableGracefulRestart cannot be changed after creation",
            ),
            "vrf": string(
                "To set if we want to peer with the BGPPeer using an interface belonging to a "
                "host vrf"
            ),
            "disableMP": boolean(
                "To set if we want to disable MP BGP that will separate IPv4 and IPv6 route "
                "exchanges into distinct BGP sessions. Deprecated in favour of "
                "dualStackAddressFamily.",
                default=False,
            ),
            "dualStackAddressFamily": boolean(
                "To set if we want to enable the neighbor not only for the ipfamily related to "
                "its session, but also the other one. This allows to advertise/receive IPv4 "
                "prefixes over IPv6 sessions and vice versa.",
                default=False,
            ),
        },
        "BGPPeerSpec defines the desired state of Peer.",
        required=["myASN"],
    ),
    status=_empty_status("BGPPeer"),
    columns=_PEER_COLUMNS,
)

_BGPPEER = Kind(
    kind="BGPPeer",
    plural="bgppeers",
    versions=(_BGPPEER_V1BETA1, _BGPPEER_V1BETA2),
    conversion_webhook=True,
)

# --- BFDProfile -------------------------------------------------------------------------------


def _interval(description: str) -> Schema:
    return integer(description, minimum=10, maximum=60000, fmt="int32")


_BFDPROFILE = Kind(
    kind="BFDProfile",
    plural="bfdprofiles",
    versions=(
        Version(
            name="v1beta1",
            description=(
                "BFDProfile represents the settings of the bfd session that can be optionally "
                "associated with a BGP session."
            ),
            spec=obj(
                {
                    "receiveInterval": _interval(
                        "The minimum interval that this system is capable of receiving control "
                        "packets in milliseconds. Defaults to 300ms."
                    ),
                    "transmitInterval": _interval(
                        "The minimum transmission interval (less jitter) that this system wants "
                        "to use to send BFD control packets in milliseconds. Defaults to 300ms"
                    ),
                    "detectMultiplier": integer(
                        "Configures the detection multiplier to determine packet loss. The "
                        "remote transmission interval will be multiplied by this value to "
                        "determine the connection loss detection timer.",
                        minimum=2,
                        maximum=255,
                        fmt="int32",
                    ),
                    "echoInterval": _interval(
                        "Configures the minimal echo receive transmission interval that this "
                        "system is capable of handling in milliseconds. Defaults to 50ms"
                    ),
                    "echoMode": boolean(
                        "Enables or disables the echo transmission mode. This mode is disabled "
                        "by default, and not supported on multi hops setups."
                    ),
                    "passiveMode": boolean(
                        "Mark session as passive: a passive session will not attempt to start "
                        "the connection and will wait for control packets from peer before it "
                        "begins replying."
                    ),
                    "minimumTtl": integer(
                        "For multi hop sessions only: configure the minimum expected TTL for an "
                        "incoming BFD control packet.",
                        minimum=1,
                        maximum=254,
                        fmt="int32",
                    ),
                },
                "BFDProfileSpec defines the desired state of BFDProfile.",
            ),
            status=_empty_status("BFDProfile"),
            columns=(
                Column("Passive Mode", ".spec.passiveMode", "boolean"),
                Column("Transmit Interval", ".spec.transmitInterval", "integer"),
                Column("Receive Interval", ".spec.receiveInterval", "integer"),
                Column("Multiplier", ".spec.detectMultiplier", "integer"),
            ),
        ),
    ),
)

# --- Community --------------------------------------------------------------------------------

_COMMUNITY = Kind(
    kind="Community",
    plural="communities",
    versions=(
        Version(
            name="v1beta1",
            description=(
                "Community is a collection of aliases for communities. Users can define named "
                "aliases to be used in the BGPAdvertisement CRD."
            ),
            spec=obj(
                {
                    "communities": array(
                        obj(
                            {
                                "name": string("The name of the alias for the community."),
                                "value": string(
                                    "The BGP community value corresponding to the given name. "
                                    "Can be a standard community of the form 1234:1234 or a "
                                    "large community of the form large:1234:1234:1234."
                                ),
                            }
                        )
                    ),
                },
                "CommunitySpec defines the desired state of Community.",
            ),
            status=_empty_status("Community"),
        ),
    ),
)

# --- Status kinds -----------------------------------------------------------------------------

_IMMUTABLE = "Value is immutable"


def _service_status(node: str) -> dict[str, Schema]:
    return {
        "node": immutable(string(node), _IMMUTABLE),
        "serviceName": immutable(
            string("ServiceName indicates the service this status represents."), _IMMUTABLE
        ),
        "serviceNamespace": immutable(
            string("ServiceNamespace indicates the namespace of the service."), _IMMUTABLE
        ),
    }


_SERVICE_STATUS_COLUMNS = (
    Column("Service Name", ".status.serviceName"),
    Column("Service Namespace", ".status.serviceNamespace"),
)

_SERVICEL2STATUS = Kind(
    kind="ServiceL2Status",
    plural="servicel2statuses",
    versions=(
        Version(
            name="v1beta1",
            description=(
                "ServiceL2Status reveals the actual traffic status of loadbalancer services in "
                "layer2 mode."
            ),
            spec=obj(None, "ServiceL2StatusSpec defines the desired state of ServiceL2Status."),
            status=obj(
                {
                    **_service_status("Node indicates the node that receives the directed traffic"),
                    "interfaces": array(
                        obj(
                            {"name": string("Name the name of network interface card")},
                            "InterfaceInfo defines interface info of layer2 announcement.",
                        ),
                        "Interfaces indicates the interfaces that receive the directed traffic",
                    ),
                },
                "MetalLBServiceL2Status defines the observed state of ServiceL2Status.",
            ),
            columns=(Column("Allocated Node", ".status.node"), *_SERVICE_STATUS_COLUMNS),
        ),
    ),
)

_SERVICEBGPSTATUS = Kind(
    kind="ServiceBGPStatus",
    plural="servicebgpstatuses",
    versions=(
        Version(
            name="v1beta1",
            description=(
                "ServiceBGPStatus exposes the BGP peers a service is configured to be advertised "
                "to, per relevant node."
            ),
            spec=obj(None, "ServiceBGPStatusSpec defines the desired state of ServiceBGPStatus."),
            status=obj(
                {
                    **_service_status("Node indicates the node announcing the service."),
                    "peers": strings(
                        "Peers indicate the BGP peers for which the service is configured to be "
                        "advertised to. The service being actually advertised to a given peer "
                        "depends on the session state and is not indicated here."
                    ),
                },
                "MetalLBServiceBGPStatus defines the observed state of ServiceBGPStatus.",
            ),
            columns=(Column("Node", ".status.node"), *_SERVICE_STATUS_COLUMNS),
        ),
    ),
)

_CONFIGURATIONSTATE = Kind(
    kind="ConfigurationState",
    plural="configurationstates",
    versions=(
        Version(
            name="v1beta1",
            description=(
                "ConfigurationState exposes the validation status of MetalLB components: one "
                "object for the controller, one per speaker node."
            ),
            spec=obj(None, "ConfigurationStateSpec is empty: the object is status only."),
            status=obj(
                {
                    "conditions": array(
                        condition(),
                        "The conditions reported by the component's reconcilers "
                        "(configReconcilerValid, poolReconcilerValid).",
                        **{
                            "x-kubernetes-list-map-keys": ["type"],
                            "x-kubernetes-list-type": "map",
                        },
                    ),
                    "result": string(
                        "Unknown without conditions, Invalid if a condition reports a "
                        "configuration error, otherwise Valid.",
                        enum=["Valid", "Invalid", "Unknown"],
                    ),
                    "errorSummary": string(
                        "The messages of the failing conditions, joined by newlines."
                    ),
                },
                "ConfigurationStateStatus defines the observed state of ConfigurationState.",
            ),
            columns=(
                Column("Result", ".status.result"),
                Column("Error Summary", ".status.errorSummary", priority=10),
                Column("Age", ".metadata.creationTimestamp", "date"),
            ),
        ),
    ),
)

_BGPSESSIONSTATE = Kind(
    kind="BGPSessionState",
    plural="bgpsessionstates",
    versions=(
        Version(
            name="v1beta1",
            description=(
                "BGPSessionState exposes the state of one BGP session of one node, in the shape "
                "of frr-k8s's BGPSessionState (node, peer, vrf, bgpStatus, bfdStatus), plus the "
                "BGPPeer's name, when the state last changed, the prefixes sent and the last "
                "error. Written by the node role; named <node>.<bgppeer>."
            ),
            spec=obj(None, "BGPSessionStateSpec is empty: the object is status only."),
            status=obj(
                {
                    "node": string("The node whose session this is."),
                    "peer": string("The neighbour's address."),
                    "vrf": string("The VRF of the session; empty for the default one."),
                    "bgpStatus": string(
                        "The session's state as FRR spells it: Idle, Connect, Active, OpenSent, "
                        "OpenConfirm, Established; Refused when the node's BGP service refused "
                        "the peer; Unknown while the node's BGP service does not answer."
                    ),
                    "bfdStatus": string(
                        "The BFD session's state (up, down, init, admin down, ...), N/A "
                        "without a BFD profile."
                    ),
                    "bgpPeer": string("The name of the BGPPeer."),
                    "since": string("When bgpStatus last changed.", format="date-time"),
                    "prefixesSent": integer("The prefixes advertised to the peer.", minimum=0),
                    "lastError": string("Why the session last went down, or the refusal."),
                },
                "BGPSessionStateStatus defines the observed state of BGPSessionState.",
            ),
            columns=(
                Column("Node", ".status.node"),
                Column("Peer", ".status.peer"),
                Column("VRF", ".status.vrf"),
                Column("BGP", ".status.bgpStatus"),
                Column("BFD", ".status.bfdStatus"),
            ),
        ),
    ),
)

_L2NODESTATE = Kind(
    kind="L2NodeState",
    plural="l2nodestates",
    versions=(
        Version(
            name="v1beta1",
            description=(
                "L2NodeState exposes a node's layer 2 responder: every interface and whether "
                "ARP and NDP may answer on it, and the addresses it answers for, on which "
                "interfaces. Written by the node role; named after the node."
            ),
            spec=obj(None, "L2NodeStateSpec is empty: the object is status only."),
            status=obj(
                {
                    "node": string("The node."),
                    "reachable": boolean("False while the node's L2 service does not answer."),
                    "interfaces": array(
                        obj(
                            {
                                "name": string("The interface's name."),
                                "arp": string("eligible, or why ARP does not answer on it."),
                                "ndp": string("eligible, or why NDP does not answer on it."),
                            },
                            "One interface of the node.",
                        ),
                        "The node's interfaces.",
                    ),
                    "announcements": array(
                        obj(
                            {
                                "ip": string("The address."),
                                "status": string("announcing, or no interface."),
                                "answeringOn": strings("The interfaces it is answered on."),
                            },
                            "One address the node's responder holds.",
                        ),
                        "The addresses the node's responder holds.",
                    ),
                    "truncated": boolean("More addresses are held than listed."),
                },
                "L2NodeStateStatus defines the observed state of L2NodeState.",
            ),
            columns=(Column("Node", ".status.node"), Column("Reachable", ".status.reachable")),
        ),
    ),
)

KINDS: tuple[Kind, ...] = (
    _BFDPROFILE,
    _BGPADVERTISEMENT,
    _BGPPEER,
    _BGPSESSIONSTATE,
    _COMMUNITY,
    _CONFIGURATIONSTATE,
    _IPADDRESSPOOL,
    _L2ADVERTISEMENT,
    _L2NODESTATE,
    _SERVICEBGPSTATUS,
    _SERVICEL2STATUS,
)
