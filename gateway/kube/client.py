"""The official kubernetes client, configured from a kubeconfig file or in-cluster."""

from typing import Any

from kubernetes import client, config


def kube_client(kubeconfig: str | None) -> Any:
    """An ApiClient from `kubeconfig`, else from the pod's service account."""
    if kubeconfig:
        config.load_kube_config(config_file=kubeconfig)
    else:
        config.load_incluster_config()
    return client.ApiClient()
