"""Folder mode plays the API server: a MetalLB user's YAML works unchanged.

The issue's failure: MetalLB's own L2 sample (a pool, an empty L2Advertisement, an nginx
Deployment and its LoadBalancer Service) in a folder never got an address, and nothing said why:
the Service had no clusterIP and no ipFamilies, which the API server would have filled in.
"""

import ipaddress
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gateway.apiserver_defaults import DefaultingError, apply_defaults
from gateway.manifests import ManifestError, load
from tests.conftest import copy_manifests, require_binary

SAMPLE = Path(__file__).parent / "data" / "metallb-sample"


def svc(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "demo"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}], **spec},
    }


def service_cidr(*cidrs: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "ServiceCIDR",
        "metadata": {"name": "kubernetes"},
        "spec": {"cidrs": list(cidrs)},
    }


def spec_of(objects: list[dict[str, Any]], name: str = "web") -> dict[str, Any]:
    [obj] = [o for o in apply_defaults(objects) if o["metadata"]["name"] == name]
    return dict(obj["spec"])


def test_metallb_sample_gets_an_address_and_is_announced(tmp_path: Path) -> None:
    folder = copy_manifests(tmp_path / "sample", SAMPLE)
    proc = subprocess.run(
        [require_binary("metallb-grpc"), "reconcile", "--manifests", str(folder),
         "--node", "node-1", "--output", "json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["services"]["default/nginx"]["ingress"] == ["192.0.2.240"]
    assert [(a["service"], a["ip"]) for a in report["announcements"]["layer2"]] == [
        ("default/nginx", "192.0.2.240")
    ]


def test_single_stack_default_takes_the_primary_family() -> None:
    spec = spec_of([svc()])
    assert spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["ipFamilies"] == ["IPv4"]
    assert ipaddress.ip_address(spec["clusterIP"]) in ipaddress.ip_network("10.96.0.0/12")
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    [port] = spec["ports"]
    assert port["protocol"] == "TCP" and port["targetPort"] == 80
    assert 30000 <= port["nodePort"] <= 32767
    assert spec["externalTrafficPolicy"] == "Cluster"


def test_ipv6_only_cluster_from_its_service_cidr() -> None:
    spec = spec_of([service_cidr("fd00:1::/112"), svc()])
    assert spec["ipFamilies"] == ["IPv6"]
    assert ipaddress.ip_address(spec["clusterIP"]) in ipaddress.ip_network("fd00:1::/112")


def test_prefer_dual_stack_gets_both_families_in_cluster_order() -> None:
    spec = spec_of([svc(ipFamilyPolicy="PreferDualStack")])
    assert spec["ipFamilies"] == ["IPv4", "IPv6"]
    assert [ipaddress.ip_address(ip).version for ip in spec["clusterIPs"]] == [4, 6]


def test_prefer_dual_stack_on_a_single_stack_cluster_gets_one() -> None:
    spec = spec_of([service_cidr("10.0.0.0/24"), svc(ipFamilyPolicy="PreferDualStack")])
    assert spec["ipFamilies"] == ["IPv4"] and len(spec["clusterIPs"]) == 1


def test_require_dual_stack_on_a_single_stack_cluster_is_refused_in_kubectl_words() -> None:
    with pytest.raises(DefaultingError, match="not configured for dual-stack services"):
        apply_defaults([service_cidr("10.0.0.0/24"), svc(ipFamilyPolicy="RequireDualStack")])


def test_two_cluster_ips_and_no_policy_default_to_require_dual_stack() -> None:
    spec = spec_of([svc(clusterIPs=["10.96.0.10", "fd00:10:96::10"])])
    assert spec["ipFamilyPolicy"] == "RequireDualStack"
    assert spec["ipFamilies"] == ["IPv4", "IPv6"]
    assert spec["clusterIPs"] == ["10.96.0.10", "fd00:10:96::10"]


def test_single_stack_with_two_families_is_refused() -> None:
    with pytest.raises(DefaultingError, match=r"spec\.ipFamilies"):
        apply_defaults([svc(ipFamilyPolicy="SingleStack", ipFamilies=["IPv4", "IPv6"])])


def test_ipv6_first_when_asked() -> None:
    spec = spec_of([svc(ipFamilyPolicy="PreferDualStack", ipFamilies=["IPv6"])])
    assert spec["ipFamilies"] == ["IPv6", "IPv4"]


def test_what_the_user_wrote_is_kept() -> None:
    given = svc(
        clusterIP="10.96.0.53",
        ports=[{"port": 53, "protocol": "UDP", "nodePort": 31000, "targetPort": 5353}],
        externalTrafficPolicy="Local",
    )
    spec = spec_of([given])
    assert spec["clusterIPs"] == ["10.96.0.53"] and spec["ipFamilies"] == ["IPv4"]
    assert spec["ports"] == [{"port": 53, "protocol": "UDP", "nodePort": 31000, "targetPort": 5353}]
    assert spec["externalTrafficPolicy"] == "Local"
    assert given["spec"].get("ipFamilies") is None  # the input is not changed


def test_no_node_ports_when_the_user_turned_them_off() -> None:
    spec = spec_of([svc(allocateLoadBalancerNodePorts=False)])
    assert "nodePort" not in spec["ports"][0]


def test_headless_service() -> None:
    spec = spec_of([svc(type="ClusterIP", clusterIP="None")])
    assert spec["clusterIPs"] == ["None"] and spec["ipFamilies"] == ["IPv4"]


def test_choices_are_stable_and_distinct_whatever_the_order() -> None:
    many = [svc(f"s{i}") for i in range(50)]
    first = {o["metadata"]["name"]: o["spec"]["clusterIP"] for o in apply_defaults(many)}
    again = {o["metadata"]["name"]: o["spec"]["clusterIP"] for o in apply_defaults(many[::-1])}
    assert first == again
    assert len(set(first.values())) == 50


def test_a_taken_address_is_not_handed_out_again() -> None:
    probe = spec_of([svc("x")], "x")["clusterIP"]
    spec = spec_of([svc("x"), svc("holder", clusterIP=probe)], "x")
    assert spec["clusterIP"] != probe


def test_endpoint_slice_ports_default_to_tcp() -> None:
    slice_ = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "e", "namespace": "demo"},
        "addressType": "IPv4",
        "ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}],
    }
    [out] = apply_defaults([slice_])
    assert [p["protocol"] for p in out["ports"]] == ["TCP", "UDP"]


