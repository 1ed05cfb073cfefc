"""The gateway end to end: what runs where, and the manifests folder the test starts from.

Root namespace (unix sockets only): `metallb-grpc ipam` and `metallb-grpc gateway controller
--manifests DIR`. Each node namespace: `metallb-grpc bgp`, `bfd`, `l2` and `gateway node --node
nodeN --manifests DIR`, their sockets in a per-node folder. The router namespace: BIRD 2 with an
iBGP session to each node (graceful restart on, low timers, `import all; export none`). The
client namespace: arping.

BFD: BIRD runs BFD towards both nodes (`bfd on` in its BGP sessions) and the BGPPeer names the
BFDProfile `fast`, as a MetalLB user would configure it; BIRD's BGP does not wait for BFD.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import yaml

from metallb.ipam.v1 import ipam_pb2, ipam_pb2_grpc
from tests.e2e.lab import LINK, NODE_IPS, POOL_RANGE, ROUTER_IP, Bird, Lab, wait_for

ASN = 64512
COMMUNITIES = ("65000:100", "large:64512:1:1")
LOCAL_PREF = 150
NAMESPACE = "demo"
# Service name -> (externalTrafficPolicy, the node holding its only ready endpoint).
SERVICES = {"cluster": ("Cluster", "node1"), "local": ("Local", "node2")}
# Allocated first and deleted before the tests: the services then hold addresses above the
# lowest free one, so an IPAM that lost its state (instead of being restored from status)
# would hand out different addresses.
PLACEHOLDER = "first"

CONFIG = f"""
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {{name: e2e, namespace: metallb-system}}
spec: {{addresses: [{POOL_RANGE}]}}
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {{name: l2, namespace: metallb-system}}
spec: {{ipAddressPools: [e2e], interfaces: [{LINK}]}}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {{name: router, namespace: metallb-system}}
spec:
  myASN: {ASN}
  peerASN: {ASN}
  peerAddress: {ROUTER_IP}
  holdTime: 9s
  connectTime: 2s
  enableGracefulRestart: true
  bfdProfile: fast
---
apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: {{name: fast, namespace: metallb-system}}
spec: {{receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3}}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {{name: bgp, namespace: metallb-system}}
spec:
  ipAddressPools: [e2e]
  communities: [{", ".join(f'"{c}"' for c in COMMUNITIES)}]
  localPref: {LOCAL_PREF}
---
apiVersion: v1
kind: Namespace
metadata: {{name: {NAMESPACE}}}
""" + "".join(
    f"""---
apiVersion: v1
kind: Node
metadata: {{name: {node}, labels: {{kubernetes.io/hostname: {node}}}}}
"""
    for node in NODE_IPS
)


def service_manifest(name: str, policy: str, endpoint_node: str | None, index: int) -> str:
    service = f"""
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {NAMESPACE}}}
spec:
  type: LoadBalancer
  externalTrafficPolicy: {policy}
  clusterIP: 10.96.0.{10 + index}
  selector: {{app: {name}}}
  ports: [{{port: 80, protocol: TCP}}]
"""
    if endpoint_node is None:
        return service
    return (
        service
        + f"""---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-1
  namespace: {NAMESPACE}
  labels: {{kubernetes.io/service-name: {name}}}
addressType: IPv4
endpoints:
- addresses: [10.244.{index}.5]
  conditions: {{ready: true}}
  nodeName: {endpoint_node}
"""
    )


def ingress(manifests: Path, name: str) -> list[str]:
    """The service's addresses as the controller wrote them under `.status/`."""
    path = manifests / ".status" / "services" / NAMESPACE / f"{name}.yaml"
    try:
        obj = yaml.safe_load(path.read_text()) or {}
    except (FileNotFoundError, yaml.YAMLError):
        return []
    found = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [str(i["ip"]) for i in found]


