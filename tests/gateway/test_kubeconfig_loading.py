"""client-go's loading rules: `--kubeconfig`, then `$KUBECONFIG`, then in-cluster, then
`~/.kube/config` — each checked by listing through the official client against the fake API
server. The issue's failure: outside a pod, `gateway controller` ignored `$KUBECONFIG` and
`~/.kube/config` and failed with "Service host/port is not set"."""

import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from gateway.kube.client import KubeconfigError, kube_client
from tests.conftest import require_binary
from tests.fakekube.fake import FakeKube, wait_for, write_kubeconfig
from tests.fakekube.fixtures import fake_kube

__all__ = ["fake_kube"]


def namespaces(api: Any) -> list[str]:
    try:
        items = client.CoreV1Api(api).list_namespace(_request_timeout=10).items
        return [str(n.metadata.name) for n in items if n.metadata]
    finally:
        api.close()


@pytest.fixture
def seeded(fake_kube: FakeKube) -> FakeKube:
    fake_kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "seen"}})
    return fake_kube


UNREACHABLE = "http://127.0.0.1:9"


def test_flag_wins_over_everything(seeded: FakeKube, tmp_path: Path) -> None:
    flag = write_kubeconfig(tmp_path / "flag", seeded.url)
    env = {"KUBECONFIG": str(write_kubeconfig(tmp_path / "env", UNREACHABLE))}
    assert "seen" in namespaces(kube_client(str(flag), env, tmp_path))


def test_kubeconfig_variable_merged_list(seeded: FakeKube, tmp_path: Path) -> None:
    empty = tmp_path / "first"
    empty.write_text("apiVersion: v1\nkind: Config\n")
    second = write_kubeconfig(tmp_path / "second", seeded.url)
    env = {"KUBECONFIG": f"{empty}:{second}", "KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    assert "seen" in namespaces(kube_client(None, env, tmp_path))


def test_in_cluster_before_home(tmp_path: Path) -> None:
    write_kubeconfig(tmp_path / ".kube" / "config", UNREACHABLE)
    env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    # Outside a pod the service-account token is missing: the in-cluster path was taken.
    with pytest.raises(KubeconfigError, match="in-cluster configuration"):
        kube_client(None, env, tmp_path)


def test_home_config_last(seeded: FakeKube, tmp_path: Path) -> None:
    write_kubeconfig(tmp_path / ".kube" / "config", seeded.url)
    assert "seen" in namespaces(kube_client(None, {}, tmp_path))


def test_nothing_found_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError, match=r"pass --kubeconfig, set \$KUBECONFIG"):
        kube_client(None, {}, tmp_path)


def test_controller_process_reads_kubeconfig_variable(seeded: FakeKube, tmp_path: Path) -> None:
    """The command itself, with no flag, only $KUBECONFIG: it reaches the API server (before
    the change it failed at once on the in-cluster configuration)."""
    env = {
        "KUBECONFIG": str(write_kubeconfig(tmp_path / "kc", seeded.url)),
        "HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    proc = subprocess.Popen(
        [require_binary("metallb-grpc"), "gateway", "controller", "--ipam", "unix:/nonexistent",
         "--listen", "127.0.0.1:0", "--metrics-listen", "", "--namespace", "metallb-system"],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: bool(seeded.requests_to("GET", r"^/api")), timeout=30)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate()
    assert "Service host/port is not set" not in err
