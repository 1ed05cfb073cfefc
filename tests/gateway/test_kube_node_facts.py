"""A node's published facts in Kubernetes (gateway/kube/node_facts.py), against the fake API
server: created with the status through its subresource, updated, deleted, and pruned to the
peers that still exist, this node's objects only."""

from typing import Any

from gateway.kube.node_facts import KubeFactsWriter
from tests.fakekube.fake import FakeKube

LABELS = {"metallb.io/node": "node-1", "metallb.io/peer": "router"}


def status(state: str) -> dict[str, Any]:
    return {"node": "node-1", "peer": "192.0.2.1", "bgpStatus": state, "bfdStatus": "N/A"}


def test_write_update_delete_and_prune() -> None:
    with FakeKube() as kube:
        api = kube.api_client()
        writer = KubeFactsWriter(api, "metallb-system", "node-1", ("speaker-x", "uid-1"))
        writer.write_fact("bgpsessionstates", "node-1.router", LABELS, status("Active"))
        obj = kube.get("bgpsessionstates.metallb.io", "node-1.router", "metallb-system")
        assert obj["status"] == status("Active")
        assert obj["metadata"]["labels"] == LABELS
        assert obj["metadata"]["ownerReferences"][0]["name"] == "speaker-x"
        writer.write_fact("bgpsessionstates", "node-1.router", LABELS, status("Established"))
        obj = kube.get("bgpsessionstates.metallb.io", "node-1.router", "metallb-system")
        assert obj["status"]["bgpStatus"] == "Established"
        writes = writer.writes
        writer.write_fact("bgpsessionstates", "node-1.router", LABELS, status("Established"))
        assert writer.writes == writes  # unchanged: nothing written
        # Another node's object and a stale one of ours.
        other = KubeFactsWriter(api, "metallb-system", "node-2")
        other.write_fact(
            "bgpsessionstates", "node-2.router", {"metallb.io/node": "node-2"}, status("Idle")
        )
        writer.write_fact("bgpsessionstates", "node-1.gone", LABELS, status("Idle"))
        writer.prune("bgpsessionstates", frozenset({"node-1.router"}))
        names = sorted(
            o["metadata"]["name"]
            for o in kube.list("bgpsessionstates.metallb.io", "metallb-system")
        )
        assert names == ["node-1.router", "node-2.router"]
        writer.write_fact("bgpsessionstates", "node-1.router", LABELS, None)
        assert kube.find("bgpsessionstates.metallb.io", "node-1.router", "metallb-system") is None
        api.close()