def replace_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` by rename: readers see the old file or the new one, never none
    (the temporary name starts with a dot, so the folder source never reads it)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def ipam_allocations(sock: Path) -> dict[str, list[str]]:
    """IPAM's allocations of the test's namespace: service name -> addresses."""
    with grpc.insecure_channel(f"unix:{sock}") as channel:
        stub = ipam_pb2_grpc.IPAMServiceStub(channel)
        listed: ipam_pb2.ListAllocationsResponse = stub.ListAllocations(
            ipam_pb2.ListAllocationsRequest(), timeout=5
        )
    return {a.name: list(a.ips) for a in listed.allocations if a.namespace == NAMESPACE}


def bird_conf(folder: Path) -> str:
    head = f"""
log "{folder}/bird.log" all;
router id {ROUTER_IP};
debug protocols {{ states, events }};
protocol device {{ scan time 10; }}
template bgp node {{
  local {ROUTER_IP} as {ASN}; hold time 9; connect delay time 1; error wait time 1, 10;
  graceful restart on; direct; bfd on;
}}
protocol bfd {{ interface "{LINK}" {{ min rx interval 100 ms; min tx interval 100 ms; }}; }}
"""
    return head + "".join(
        f"""protocol bgp {node} from node {{ neighbor {ip} as {ASN};
  ipv4 {{ import all; export none; gateway direct; }}; }}
"""
        for node, ip in NODE_IPS.items()
    )


@dataclass
class World:
    lab: Lab
    manifests: Path
    bird: Bird
    sockets: dict[str, Path] = field(default_factory=dict)

    def service_file(self, name: str) -> Path:
        return self.manifests / f"svc-{name}.yaml"


def build(lab: Lab) -> World:
    lab.up()
    manifests = lab.dir / "manifests"
    manifests.mkdir()
    (manifests / "config.yaml").write_text(CONFIG)
    placeholder = manifests / f"svc-{PLACEHOLDER}.yaml"
    placeholder.write_text(service_manifest(PLACEHOLDER, "Cluster", None, 9))

    conf = lab.dir / "bird.conf"
    conf.write_text(bird_conf(lab.dir))
    bird_sock = lab.dir / "bird.ctl"
    lab.spawn("bird", "router", "bird", "-f", "-c", str(conf), "-s", str(bird_sock),
              "-P", str(lab.dir / "bird.pid"), ready=bird_sock)  # fmt: skip

    sockets: dict[str, Path] = {}
    run = lab.dir / "run"
    run.mkdir()
    sockets["ipam"] = run / "ipam.sock"
    sockets["controller"] = run / "controller.sock"
    lab.metallb("ipam", None, "ipam", "--listen", f"unix:{sockets['ipam']}", "--grace", "0.5",
                ready=sockets["ipam"])  # fmt: skip
    for node in NODE_IPS:
        folder = run / node
        folder.mkdir()
        for service in ("bfd", "bgp", "l2"):
            sock = sockets[f"{node}-{service}"] = folder / f"{service}.sock"
            extra = ["--bfd", f"unix:{folder / 'bfd.sock'}"] if service == "bgp" else []
            lab.metallb(f"{node}-{service}", node, service, "--listen", f"unix:{sock}",
                        "--grace", "0.5", *extra, ready=sock)  # fmt: skip
    lab.wait_ready("bird", "ipam", *(f"{n}-{s}" for n in NODE_IPS for s in ("bgp", "bfd", "l2")))

    lab.metallb("controller", None, "gateway", "controller", "--ipam", f"unix:{sockets['ipam']}",
                "--manifests", str(manifests), "--listen", f"unix:{sockets['controller']}",
                ready=sockets["controller"])  # fmt: skip
    for node in NODE_IPS:
        sock = sockets[f"{node}-role"] = run / node / "role.sock"
        lab.metallb(f"{node}-role", node, "gateway", "node", "--node", node,
                    "--manifests", str(manifests), "--l2", f"unix:{sockets[f'{node}-l2']}",
                    "--bgp", f"unix:{sockets[f'{node}-bgp']}", "--listen", f"unix:{sock}",
                    ready=sock)  # fmt: skip
    lab.wait_ready("controller", *(f"{n}-role" for n in NODE_IPS))

    wait_for("the placeholder's address", lambda: ingress(manifests, PLACEHOLDER), 30)
    for index, (name, (policy, node)) in enumerate(SERVICES.items(), start=1):
        manifest = service_manifest(name, policy, node, index)
        replace_atomically(manifests / f"svc-{name}.yaml", manifest)
    wait_for("both services' addresses", lambda: all(ingress(manifests, n) for n in SERVICES), 30)
    # Removed by replacing its file (atomically) with one holding no object, not by deleting
    # the file: a file deleted while a reader is mid-reload kills that reader's poll task
    # (the product bug test_folder_source_race.py shows), and right now every reader is
    # reloading after the controller's status writes. The deletion test deletes a file once
    # everything is quiet.
    replace_atomically(placeholder, "# the placeholder service was removed\n")
    wait_for(
        "IPAM to release the placeholder",
        lambda: PLACEHOLDER not in ipam_allocations(sockets["ipam"]),
        30,
    )
    return World(lab, manifests, Bird(bird_sock), sockets)
