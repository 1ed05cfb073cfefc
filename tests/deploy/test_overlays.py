"""Every overlay renders with `kubectl kustomize` and is what an operator should run.

Built-in kinds are validated offline against Kubernetes' own schemas (kubernetes-validate,
strict: unknown fields fail), metallb.io objects against our CRDs; the monitoring.coreos.com
objects have their own checks in test_monitoring.py. Then the deployment's shape: the speaker's
containers per overlay, probes, resources, privileges, RBAC, webhooks and Services.
"""

import re
from collections.abc import Iterator
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from tests.deploy.conftest import KUBERNETES_VERSION, OVERLAYS
from tests.deploy.crdcheck import CRDSet

Obj = dict[str, Any]
Rendered = tuple[str, list[Obj]]

PROTOCOLS = {
    "l2": {"l2"},
    "bgp": {"l2", "bgp"},
    "bgp-bfd": {"l2", "bgp", "bfd"},
}
# The capabilities each speaker container may add back after dropping ALL.
CAPABILITIES = {
    "gateway": set(),
    "l2": {"NET_RAW", "SYS_NICE"},
    "bgp": {"NET_BIND_SERVICE"},
    "bfd": set(),
}
WEBHOOK_PATHS = {
    "/validate-metallb-io-v1beta1-ipaddresspool": {"CREATE", "UPDATE"},
    "/validate-metallb-io-v1beta2-bgppeer": {"CREATE", "UPDATE"},
    "/validate-metallb-io-v1beta1-bgpadvertisement": {"CREATE", "UPDATE"},
    "/validate-metallb-io-v1beta1-l2advertisement": {"CREATE", "UPDATE"},
    "/validate-metallb-io-v1beta1-community": {"CREATE", "UPDATE"},
    "/validate-metallb-io-v1beta1-bfdprofile": {"CREATE", "DELETE"},
}


def _one(docs: list[Obj], kind: str, name: str) -> Obj:
    [obj] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return obj


def _workloads(docs: list[Obj]) -> Iterator[Obj]:
    yield from (d for d in docs if d["kind"] in ("Deployment", "DaemonSet"))


def _containers(docs: list[Obj]) -> Iterator[tuple[Obj, Obj]]:
    for w in _workloads(docs):
        for c in w["spec"]["template"]["spec"]["containers"]:
            yield w, c


def _flag(args: list[str], name: str) -> str | None:
    for a in args:
        if a.startswith(f"--{name}="):
            return a.partition("=")[2]
    return None


def test_the_overlays() -> None:
    assert set(OVERLAYS) == {f"{p}{m}" for p in PROTOCOLS for m in ("", "-prometheus")}


def test_renders_and_validates_offline(overlay: Rendered, crds: CRDSet) -> None:
    name, docs = overlay
    rendered_crds = CRDSet(d for d in docs if d["kind"] == "CustomResourceDefinition")
    assert rendered_crds.kinds == crds.kinds, "the rendering lacks some metallb.io CRDs"
    for obj in docs:
        where = f"{name}: {obj['kind']} {obj['metadata']['name']}"
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            assert name.endswith("-prometheus"), where
            continue
        if crds.knows(obj):
            assert crds.validate(obj) == [], where
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as err:
            pytest.fail(f"{where}: {'.'.join(map(str, err.path))}: {err.message}")


