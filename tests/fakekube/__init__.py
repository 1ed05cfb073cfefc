"""An in-process fake Kubernetes API server for tests, spoken to by the real `kubernetes` client.

Usage::

    from tests.fakekube import FakeKube

    with FakeKube() as kube, kube.api_client() as client:
        core = kubernetes.client.CoreV1Api(client)
        ...

or the `fake_kube` / `kube_api_client` fixtures (`from tests.fakekube.fixtures import ...` in a
conftest). The server listens on 127.0.0.1 (ephemeral port, plain HTTP, optional fixed bearer
token) and serves the REST paths of the kinds in `kinds.DEFAULT_KINDS` (core services,
namespaces, nodes, secrets, events, endpoints; endpointslices, leases, events.k8s.io events;
validatingwebhookconfigurations, customresourcedefinitions (stored only: a CRD serves nothing
new); every metallb.io kind; more kinds are one `ResourceKind` row each). Namespaces `default`,
`kube-system` and `metallb-system` exist from the start.

Hooks for the failure paths a gateway must survive:

* `compact()` forgets the watch history: watching from an older resourceVersion gets 410;
  `FakeKube(history_limit=N)` trims it on its own;
* `close_watches()` ends every open watch stream (the client reconnects);
* `inject_failure(code, times=, method=, path=, watch=)` fails matching requests;
* `add_validator(ref, fn)` rejects creates/updates with 422 Invalid (for CRD schema rules);
* `requests` / `requests_to(method, path_regex)` record what the client sent;
* `create/get/find/list/update/update_status/patch/delete` seed and inspect the store
  directly (they produce watch events like API writes); `wait_for(condition)` polls;
  `wait_for_watches(n)` waits for n open watch streams; `api_status(exc)` decodes the
  `Status` body of a client `ApiException`.

Known differences from a real apiserver (deliberate, to stay small):

* objects are stored once per (group, resource, namespace, name); other served versions only
  rewrite apiVersion (no conversion: bgppeers v1beta1 and v1beta2 share one body);
* strategic merge patch is applied as a JSON merge patch (lists replaced, not merged by key);
  server-side apply is a create-or-merge-patch without field ownership;
* core/v1 and events.k8s.io/v1 events are separate stores; no defaulting, no OpenAPI schema
  validation (use `add_validator`), no managedFields, no dryRun (refused with 400), no
  resourceVersionMatch / sendInitialEvents; namespace deletion is immediate and cascades;
* list and get ignore the requested resourceVersion and serve the latest state.
"""

from .errors import KubeError, status_object
from .fake import DEFAULT_NAMESPACES, FakeKube, api_status, wait_for
from .kinds import DEFAULT_KINDS, METALLB_GROUP, KindRegistry, ResourceKind
from .server import Fault, RequestRecord
from .store import FieldCause, ObjectStore, Validator, WatchEvent

__all__ = [
    "DEFAULT_KINDS",
    "DEFAULT_NAMESPACES",
    "METALLB_GROUP",
    "FakeKube",
    "Fault",
    "FieldCause",
    "KindRegistry",
    "KubeError",
    "ObjectStore",
    "RequestRecord",
    "ResourceKind",
    "Validator",
    "WatchEvent",
    "api_status",
    "status_object",
    "wait_for",
]
