"""The official kubernetes client, configured from a kubeconfig file or in-cluster."""

import json
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

# Connections kept open to the API server: one per watched kind (a watch holds its connection)
# plus the status writers (gateway/controller/writes.py) and lease renewals. The client's default
# (5 per CPU) is below that on small nodes, and a full pool opens a new connection per request.
CONNECTION_POOL_SIZE = 32


def kube_client(kubeconfig: str | None) -> Any:
    """An ApiClient from `kubeconfig`, else from the pod's service account."""
    configuration = client.Configuration()
    if kubeconfig:
        config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    else:
        config.load_incluster_config(client_configuration=configuration)
    configuration.connection_pool_maxsize = CONNECTION_POOL_SIZE
    return client.ApiClient(configuration)


def request_json(
    api: Any,
    method: str,
    path: str,
    body: Any = None,
    path_params: dict[str, str] | None = None,
    *,
    reply: bool = True,
) -> Any:
    """One request through the official client's own layers (`ApiClient.param_serialize`, which
    adds the server, authentication and headers, and `ApiClient.call_api`), and its JSON reply
    (None without `reply`: a write whose answer we do not read is not decoded).

    This is what each generated method (`CoreV1Api.replace_namespaced_service_status`, ...)
    does, minus their argument validation and the body's `sanitize_for_serialization` (a walk
    that turns model objects into JSON data: `body` is JSON data already), which together cost
    more CPU than the request itself when a controller writes the status of 10,000 Services.
    Errors raise `ApiException` as they do.
    """
    method, url, headers, _, post_params = api.param_serialize(
        method=method,
        resource_path=path,
        path_params=path_params,
        header_params={"Accept": "application/json", "Content-Type": "application/json"},
        auth_settings=["BearerToken"],
    )
    response = api.call_api(method, url, headers, body, post_params)
    response.read()
    if not 200 <= response.status <= 299:
        raise ApiException.from_response(http_resp=response, body=None, data=None)
    return json.loads(response.data) if reply and response.data else None