def test_folder_error_names_the_object(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "s.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata: {name: kubernetes}\n"
        "spec: {cidrs: [10.0.0.0/24]}\n---\n"
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
        "spec: {type: LoadBalancer, ipFamilyPolicy: RequireDualStack, ports: [{port: 80}]}\n"
    )
    with pytest.raises(ManifestError, match=r'Service "web" is invalid: spec\.ipFamilyPolicy'):
        load(folder)


@pytest.mark.parametrize(
    ("meta", "field"),
    [
        ({"name": "web", "namespace": "../../../x"}, "metadata.namespace"),
        ({"name": "../web", "namespace": "demo"}, "metadata.name"),
        ({"name": "Web", "namespace": "demo"}, "metadata.name"),
        ({"name": "1web", "namespace": "demo"}, "metadata.name"),
        ({"name": "w" * 64, "namespace": "demo"}, "metadata.name"),
    ],
)
def test_names_the_api_server_would_refuse_are_refused(
    tmp_path: Path, meta: dict[str, str], field: str
) -> None:
    """The issue (15): a Service in namespace `../../../x` made the controller write its status
    outside `.status/`. Names become paths there, so they follow the API server's rules."""
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "s.yaml").write_text(json.dumps(svc() | {"metadata": meta}))
    with pytest.raises(ManifestError, match=rf"Service is invalid: {field}: Invalid value"):
        load(folder)


def test_dotted_names_are_fine_where_the_api_server_allows_them(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1.example.com"}}
    (folder / "n.yaml").write_text(json.dumps(node))
    assert [n.name for n in load(folder).nodes()] == ["node-1.example.com"]
