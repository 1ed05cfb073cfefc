"""The Prometheus objects: PodMonitors that find our pods, MetalLB's alerts, the dashboard.

kubernetes-validate has no schemas for the Prometheus Operator's CRDs, and vendoring them would
pin a third party's 10,000-line schemas here; instead these checks target what can go wrong in
our files: fields (a closed list per object, from the operator's API), selectors that match no
pod, ports that do not exist, PromQL that does not parse (promql-parser, the Prometheus
parser's Rust port), and metric names that no service exports.
"""

import json
import re
from pathlib import Path
from typing import Any

import promql_parser
import pytest

from tests.conftest import ROOT
from tests.deploy.conftest import OVERLAYS, rendered

Obj = dict[str, Any]
PROMETHEUS_OVERLAYS = [o for o in OVERLAYS if o.endswith("-prometheus")]
DASHBOARD = ROOT / "deploy" / "components" / "prometheus" / "dashboard.json"

# The names the services export: MetalLB's (behaviour reference §6), which they keep.
METRICS = {
    *(
        f"metallb_allocator_{n}"
        for n in (
            "addresses_total",
            "ipv4_addresses_total",
            "ipv6_addresses_total",
            "addresses_in_use_total",
            "ipv4_addresses_in_use_total",
            "ipv6_addresses_in_use_total",
            "services_allocated_total",
        )
    ),
    "metallb_k8s_client_updates_total",
    "metallb_k8s_client_update_errors_total",
    "metallb_k8s_client_config_loaded_bool",
    "metallb_k8s_client_config_stale_bool",
    "metallb_speaker_announced",
    "metallb_layer2_requests_received",
    "metallb_layer2_responses_sent",
    "metallb_layer2_gratuitous_sent",
    "metallb_bgp_session_up",
    "metallb_bgp_updates_total",
    "metallb_bgp_announced_prefixes_total",
    "metallb_bgp_pending_prefixes_total",
    "metallb_bfd_session_up",
    "metallb_bfd_control_packet_input",
    "metallb_bfd_control_packet_output",
    "metallb_bfd_session_up_events",
    "metallb_bfd_session_down_events",
}
ALERTS = {
    "MetalLBStaleConfig",
    "MetalLBConfigNotLoaded",
    "MetalLBAddressPoolExhausted",
    "MetalLBAddressPoolUsage75Percent",
    "MetalLBAddressPoolUsage85Percent",
    "MetalLBAddressPoolUsage95Percent",
    "MetalLBBGPSessionDown",
    "MetalLBBFDSessionDown",
}
POD_MONITOR_FIELDS = {"selector", "podMetricsEndpoints", "jobLabel", "namespaceSelector"}
ENDPOINT_FIELDS = {"port", "path", "interval", "scheme", "relabelings", "metricRelabelings"}
RULE_FIELDS = {"alert", "record", "expr", "for", "labels", "annotations"}


def _check_promql(expr: str) -> None:
    promql_parser.parse(expr)  # raises on a syntax error
    names = set(re.findall(r"\bmetallb_[a-z0-9_]+", expr))
    assert names, expr
    assert names <= METRICS, f"unknown metrics {names - METRICS} in {expr}"


def _monitoring(docs: list[Obj], kind: str) -> list[Obj]:
    return [d for d in docs if d["kind"] == kind]


@pytest.mark.parametrize("name", PROMETHEUS_OVERLAYS)
def test_pod_monitors_scrape_every_metrics_port(name: str) -> None:
    docs = rendered(name)
    monitors = _monitoring(docs, "PodMonitor")
    scraped: set[tuple[str, str]] = set()
    for monitor in monitors:
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        spec = monitor["spec"]
        assert set(spec) <= POD_MONITOR_FIELDS
        [workload] = [
            w
            for w in docs
            if w["kind"] in ("Deployment", "DaemonSet")
            and spec["selector"]["matchLabels"].items()
            <= w["spec"]["template"]["metadata"]["labels"].items()
        ]
        ports = [
            (c["name"], p["name"])
            for c in workload["spec"]["template"]["spec"]["containers"]
            for p in c["ports"]
        ]
        for endpoint in spec["podMetricsEndpoints"]:
            assert set(endpoint) <= ENDPOINT_FIELDS
            if "port" in endpoint:
                scraped |= {p for p in ports if p[1] == endpoint["port"]}
            else:
                keep = [r for r in endpoint["relabelings"] if r.get("action") == "keep"]
                [rule] = keep
                assert rule["sourceLabels"] == ["__meta_kubernetes_pod_container_port_name"]
                scraped |= {p for p in ports if re.fullmatch(rule["regex"], p[1])}
    every = {
        (c["name"], p["name"])
        for w in docs
        if w["kind"] in ("Deployment", "DaemonSet")
        for c in w["spec"]["template"]["spec"]["containers"]
        for p in c["ports"]
        if p["name"].endswith("metrics")
    }
    assert scraped == every


@pytest.mark.parametrize("name", PROMETHEUS_OVERLAYS)
def test_alerts_are_metallbs_and_parse(name: str) -> None:
    [rule_object] = _monitoring(rendered(name), "PrometheusRule")
    alerts = {}
    for group in rule_object["spec"]["groups"]:
        for rule in group["rules"]:
            assert set(rule) <= RULE_FIELDS
            _check_promql(rule["expr"])
            assert rule["labels"]["severity"] in {"info", "warning", "critical"}
            assert {"summary", "description"} <= set(rule["annotations"])
            alerts[rule["alert"]] = rule
    assert set(alerts) == ALERTS
    assert alerts["MetalLBBGPSessionDown"]["expr"] == "metallb_bgp_session_up == 0"
    assert alerts["MetalLBBFDSessionDown"]["expr"] == "metallb_bfd_session_up == 0"
    assert alerts["MetalLBStaleConfig"]["expr"] == "metallb_k8s_client_config_stale_bool == 1"


def test_dashboard_queries_parse_and_use_exported_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    titles = set()
    for panel in dashboard["panels"]:
        titles.add(panel["title"])
        for target in panel.get("targets", []):
            _check_promql(target["expr"])
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    # Allocation, sessions and announcements, as the issue asks.
    assert {"Allocation", "Sessions", "Announcements"} <= titles


@pytest.mark.parametrize("name", PROMETHEUS_OVERLAYS)
def test_dashboard_ships_as_a_sidecar_configmap(name: str) -> None:
    [cm] = [
        d
        for d in rendered(name)
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "metallb-grafana-dashboard"
    ]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(cm["data"]["metallb-grpc.json"]) == json.loads(DASHBOARD.read_text())


def test_overlays_without_prometheus_need_no_operator() -> None:
    for name in OVERLAYS:
        if not name.endswith("-prometheus"):
            docs = rendered(name)
            assert not [d for d in docs if d["apiVersion"].startswith("monitoring.coreos.com")]


def test_dashboard_file_is_formatted() -> None:
    text = Path(DASHBOARD).read_text()
    assert text == json.dumps(json.loads(text), indent=2) + "\n"
