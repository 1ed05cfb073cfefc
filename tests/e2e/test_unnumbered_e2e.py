"""The gateway end to end with an unnumbered BGPPeer (`interface`, issue 17).

```
 node1 (ens1, link-local only) ---- veth ---- (ens1) router: FRR
```

A manifests folder holds a dual-stack pool, a BGPAdvertisement, a BGPPeer with `interface: ens1`
and `dynamicASN: external` and a dual-stack LoadBalancer Service. The controller (root namespace)
allocates through IPAM; node1's role hands the peer and the routes to node1's BGP service, which
learns FRR on ens1 (`neighbor ens1 interface remote-as external`). FRR must hold both routes and
install them in its kernel through node1's link-local address.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from tests.bgp.interop.lab import Frr
from tests.conftest import require_binary
from tests.conftest import require_root as shared_require_root
from tests.e2e.lab import LINK, Lab, sh, wait_for
from tests.e2e.world import ingress

ASN, FRR_AS = 64512, 65010
V4_POOL, V6_POOL = "198.51.100.240/29", "2001:db8:e2e::/125"

CONFIG = f"""
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {{name: fabric, namespace: metallb-system}}
spec: {{addresses: ["{V4_POOL}", "{V6_POOL}"]}}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {{name: fabric, namespace: metallb-system}}
spec: {{ipAddressPools: [fabric]}}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {{name: tor, namespace: metallb-system}}
spec:
  myASN: {ASN}
  dynamicASN: external
  interface: {LINK}
  holdTime: 9s
  connectTime: 2s
---
apiVersion: v1
kind: Node
metadata: {{name: node1, labels: {{kubernetes.io/hostname: node1}}}}
---
apiVersion: v1
kind: Namespace
metadata: {{name: demo}}
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: demo}}
spec:
  type: LoadBalancer
  ipFamilyPolicy: RequireDualStack
  ipFamilies: [IPv4, IPv6]
  clusterIP: 10.96.0.20
  selector: {{app: web}}
  ports: [{{port: 80, protocol: TCP}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  namespace: demo
  labels: {{kubernetes.io/service-name: web}}
addressType: IPv4
endpoints:
- addresses: [10.244.1.5]
  conditions: {{ready: true}}
  nodeName: node1
"""


FRR_CONF = f"""router bgp {FRR_AS}
 bgp router-id 192.0.2.10
 no bgp ebgp-requires-policy
 neighbor {LINK} interface remote-as external
 neighbor {LINK} timers connect 1
 address-family ipv4 unicast
  neighbor {LINK} activate
 exit-address-family
 address-family ipv6 unicast
  neighbor {LINK} activate
 exit-address-family
exit
"""


class _FrrLab:
    """What tests.bgp.interop.lab.Frr needs of a lab: a folder, pid files, the namespace."""

    def __init__(self, lab: Lab) -> None:
        self.dir = lab.dir
        self.pidfiles: list[Path] = []
        self.peer_ns = lab.ns("router")


@pytest.fixture
def lab() -> Iterator[Lab]:
    shared_require_root("network namespaces, raw sockets, port 179")
    for tool in ("ip", "vtysh", "/usr/lib/frr/bgpd", "timeout"):
        require_binary(tool)
    the_lab = Lab()
    the_lab.dir.chmod(0o755)  # FRR's daemons run as user frr
    try:
        yield the_lab
    finally:
        the_lab.close()


def test_an_interface_bgppeer_in_the_folder_reaches_frr(lab: Lab) -> None:
    node, router = lab._add_ns("node1"), lab._add_ns("router")
    sh("ip", "-n", node, "link", "add", LINK, "type", "veth", "peer", "name", LINK,
       "netns", router)  # fmt: skip
    for ns in (node, router):
        sh("ip", "-n", ns, "link", "set", LINK, "up")
    manifests = lab.dir / "manifests"
    manifests.mkdir()
    (manifests / "config.yaml").write_text(CONFIG)
    run = lab.dir / "run"
    run.mkdir()
    ipam, controller = run / "ipam.sock", run / "controller.sock"
    bgp, role = run / "bgp.sock", run / "role.sock"
    lab.metallb("ipam", None, "ipam", "--listen", f"unix:{ipam}", "--grace", "0.5", ready=ipam)
    lab.metallb("bgp", "node1", "bgp", "--listen", f"unix:{bgp}", "--grace", "0.5", ready=bgp)
    lab.wait_ready("ipam", "bgp")
    lab.metallb("controller", None, "gateway", "controller", "--ipam", f"unix:{ipam}",
                "--manifests", str(manifests), "--listen", f"unix:{controller}",
                ready=controller)  # fmt: skip
    lab.metallb("role", "node1", "gateway", "node", "--node", "node1", "--manifests",
                str(manifests), "--bgp", f"unix:{bgp}", "--listen", f"unix:{role}",
                ready=role)  # fmt: skip
    lab.wait_ready("controller", "role")
    frr_lab = _FrrLab(lab)
    try:
        frr = Frr(cast(Any, frr_lab), FRR_CONF)
        ips = wait_for("the service's two addresses", lambda: len(ingress(manifests, "web")) == 2
                       and ingress(manifests, "web"), 30)  # fmt: skip
        v4, v6 = sorted(ips, key=lambda ip: ":" in ip)
        link_local = re.search(
            r"inet6 (fe80::[0-9a-f:]+)/64",
            sh("ip", "-n", node, "-6", "addr", "show", "dev", LINK, "scope", "link").stdout,
        )
        assert link_local, "node1 has no link-local address"
        ours = link_local.group(1)

        def installed() -> bool:
            r4 = sh("ip", "-n", router, "route", "show", f"{v4}/32", check=False).stdout
            r6 = sh("ip", "-n", router, "-6", "route", "show", f"{v6}/128", check=False).stdout
            return f"via inet6 {ours} dev {LINK}" in r4 and f"via {ours} dev {LINK}" in r6

        try:
            wait_for("FRR's kernel routes to the service via node1's link-local", installed, 60)
        except AssertionError:
            print(lab.logs("bgp", "role"), frr.cmd("show bgp summary"))
            raise
        routes4 = frr.json("show bgp ipv4 unicast").get("routes", {})
        routes6 = frr.json("show bgp ipv6 unicast").get("routes", {})
        assert f"{v4}/32" in routes4 and f"{v6}/128" in routes6
    finally:
        for pidfile in frr_lab.pidfiles:  # FRR's daemons outlive their namespace
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pidfile.read_text().split()[0]), signal.SIGTERM)