def test_everything_lives_in_metallb_system(overlay: Rendered) -> None:
    """But the webhook certificate's Secret and the controller's Role over it, which live in
    metallb-webhook, where the speaker has no Role (test_rbac_can_i.py)."""
    _, docs = overlay
    cluster_scoped = {
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
    apart = {
        ("Secret", "metallb-webhook-cert"),
        ("Role", "controller-webhook-cert"),
        ("RoleBinding", "controller-webhook-cert"),
    }
    for obj in docs:
        if obj["kind"] in cluster_scoped:
            continue
        where = "metallb-webhook" if (obj["kind"], obj["metadata"]["name"]) in apart else None
        assert obj["metadata"].get("namespace") == (where or "metallb-system"), obj["metadata"]
    ns = _one(docs, "Namespace", "metallb-system")
    for mode in ("enforce", "audit", "warn"):
        assert ns["metadata"]["labels"][f"pod-security.kubernetes.io/{mode}"] == "privileged"


def test_speaker_runs_the_overlays_protocols(overlay: Rendered) -> None:
    name, docs = overlay
    protocols = PROTOCOLS[name.removesuffix("-prometheus")]
    speaker = _one(docs, "DaemonSet", "speaker")
    pod = speaker["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    assert set(containers) == {"gateway", *protocols}
    assert pod["containers"][0]["name"] == "gateway"
    assert pod["hostNetwork"] is True
    gateway_args = containers["gateway"]["args"]
    assert gateway_args[:2] == ["gateway", "node"]
    assert "--node=$(METALLB_NODE_NAME)" in gateway_args
    # The gateway drives L2 and BGP; BFD sessions are the BGP service's (it is never told BFD).
    assert _flag(gateway_args, "bfd") is None
    for protocol in ("l2", "bgp"):
        # The gateway is told exactly the sockets of the containers that run.
        address = _flag(gateway_args, protocol)
        if protocol in protocols:
            assert address == f"unix:/run/metallb/{protocol}.sock"
            assert _flag(containers[protocol]["args"], "listen") == address
            assert containers[protocol]["args"][0] == protocol
        else:
            assert address is None
    for c in pod["containers"]:
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        assert mounts["/run/metallb"] == "sockets", c["name"]


def test_probes_check_each_containers_own_grpc_health(overlay: Rendered) -> None:
    _, docs = overlay
    for _, c in _containers(docs):
        listen = _flag(c["args"], "listen")
        assert listen is not None, c["name"]
        for kind in ("readinessProbe", "livenessProbe"):
            probe = c[kind]
            if listen.startswith("unix:"):
                command = probe["exec"]["command"]
                assert command[0] == "metallb-grpc-health" and command[-1] == listen
                assert ("--live" in command) == (kind == "livenessProbe")
            else:
                assert probe["grpc"]["port"] == int(listen.rpartition(":")[2]), c["name"]


def test_resources_and_metrics_ports(overlay: Rendered) -> None:
    _, docs = overlay
    images = set()
    for _, c in _containers(docs):
        images.add(c["image"])
        assert {"cpu", "memory"} <= set(c["resources"]["requests"]), c["name"]
        assert "memory" in c["resources"]["limits"], c["name"]
        assert "cpu" not in c["resources"]["limits"], "CPU limits throttle BFD and ARP replies"
        metrics = _flag(c["args"], "metrics-listen")
        assert metrics is not None
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        [name] = [n for n in ports if n == "metrics" or n.endswith("-metrics")]
        assert ports[name] == int(metrics.rpartition(":")[2])
    assert len(images) == 1 and images.pop().startswith("metallb-grpc:")


def test_port_names_and_numbers_are_unique_per_pod(overlay: Rendered) -> None:
    _, docs = overlay
    for w in _workloads(docs):
        ports = [p for c in w["spec"]["template"]["spec"]["containers"] for p in c["ports"]]
        names = [p["name"] for p in ports]
        numbers = [p["containerPort"] for p in ports]
        assert len(set(names)) == len(names) and len(set(numbers)) == len(numbers)
        for name in names:  # IANA_SVC_NAME, which the API server enforces
            assert len(name) <= 15 and re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", name)


def test_least_privilege_security_contexts(overlay: Rendered) -> None:
    _, docs = overlay
    for w, c in _containers(docs):
        pod = w["spec"]["template"]["spec"]
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert not sc.get("privileged")
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        added = set(sc["capabilities"].get("add", []))
        if w["kind"] == "DaemonSet":
            assert added == CAPABILITIES[c["name"]], c["name"]
        else:
            assert not added
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["runAsUser"] == 65534
        # An API token only where the Kubernetes API is used.
        token = any(
            m["mountPath"] == "/var/run/secrets/kubernetes.io/serviceaccount"
            for m in c.get("volumeMounts", [])
        )
        automount = pod.get("automountServiceAccountToken", True)
        uses_api = c["args"][0] == "gateway"
        assert (automount or token) == uses_api, c["name"]


def test_ipam_and_controller(overlay: Rendered) -> None:
    """IPAM runs beside the controller, in its pod, reached over a Unix socket of the pod's
    in-memory volume (issue 15: its API was a cluster Service any pod the policy let in could
    call)."""
    _, docs = overlay
    assert not [d for d in docs if d["metadata"]["name"] == "ipam"]
    controller = _one(docs, "Deployment", "controller")
    assert controller["spec"]["replicas"] == 1
    pod = controller["spec"]["template"]["spec"]
    c, ipam = pod["containers"]
    assert c["args"][:2] == ["gateway", "controller"]
    assert "--leader-elect" in c["args"]
    assert ipam["args"][0] == "ipam"
    assert _flag(ipam["args"], "listen") == "unix:/run/metallb/ipam.sock"
    assert _flag(c["args"], "ipam") == _flag(ipam["args"], "listen")
    assert _flag(c["args"], "listen") == "unix:/run/metallb/controller.sock"
    # For grpcurl through `kubectl port-forward`: reads only, on the pod's loopback.
    assert _flag(ipam["args"], "read-only-listen") == "127.0.0.1:50051"
    [sockets] = [v for v in pod["volumes"] if v["name"] == "sockets"]
    assert sockets["emptyDir"]["medium"] == "Memory"
    for container in (c, ipam):
        assert {"name": "sockets", "mountPath": "/run/metallb"} in container["volumeMounts"]
    # MetalLB's selectors, so that `kubectl apply` replaces its controller and speaker in place.
    for kind, name in (("Deployment", "controller"), ("DaemonSet", "speaker")):
        selector = _one(docs, kind, name)["spec"]["selector"]["matchLabels"]
        assert selector == {"app": "metallb", "component": name}


def test_services_reach_named_container_ports(overlay: Rendered) -> None:
    _, docs = overlay
    for svc in (d for d in docs if d["kind"] == "Service"):
        selector = svc["spec"]["selector"]
        matched = [
            w
            for w in _workloads(docs)
            if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(matched) == 1, svc["metadata"]["name"]
        ports = {
            p["name"]
            for c in matched[0]["spec"]["template"]["spec"]["containers"]
            for p in c["ports"]
        }
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] in ports


def test_webhooks(overlay: Rendered) -> None:
    _, docs = overlay
    config = _one(docs, "ValidatingWebhookConfiguration", "metallb-webhook-configuration")
    paths = {}
    for hook in config["webhooks"]:
        service = hook["clientConfig"]["service"]
        assert service["name"] == "metallb-webhook-service"
        assert service["namespace"] == "metallb-system"
        assert hook["failurePolicy"] == "Fail" and hook["sideEffects"] == "None"
        [rule] = hook["rules"]
        assert rule["apiGroups"] == ["metallb.io"]
        paths[service["path"]] = set(rule["operations"])
    assert paths == WEBHOOK_PATHS
    svc = _one(docs, "Service", "metallb-webhook-service")
    assert svc["spec"]["ports"] == [{"port": 443, "targetPort": "webhook-server"}]
    controller = _one(docs, "Deployment", "controller")
    c, _ = controller["spec"]["template"]["spec"]["containers"]
    assert {"name": "webhook-server", "containerPort": 9443} in c["ports"]
    assert _flag(c["args"], "webhook-listen") == "0.0.0.0:9443"


def test_rbac_is_least_privilege(overlay: Rendered) -> None:
    _, docs = overlay
    roles = {(d["kind"], d["metadata"]["name"]): d for d in docs if d["kind"].endswith("Role")}
    bound: dict[str, set[str]] = {}
    for binding in (d for d in docs if d["kind"].endswith("RoleBinding")):
        ref = binding["roleRef"]
        assert (ref["kind"], ref["name"]) in roles
        for subject in binding["subjects"]:
            bound.setdefault(subject["name"], set()).add(ref["name"])
    for role in roles.values():
        for rule in role["rules"]:
            assert "*" not in rule["verbs"] and "*" not in rule["resources"], role["metadata"]
            writes = set(rule["verbs"]) - {"get", "list", "watch"}
            where = (role["metadata"].get("namespace"), role["metadata"]["name"])
            if "secrets" in rule["resources"] and writes == {"create"}:
                # Creating the webhook Secret again, or the speaker's copy of the BGP passwords:
                # create cannot be limited by name, so only the controller, in the namespace
                # that holds nothing else or in the one whose Secrets it reads anyway.
                assert where in {
                    ("metallb-webhook", "controller-webhook-cert"),
                    ("metallb-system", "controller"),
                }
                assert rule["resources"] == ["secrets"]
            elif "secrets" in rule["resources"] and writes:
                assert (where, rule.get("resourceNames")) in [
                    (("metallb-webhook", "controller-webhook-cert"), ["metallb-webhook-cert"]),
                    (("metallb-system", "controller"), ["metallb-speaker-bgp-passwords"]),
                ]
            if role["kind"] == "ClusterRole" and writes - {"create", "patch"}:
                # Cluster-wide writes: Service status and CA injection into named objects only.
                assert rule["resources"] == ["services/status"] or rule.get("resourceNames")
    accounts = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ServiceAccount"}
    for w in _workloads(docs):
        assert w["spec"]["template"]["spec"]["serviceAccountName"] in accounts
    assert "ipam" not in accounts, "IPAM never calls the Kubernetes API: it has no account"
    assert bound["controller"] == {
        "metallb-system:controller",
        "controller",
        "controller-webhook-cert",
    }
    assert bound["speaker"] == {"metallb-system:speaker", "speaker"}


def test_grpc_listens_on_unix_sockets_and_metrics_where_prometheus_may_come(
    overlay: Rendered,
) -> None:
    """Every gRPC listener is a Unix socket of a pod's in-memory volume; the only TCP ports are
    metrics and the webhook. The controller pod's NetworkPolicy lets in the webhook's callers
    and Prometheus (to the metrics ports) only; the speaker runs on the host network, which no
    NetworkPolicy governs, so its metrics listen on the node's own address only."""
    _, docs = overlay
    for w, c in _containers(docs):
        assert (_flag(c["args"], "listen") or "").startswith("unix:/run/metallb/"), c["name"]
        for flag in ("ipam", "l2", "bgp", "bfd"):
            value = _flag(c["args"], flag)
            assert value is None or value.startswith("unix:/run/metallb/"), (c["name"], flag)
        tcp = {p["name"] for p in c["ports"]}
        assert all(n.endswith("metrics") or n == "webhook-server" for n in tcp), c["name"]
        metrics = _flag(c["args"], "metrics-listen") or ""
        if w["kind"] == "DaemonSet":
            assert metrics.startswith("$(METALLB_HOST_IP):"), c["name"]
            [host_ip] = [e for e in c["env"] if e["name"] == "METALLB_HOST_IP"]
            assert host_ip["valueFrom"]["fieldRef"]["fieldPath"] == "status.hostIP"
    policy = _one(docs, "NetworkPolicy", "controller")
    assert policy["spec"]["podSelector"]["matchLabels"] == {
        "app": "metallb",
        "component": "controller",
    }
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    rules = policy["spec"]["ingress"]
    open_ports = [p["port"] for r in rules if "from" not in r for p in r["ports"]]
    assert open_ports == ["webhook-server"]
    [prometheus] = [r for r in rules if "from" in r]
    assert {p["port"] for p in prometheus["ports"]} == {"metrics", "ipam-metrics"}
    [peer] = prometheus["from"]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
    controller = _one(docs, "Deployment", "controller")
    ports = {
        p["name"] for c in controller["spec"]["template"]["spec"]["containers"] for p in c["ports"]
    }
    assert ports == {"metrics", "ipam-metrics", "webhook-server"}
    assert not [
        d
        for d in docs
        if d["kind"] == "Service" and d["metadata"]["name"] != "metallb-webhook-service"
    ]


def test_no_latest_tags_or_host_paths(overlay: Rendered) -> None:
    _, docs = overlay
    for w in _workloads(docs):
        for volume in w["spec"]["template"]["spec"].get("volumes", []):
            assert "hostPath" not in volume
    for _, c in _containers(docs):
        assert not re.search(r":latest$", c["image"])
