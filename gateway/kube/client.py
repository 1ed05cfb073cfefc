"""The official kubernetes client, configured by client-go's loading rules."""

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

# Connections kept open to the API server: one per watched kind (a watch holds its connection)
# plus the status writers (gateway/controller/writes.py) and lease renewals. The client's default
# (5 per CPU) is below that on small nodes, and a full pool opens a new connection per request.
CONNECTION_POOL_SIZE = 32
#: (connect, read) seconds for every request that does not choose its own. The official client
#: has no default at all, so a half-open connection would stall a list, a status write or a Lease
#: renewal forever. Watches choose their own read timeout (gateway/kube/reflector.py).
REQUEST_TIMEOUT = (5.0, 60.0)


class KubeconfigError(Exception):
    """No usable Kubernetes configuration; the message says what was tried."""


def kubeconfig_source(
    kubeconfig: str | None, env: Mapping[str, str] = os.environ, home: Path | None = None
) -> str | None:
    """Where the configuration comes from, by client-go's loading rules (as kubectl and
    controller-runtime apply them): `--kubeconfig`, then `$KUBECONFIG` (a list of files, merged),
    then the pod's service account, then `~/.kube/config`. None means in-cluster."""
    if kubeconfig:
        return kubeconfig
    if env.get("KUBECONFIG"):
        return env["KUBECONFIG"]
    if env.get("KUBERNETES_SERVICE_HOST") and env.get("KUBERNETES_SERVICE_PORT"):
        return None
    default = (home if home is not None else Path.home()) / ".kube" / "config"
    if default.is_file():
        return str(default)
    raise KubeconfigError(
        "no Kubernetes configuration: pass --kubeconfig, set $KUBECONFIG, run in a pod, "
        f"or create {default}"
    )


def with_default_timeout(api: Any, timeout: tuple[float, float]) -> Any:
    """Make every request of `api` that names no `_request_timeout` use `timeout`."""
    inner = api.rest_client.request

    def request(
        method: str,
        url: str,
        headers: Any = None,
        body: Any = None,
        post_params: Any = None,
        _request_timeout: Any = None,
    ) -> Any:
        return inner(method, url, headers, body, post_params, _request_timeout or timeout)

    api.rest_client.request = request
    return api


def kube_client(
    kubeconfig: str | None,
    env: Mapping[str, str] = os.environ,
    home: Path | None = None,
    request_timeout: tuple[float, float] = REQUEST_TIMEOUT,
    retries: int | None = None,
) -> Any:
    """An ApiClient configured by client-go's loading rules (`kubeconfig_source`), every
    request bounded by `request_timeout` unless it sets its own. `retries`: how often urllib3
    retries a failed connection (None: its default, 3; a Lease renewal that must fail within
    its timeout takes 0)."""
    configuration = client.Configuration()
    source = kubeconfig_source(kubeconfig, env, home)
    try:
        if source is None:
            config.load_incluster_config(client_configuration=configuration)
        else:
            config.load_kube_config(config_file=source, client_configuration=configuration)
    except (ConfigException, OSError) as err:
        where = "in-cluster configuration" if source is None else f"kubeconfig {source}"
        raise KubeconfigError(f"{where}: {err}") from err
    configuration.connection_pool_maxsize = CONNECTION_POOL_SIZE
    if retries is not None:
        configuration.retries = retries
    return with_default_timeout(client.ApiClient(configuration), request_timeout)


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
