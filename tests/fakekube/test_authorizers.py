"""Per-token authorizers: the request's attributes (verb, group, resource, namespace, name) as the
API server's authorizer sees them, a refusal answered 403 Forbidden."""

from collections.abc import Callable
from typing import Any

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException

from tests.fakekube import FakeKube
from tests.fakekube.fake import Access


def test_a_token_is_held_to_its_authorizer_and_others_are_not() -> None:
    seen: list[Access] = []

    def only_one_secret(access: Access) -> bool:
        seen.append(access)
        return access.resource == "secrets" and access.name == "mine" and access.verb != "delete"

    with FakeKube(authorizers={"limited": only_one_secret}) as kube:
        for name in ("mine", "theirs"):
            meta = {"name": name, "namespace": "default"}
            kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": meta})
        limited, admin = kube.api_client("limited"), kube.api_client()
        core: Any = kubernetes.client.CoreV1Api(limited)
        assert core.read_namespaced_secret("mine", "default").metadata.name == "mine"
        listed = core.list_namespaced_secret("default", field_selector="metadata.name=mine")
        assert [s.metadata.name for s in listed.items] == ["mine"]
        refused: list[Callable[[], object]] = [
            lambda: core.read_namespaced_secret("theirs", "default"),
            lambda: core.list_namespaced_secret("default"),
            lambda: core.list_namespaced_secret("default", field_selector="metadata.name=theirs"),
            lambda: core.delete_namespaced_secret("mine", "default"),
            lambda: core.list_namespaced_service("default"),
        ]
        for call in refused:
            with pytest.raises(ApiException) as err:
                call()
            assert err.value.status == 403
        assert [(a.verb, a.name) for a in seen[:3]] == [
            ("get", "mine"),
            ("list", "mine"),
            ("get", "theirs"),
        ]
        assert seen[0] == Access("get", "", "secrets", "default", "mine")
        # Without the token: not checked.
        assert len(kubernetes.client.CoreV1Api(admin).list_namespaced_secret("default").items) == 2
        limited.close()
        admin.close()
