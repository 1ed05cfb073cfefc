"""The readers of `explain` and `status` (metallb_cli/explain.py, metallb_cli/status.py):
everything they look at, from a cluster or from `metallb-grpc up`'s folder, as one `Facts`.

A cluster: kubeconfig as every Kubernetes tool finds it (gateway/kube/client.py: --kubeconfig,
$KUBECONFIG, in-cluster, ~/.kube/config), one list per kind (no watch): what the gateway reads,
plus the roles' status objects, the node Leases and the nodes' published facts. A kind the user
may not list (403) is left out, and said so in `Facts.source`.

A folder: the manifests with the status the gateway wrote under `.status/` merged back
(gateway/folder.py), plus every status object under `.status/` (ConfigurationState,
ServiceL2Status, ServiceBGPStatus, BGPSessionState, L2NodeState, IPAddressPool status). Every
Node counts as alive there, as `up`'s node role counts them.
"""

import datetime
import json
from pathlib import Path
from typing import Any

import yaml

from gateway.folder import read_folder
from gateway.manifests import STATUS_DIR
from gateway.snapshot import Snapshot
from metallb_cli.explain import Facts

#: The status objects under a folder's `.status/` (plural folder -> kind).
STATUS_KINDS = {
    "configurationstates": "ConfigurationState",
    "servicel2statuses": "ServiceL2Status",
    "servicebgpstatuses": "ServiceBGPStatus",
    "bgpsessionstates": "BGPSessionState",
    "l2nodestates": "L2NodeState",
    "ipaddresspools": "IPAddressPoolStatus",
}


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def read_folder_facts(folder: Path, namespace: str = "metallb-system", lb_class: str = "") -> Facts:
    snap = read_folder(folder, namespace)
    for plural, kind in STATUS_KINDS.items():
        base = folder / STATUS_DIR / plural
        for path in sorted(base.rglob("*.yaml")) if base.is_dir() else ():
            try:
                obj = yaml.safe_load(path.read_text())
            except (OSError, yaml.YAMLError):
                continue  # being rewritten (by rename) or gone: the next read has it
            if not isinstance(obj, dict):
                continue
            obj = {**obj, "kind": kind}
            meta = dict(obj.get("metadata") or {})
            # Unique keys: the folder names some objects by their path only.
            meta["name"] = meta.get("name") or str(path.relative_to(base).with_suffix(""))
            meta.pop("namespace", None) if kind == "IPAddressPoolStatus" else None
            obj["metadata"] = meta
            snap.add(obj)
    return Facts(snap, now(), leases=False, lb_class=lb_class, source=f"folder {folder}")


#: Kinds read from a cluster beyond what the gateway reads: (kind, version, plural).
_STATUS_RESOURCES = (
    ("ServiceL2Status", "v1beta1", "servicel2statuses"),
    ("ServiceBGPStatus", "v1beta1", "servicebgpstatuses"),
    ("BGPSessionState", "v1beta1", "bgpsessionstates"),
    ("L2NodeState", "v1beta1", "l2nodestates"),
)


def read_cluster_facts(
    kubeconfig: str | None, namespace: str = "metallb-system", lb_class: str = ""
) -> Facts:
    from kubernetes import client  # noqa: PLC0415 (the folder needs no Kubernetes client)
    from kubernetes.client.exceptions import ApiException  # noqa: PLC0415

    from gateway.kube.client import kube_client  # noqa: PLC0415
    from gateway.kube.source import METALLB_GROUP, list_functions  # noqa: PLC0415

    api: Any = kube_client(kubeconfig)
    custom = client.CustomObjectsApi(api)
    functions = [(f.kind, f.list_fn) for f in list_functions(api, namespace, leases=True)]
    for kind, version, plural in _STATUS_RESOURCES:

        def crs(version: str = version, plural: str = plural, **kw: Any) -> Any:
            return custom.list_namespaced_custom_object(
                METALLB_GROUP, version, namespace, plural, **kw
            )

        functions.append((kind, crs))
    snap = Snapshot(namespace=namespace)
    missing = []
    for kind, list_fn in functions:
        try:
            response = list_fn(_preload_content=False)
        except ApiException as err:
            if err.status in (403, 404):  # not allowed, or the CRD is not installed
                missing.append(kind)
                continue
            raise
        for item in json.loads(response.data).get("items") or []:
            snap.add({**item, "kind": kind})
    source = "cluster" + (f" (not readable: {', '.join(missing)})" if missing else "")
    return Facts(
        snap, now(), leases=True, lb_class=lb_class, source=source, unreadable=tuple(missing)
    )
