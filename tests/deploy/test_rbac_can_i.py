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

from gateway.peer_passwords import COPY_SECRET
from tests.conftest import ROOT
from tests.deploy.conftest import OVERLAYS, rendered

Obj = dict[str, Any]

SPEAKER = ("metallb-system", "speaker")
CONTROLLER = ("metallb-system", "controller")
NODE_NAME_CLAIM = "authentication.kubernetes.io/node-name"


def _subject_is(subject: Obj, account: tuple[str, str]) -> bool:
    """Whether a binding's subject names this service account: by itself, as the user
    `system:serviceaccount:NS:NAME`, or through the groups every service account token carries
    (`system:serviceaccounts`, `system:serviceaccounts:NS`, `system:authenticated`)."""
    namespace, name = account
    kind, who = subject["kind"], subject["name"]
    if kind == "ServiceAccount":
        return (subject.get("namespace"), who) == account
    if kind == "User":
        return bool(who == f"system:serviceaccount:{namespace}:{name}")
    if kind == "Group":
        return who in (
            "system:serviceaccounts",
            f"system:serviceaccounts:{namespace}",
            "system:authenticated",
        )
    raise AssertionError(f"unknown subject kind {kind}")


def _rules(docs: list[Obj], account: tuple[str, str], namespace: str) -> list[Obj]:
    """The rules granted to a service account in `namespace` (cluster-wide ones included)."""
    roles = {
        (d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d
        for d in docs
        if d["kind"] in ("Role", "ClusterRole")
    }
    # An aggregated ClusterRole's rules are filled in by the API server: not evaluated here.
    assert not any("aggregationRule" in role for role in roles.values())
    rules: list[Obj] = []
    for binding in (d for d in docs if d["kind"] in ("RoleBinding", "ClusterRoleBinding")):
        if not any(_subject_is(s, account) for s in binding.get("subjects", [])):
            continue
        scope = binding["metadata"].get("namespace")
        if binding["kind"] == "RoleBinding" and scope != namespace:
            continue
        ref = binding["roleRef"]
        role_ns = scope if ref["kind"] == "Role" else None
        role = roles.get((ref["kind"], role_ns, ref["name"]))
        if role is not None:  # a binding to a missing role grants nothing
            rules += role.get("rules") or []
    return rules


def _matches(values: list[str], value: str) -> bool:
    return "*" in values or value in values


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
    """The RBAC authorizer's answer (rbac/v1 RuleAllows): a rule allows a request when its
    apiGroups, resources and verbs match (`*` matches any) and, if it lists resourceNames, the
    request names one of them; a create, a list or a watch without a name never does."""
    for rule in _rules(docs, account, namespace):
        if "nonResourceURLs" in rule and "resources" not in rule:
            continue
        names = rule.get("resourceNames")
        if (
            _matches(rule["apiGroups"], group)
            and _matches(rule["resources"], resource)
            and _matches(rule["verbs"], verb)
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
    # The one Secret the speaker reads: the controller's copy of the BGP passwords.
    assert can_i(docs, SPEAKER, "list", "secrets", "metallb-system", name=COPY_SECRET)
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


def _pod_account(docs: list[Obj], kind: str, name: str) -> tuple[str, str]:
    """The service account a workload's pods run as, read from the rendered manifests."""
    [workload] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return workload["metadata"]["namespace"], workload["spec"]["template"]["spec"][
        "serviceAccountName"
    ]


def test_the_accounts_checked_are_the_ones_the_pods_run_as(docs: list[Obj]) -> None:
    """The checks above (and the policy's match on the speaker's user name) hold for the pods
    only if the pods run as these accounts: a rename would silently disable the policy."""
    assert _pod_account(docs, "DaemonSet", "speaker") == SPEAKER
    assert _pod_account(docs, "Deployment", "controller") == CONTROLLER


SECRET_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")


def test_the_speaker_reads_only_the_copy_of_the_bgp_passwords(docs: list[Obj]) -> None:
    """The speaker may get, list and watch one Secret, the controller's copy of the BGP passwords
    (a list or a watch only with the field selector `metadata.name=` its name), and write none:
    no other Secret of metallb-system (a user's BGP password, any Secret kept there), nor an
    unnamed list or watch of them all, nor any Secret of another namespace."""
    namespaces = {d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"}
    namespaces |= {"metallb-system", "default", "kube-system", "monitoring"}
    names = {d["metadata"]["name"] for d in docs if d["kind"] == "Secret"}
    names |= {"", "bgp-password", "memberlist", "any", COPY_SECRET}
    granted = {
        (namespace, verb, name)
        for namespace in namespaces
        for verb in SECRET_VERBS
        for name in names
        if can_i(docs, SPEAKER, verb, "secrets", namespace, name=name)
    }
    assert granted == {("metallb-system", v, COPY_SECRET) for v in ("get", "list", "watch")}


def test_the_controller_keeps_the_copy_of_the_bgp_passwords(docs: list[Obj]) -> None:
    """It reads every Secret of metallb-system (the peers' passwordSecrets), creates the copy
    (create cannot be limited by name) and rewrites that one by name only."""
    ns = "metallb-system"
    assert can_i(docs, CONTROLLER, "list", "secrets", ns)
    assert can_i(docs, CONTROLLER, "watch", "secrets", ns)
    assert can_i(docs, CONTROLLER, "create", "secrets", ns)
    for verb in ("get", "update"):
        assert can_i(docs, CONTROLLER, verb, "secrets", ns, name=COPY_SECRET)
        assert not can_i(docs, CONTROLLER, verb, "secrets", ns, name="bgp-password")
    assert not can_i(docs, CONTROLLER, "delete", "secrets", ns, name=COPY_SECRET)


def _speaker_rules(docs: list[Obj]) -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) the speaker is granted, in metallb-system or cluster-wide."""
    return {
        (group, resource, verb)
        for rule in _rules(docs, SPEAKER, "metallb-system")
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def _documented_speaker_rules() -> set[tuple[str, str, str]]:
    """The table "Why each speaker rule is there" of docs/security.md, expanded."""
    text = (ROOT / "docs" / "security.md").read_text()
    section = text.split("### Why each speaker rule is there", 1)[1].split("\n#", 1)[0]
    out = set()
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or cells[0] in ("API group", "---"):
            continue
        group = "" if cells[0] == "core" else cells[0]
        for resource in cells[1].replace("`", "").split(", "):
            for verb in cells[2].split(", "):
                out.add((group, resource, verb))
    return out


def test_every_speaker_rule_is_documented_and_nothing_more() -> None:
    """docs/security.md says why the speaker has each rule; a rule added (or dropped) in
    deploy/ without the docs fails here, over every overlay."""
    documented = _documented_speaker_rules()
    assert documented
    for name in OVERLAYS:
        assert _speaker_rules(rendered(name)) == documented, name


# ------------------------------------------------------------------ the evaluator itself
# Kubernetes' documented RBAC semantics (kubernetes.io/docs/reference/access-authn-authz/rbac),
# on small hand-written manifests, so that the checks above rest on a faithful authorizer.

A = ("team-a", "app")


def _role(kind: str, name: str, rules: list[Obj], namespace: str | None = None) -> Obj:
    meta = {"name": name} | ({"namespace": namespace} if namespace else {})
    return {"kind": kind, "metadata": meta, "rules": rules}


def _binding(kind: str, role: tuple[str, str], subject: Obj, namespace: str | None = None) -> Obj:
    meta = {"name": f"b-{role[1]}"} | ({"namespace": namespace} if namespace else {})
    return {
        "kind": kind,
        "metadata": meta,
        "roleRef": {"kind": role[0], "name": role[1]},
        "subjects": [subject],
    }


SA_A = {"kind": "ServiceAccount", "name": "app", "namespace": "team-a"}


def test_evaluator_resource_names_never_cover_create_or_an_unnamed_list() -> None:
    docs = [
        _role(
            "Role",
            "one",
            [
                {
                    "apiGroups": [""],
                    "resources": ["configmaps"],
                    "resourceNames": ["x"],
                    "verbs": ["get", "create", "list", "update"],
                }
            ],
            "team-a",
        ),
        _binding("RoleBinding", ("Role", "one"), SA_A, "team-a"),
    ]
    assert can_i(docs, A, "get", "configmaps", "team-a", name="x")
    assert can_i(docs, A, "update", "configmaps", "team-a", name="x")
    assert not can_i(docs, A, "get", "configmaps", "team-a", name="y")
    assert not can_i(docs, A, "create", "configmaps", "team-a", name="x")
    assert not can_i(docs, A, "list", "configmaps", "team-a")  # list without a fieldSelector
    assert can_i(docs, A, "list", "configmaps", "team-a", name="x")  # metadata.name=x
    assert not can_i(docs, A, "get", "configmaps", "team-b", name="x")
    assert not can_i(docs, A, "get", "secrets", "team-a", name="x")


def test_evaluator_scopes_a_role_binding_to_its_namespace_a_cluster_binding_to_all() -> None:
    secrets = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]
    pods = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
    docs = [
        _role("ClusterRole", "secrets", secrets),
        _binding("RoleBinding", ("ClusterRole", "secrets"), SA_A, "team-a"),
        _role("ClusterRole", "all", pods),
        _binding(
            "ClusterRoleBinding",
            ("ClusterRole", "all"),
            {"kind": "Group", "name": "system:serviceaccounts:team-b"},
        ),
    ]
    assert can_i(docs, A, "list", "secrets", "team-a")
    assert not can_i(docs, A, "list", "secrets", "team-b")
    b = ("team-b", "worker")
    assert can_i(docs, b, "delete", "leases", "anywhere", group="coordination.k8s.io")
    assert not can_i(docs, A, "delete", "leases", "anywhere", group="coordination.k8s.io")
    # A RoleBinding in another namespace, or one to a Role that does not exist, grants nothing.
    docs.append(_binding("RoleBinding", ("Role", "missing"), SA_A, "team-a"))
    assert not can_i(docs, A, "get", "pods", "team-a")
