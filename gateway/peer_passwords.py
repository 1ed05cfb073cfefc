"""The speaker's copy of the BGP passwords: one Secret the controller owns (sans-I/O).

Why: a BGPPeer's `passwordSecret` may name any Secret of the MetalLB namespace, so a speaker that
reads them itself must be allowed to read every Secret there (MetalLB's speaker is). Instead the
controller, which reads them anyway, copies what each peer needs into one Secret,
`metallb-speaker-bgp-passwords`, and the speaker may read that one only, by name
(docs/security.md, "Secrets").

The copy holds, per peer (data key: the peer's name, a DNS-1123 subdomain, so a valid and stable
Secret data key), the part of the Secret it names that MetalLB's rules read (reference §2,
"passwordSecret checks"): its name, its `type`, and its `password` key as the user wrote it
(`data`, still base64, or `stringData`), as JSON. The speaker rebuilds that Secret from the copy
(`secrets_from_copy`) and parses the configuration with it where it used the users' Secrets, so
every rule and every error text (secret not found, type mismatch, password not specified, not
base64) stays MetalLB's, computed by `metallb_rules.config.parse` on both roles. A peer whose
Secret does not exist has no entry (the speaker then finds it missing too); an entry naming
another Secret than the peer's current `passwordSecret` (a copy not yet updated) is ignored.

Nothing here logs or formats a password; `desired_copy` and `secrets_from_copy` are plain
functions of their inputs.
"""

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from metallb_rules.config.resources import RawObject, name_of, spec_of

COPY_SECRET = "metallb-speaker-bgp-passwords"
COPY_LABELS = {"app.kubernetes.io/managed-by": "metallb-controller"}
# Kubernetes' rule for a Secret data key (IsConfigMapKey): at most 253 of these characters.
_DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")

CopyData = dict[str, str]  # Secret `data`: peer name -> base64 of the entry's JSON


def secret_ref(peer: RawObject) -> str:
    """The name in `spec.passwordSecret`, empty when there is none."""
    ref = spec_of(peer).get("passwordSecret")
    return str(ref.get("name") or "") if isinstance(ref, Mapping) else ""


def _entry(name: str, secret: RawObject) -> dict[str, Any]:
    entry: dict[str, Any] = {"secret": name, "type": secret.get("type")}
    for field in ("data", "stringData"):
        values = secret.get(field)
        if isinstance(values, Mapping) and "password" in values:
            entry[field] = {"password": values["password"]}
    return entry


def desired_copy(peers: Iterable[RawObject], secrets: Mapping[str, RawObject]) -> CopyData:
    """The copy's `data` for these BGPPeers and the Secrets of the namespace (by name)."""
    out: CopyData = {}
    for peer in peers:
        name, ref = name_of(peer), secret_ref(peer)
        secret = secrets.get(ref) if ref else None
        if secret is None or not _DATA_KEY.match(name):
            continue
        text = json.dumps(_entry(ref, secret), sort_keys=True, separators=(",", ":"))
        out[name] = base64.b64encode(text.encode()).decode()
    return out


def copy_data(copy: RawObject | None) -> CopyData:
    """The `data` of the copy as read (empty when it does not exist)."""
    data = (copy or {}).get("data")
    if not isinstance(data, Mapping):
        return {}
    return {str(k): str(v) for k, v in data.items()}


def _decode(value: str) -> Mapping[str, Any] | None:
    try:
        entry = json.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        return None
    return entry if isinstance(entry, Mapping) else None


def secrets_from_copy(
    copy: RawObject | None, peers: Iterable[RawObject], namespace: str
) -> dict[str, RawObject]:
    """The Secrets the peers name, rebuilt from the copy: what `ClusterResources.secrets` held
    when the speaker read the users' Secrets (as far as MetalLB's rules look at them)."""
    data = copy_data(copy)
    out: dict[str, RawObject] = {}
    for peer in peers:
        ref = secret_ref(peer)
        entry = _decode(data.get(name_of(peer), "")) if ref else None
        if entry is None or entry.get("secret") != ref or ref in out:
            continue
        secret: dict[str, Any] = {
            "kind": "Secret",
            "metadata": {"name": ref, "namespace": namespace},
            "type": entry.get("type"),
        }
        for field in ("data", "stringData"):
            if isinstance(entry.get(field), Mapping):
                secret[field] = dict(entry[field])
        out[ref] = secret
    return out
