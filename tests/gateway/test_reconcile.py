"""`metallb-grpc reconcile`: one pass over a manifests folder, as JSON, writing nothing."""

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, copy_manifests, require_binary

EXAMPLES = ROOT / "examples" / "manifests"


def reconcile(folder: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run(
        [
            require_binary("metallb-grpc"),
            "reconcile",
            "--manifests",
            str(folder),
            *extra,
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_example_folder(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    copy_manifests(folder)
    before = {p: p.read_text() for p in folder.rglob("*") if p.is_file()}
    code, report = reconcile(folder, "--node", "node-1")
    assert code == 0 and report["config"] == {"valid": True, "errors": []}
    services = report["services"]
    assert services["demo/web"]["ingress"] == ["192.0.2.0", "2001:db8:1::"]
    # Two services sharing one address (same key, different protocols).
    assert (
        services["demo/dns"]["ingress"] == services["demo/dns-tcp"]["ingress"] == ["198.51.100.10"]
    )
    assert services["demo/dns"]["pool"] == "reserved"
    l2 = report["announcements"]["layer2"]
    assert {(a["service"], a["ip"]) for a in l2} == {
        ("demo/web", "192.0.2.0"),
        ("demo/web", "2001:db8:1::"),
    }
    assert report["announcements"]["bgp"] == [
        {
            "peer": "router",
            "prefix": "198.51.100.10/32",
            "communities": ["large:64512:1:1", "65535:65281"],
            "localPref": 200,
        }
    ]
    after = {p: p.read_text() for p in folder.rglob("*") if p.is_file()}
    assert after == before  # nothing written


def test_existing_ingress_is_restored_first_and_kept(tmp_path: Path) -> None:
    (tmp_path / "all.yaml").write_text("""
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: p, namespace: metallb-system}
spec: {addresses: [10.0.0.0/30]}
---
apiVersion: v1
kind: Service
metadata: {name: a-new, namespace: ns}
spec: {type: LoadBalancer, clusterIP: 10.96.0.1, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata:
  name: z-old
  namespace: ns
  annotations: {metallb.universe.tf/allow-shared-ip: k}
spec: {type: LoadBalancer, clusterIP: 10.96.0.2, ports: [{port: 80}]}
status: {loadBalancer: {ingress: [{ip: 10.0.0.0}]}}
---
apiVersion: v1
kind: Service
metadata: {name: other-class, namespace: ns}
spec: {type: LoadBalancer, loadBalancerClass: example.com/lb, clusterIP: 10.96.0.3}
""")
    code, report = reconcile(tmp_path)
    assert code == 0
    # Kept; the pool annotation it lacks is written, so the controller warns about its deprecated
    # annotation (MetalLB warns whenever it modifies the service, §1.2) and so does reconcile.
    assert report["services"]["ns/z-old"] == {
        "ingress": ["10.0.0.0"],
        "pool": "p",
        "events": [
            {
                "type": "Warning",
                "reason": "deprecatedAnnotation",
                "message": "Service uses deprecated annotation metallb.universe.tf/allow-shared-ip",
            }
        ],
    }
    assert report["services"]["ns/a-new"]["ingress"] == ["10.0.0.1"]
    assert "ns/other-class" not in report["services"]
    assert "announcements" not in report


def test_invalid_configuration_exits_1_and_allocates_nothing(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("""
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: p, namespace: metallb-system}
spec: {addresses: [10.0.0.0/33]}
---
apiVersion: v1
kind: Service
metadata: {name: s, namespace: ns}
spec: {type: LoadBalancer, clusterIP: 10.96.0.1}
""")
    code, report = reconcile(tmp_path)
    assert code == 1
    assert report["config"] == {
        "valid": False,
        "errors": [
            "ipaddresspools/p: spec.addresses[0]: parsing address pool p: invalid CIDR "
            '"10.0.0.0/33" in pool "p": invalid CIDR "10.0.0.0/33"'
        ],
    }
    assert report["services"] == {"ns/s": {"ingress": [], "pool": None, "events": []}}
