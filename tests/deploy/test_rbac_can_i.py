"""`kubectl auth can-i`, over the rendered manifests: who may read the webhook CA's key and
write the controller's Lease (issue 15: the speaker's service account could do both).

RBAC is evaluated as the API server's authorizer does (rules are only additive; a rule with
resourceNames never authorizes create, whose name is unknown at authorization); what RBAC
cannot express, the ValidatingAdmissionPolicies of the manifests refuse: their CEL is run here
with cel-python on the AdmissionRequest the API server would build.
"""

from typing import Any

import celpy
import pytest
from celpy.adapter import json_to_cel

from tests.deploy.conftest import OVERLAYS, rendered

Obj = dict[str, Any]

SPEAKER = ("metallb-system", "speaker")
CONTROLLER = ("metallb-system", "controller")
NODE_NAME_CLAIM = "authentication.kubernetes.io/node-name"


def _rules(docs: list[Obj], account: tuple[str, str], namespace: str) -> list[Obj]:
    """The rules granted to a service account in `namespace` (cluster-wide ones included)."""
    roles = {
        (d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d
        for d in docs
        if d["kind"] in ("Role", "ClusterRole")
    }
    rules: list[Obj] = []
    for binding in (d for d in docs if d["kind"] in ("RoleBinding", "ClusterRoleBinding")):
        subjects = {
            (s.get("namespace"), s["name"])
            for s in binding.get("subjects", [])
            if s["kind"] == "ServiceAccount"
        }
        if account not in subjects:
            continue
        scope = binding["metadata"].get("namespace")
        if binding["kind"] == "RoleBinding" and scope != namespace:
            continue
        ref = binding["roleRef"]
        role_ns = scope if ref["kind"] == "Role" else None
        rules += roles[(ref["kind"], role_ns, ref["name"])]["rules"]
    return rules


def can_i(
    docs: list[Obj],
    account: tuple[str, str],
    verb: str,
    resource: str,
    namespace: str,
    *,
    name: str = "",
    group: str = "",
) -> bool:
    for rule in _rules(docs, account, namespace):
        names = rule.get("resourceNames")
        if (
            group in rule["apiGroups"]
            and resource in rule["resources"]
            and verb in rule["verbs"]
            and (not names or (verb != "create" and name in names))
        ):
            return True
    return False


_ENV = celpy.Environment()


def admitted(docs: list[Obj], request: Obj) -> bool:
    """Whether every matching ValidatingAdmissionPolicy (with a Deny binding) admits `request`."""
    bound = {
        d["spec"]["policyName"]
        for d in docs
        if d["kind"] == "ValidatingAdmissionPolicyBinding"
        and "Deny" in d["spec"]["validationActions"]
    }
    activation = {"request": json_to_cel(request)}
    for policy in (d for d in docs if d["kind"] == "ValidatingAdmissionPolicy"):
        if policy["metadata"]["name"] not in bound:
            continue
        spec = policy["spec"]
        constraints = spec["matchConstraints"]
        labels = constraints["namespaceSelector"]["matchLabels"]
        if labels != {"kubernetes.io/metadata.name": request["namespace"]}:
            continue
        if not any(
            request["resource"]["group"] in r["apiGroups"]
            and request["resource"]["resource"] in r["resources"]
            and request["operation"] in r["operations"]
            for r in constraints["resourceRules"]
        ):
            continue
        conditions = [c["expression"] for c in spec.get("matchConditions", [])]
        if not all(_ENV.program(_ENV.compile(c)).evaluate(activation) for c in conditions):
            continue
        for validation in spec["validations"]:
            program = _ENV.program(_ENV.compile(validation["expression"]))
            if not program.evaluate(activation):
                return False
    return True


def lease_write(
    account: tuple[str, str], name: str, operation: str = "UPDATE", node: str | None = None
) -> Obj:
    extra = {NODE_NAME_CLAIM: [node]} if node else {}
    return {
        "operation": operation,
        "namespace": "metallb-system",
        "name": name,
        "resource": {"group": "coordination.k8s.io", "version": "v1", "resource": "leases"},
        "userInfo": {
            "username": f"system:serviceaccount:{account[0]}:{account[1]}",
            "groups": ["system:serviceaccounts"],
            "extra": extra,
        },
    }


@pytest.fixture(params=OVERLAYS)
def docs(request: pytest.FixtureRequest) -> list[Obj]:
    return rendered(request.param)


def test_only_the_controller_reads_or_writes_the_webhook_certificate(docs: list[Obj]) -> None:
    [secret] = [
        d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "metallb-webhook-cert"
    ]
    where = secret["metadata"]["namespace"]
    accounts = {
        (d["metadata"]["namespace"], d["metadata"]["name"])
        for d in docs
        if d["kind"] == "ServiceAccount"
    } | {("monitoring", "prometheus-k8s")}
    readers = {
        account
        for account in accounts
        for verb in ("get", "list", "watch")
        if can_i(docs, account, verb, "secrets", where, name="metallb-webhook-cert")
    }
    assert readers == {CONTROLLER}
    assert can_i(docs, CONTROLLER, "update", "secrets", where, name="metallb-webhook-cert")
    assert can_i(docs, CONTROLLER, "create", "secrets", where)
    assert not can_i(docs, SPEAKER, "create", "secrets", where)
    # What the speaker still reads, and why: BGPPeer passwordSecrets, named by the peers.
    assert can_i(docs, SPEAKER, "list", "secrets", "metallb-system")
    assert where != "metallb-system"


@pytest.mark.parametrize(
    "case",
    [
        (SPEAKER, "metallb-grpc-node-n1", "UPDATE", None, True),
        (SPEAKER, "metallb-grpc-node-n1", "CREATE", "n1", True),
        (SPEAKER, "metallb-grpc-node-n1", "UPDATE", "n1", True),
        (SPEAKER, "metallb-grpc-controller", "UPDATE", None, False),
        (SPEAKER, "metallb-grpc-controller", "UPDATE", "n1", False),
        (SPEAKER, "metallb-grpc-controller", "CREATE", "n1", False),
        (SPEAKER, "metallb-grpc-node-n2", "UPDATE", "n1", False),
        (SPEAKER, "some-other-lease", "CREATE", None, False),
        (CONTROLLER, "metallb-grpc-controller", "UPDATE", None, True),
        (CONTROLLER, "metallb-grpc-controller", "CREATE", None, True),
    ],
)
def test_the_speaker_writes_only_its_own_node_lease(
    docs: list[Obj], case: tuple[tuple[str, str], str, str, str | None, bool]
) -> None:
    """(account, Lease name, operation, node named in the token, admitted)."""
    account, name, operation, node, allowed = case
    verb = operation.lower()
    authorized = can_i(
        docs, account, verb, "leases", "metallb-system", name=name, group="coordination.k8s.io"
    )
    assert authorized, "RBAC lets both write Leases: the policy is what refuses"
    request = lease_write(account, name, operation, node)
    assert admitted(docs, request) is allowed


def test_the_lease_policy_covers_every_write_of_the_speaker(docs: list[Obj]) -> None:
    """Every Lease verb RBAC grants the speaker is one the policy sees."""
    writes = {
        v
        for r in _rules(docs, SPEAKER, "metallb-system")
        if "leases" in r["resources"]
        for v in r["verbs"]
        if v not in ("get", "list", "watch")
    }
    assert writes <= {"create", "update", "delete"}
    assert not can_i(
        docs, SPEAKER, "patch", "leases", "metallb-system", name="x", group="coordination.k8s.io"
    )
    for op in writes:
        request = lease_write(SPEAKER, "metallb-grpc-controller", op.upper())
        assert not admitted(docs, request)
