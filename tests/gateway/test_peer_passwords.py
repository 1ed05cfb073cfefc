"""The speaker's copy of the BGP passwords, sans-I/O (gateway/peer_passwords.py): the
configuration parsed from the copy is the one parsed from the users' Secrets, errors included,
and the controller's reconciler writes the copy only when it differs."""

import base64
from typing import Any

import pytest

from gateway.controller.reconciler import (
    ControllerReconciler,
    Converge,
    FlushWrites,
    GetStatus,
    IpamStatus,
    ListPools,
    SetPools,
    WritePeerPasswords,
)
from gateway.peer_passwords import COPY_SECRET, copy_data, desired_copy, secrets_from_copy
from gateway.snapshot import Snapshot
from metallb_rules.config.model import ConfigError, TransientConfigError
from metallb_rules.config.parse import parse
from metallb_rules.config.resources import ClusterResources
from tests.gateway.test_controller_reconciler import POOL, FakeSource

NS = "metallb-system"


def peer(name: str, secret: str) -> dict[str, Any]:
    return {
        "apiVersion": "metallb.io/v1beta2",
        "kind": "BGPPeer",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "myASN": 64512,
            "peerASN": 64513,
            "peerAddress": "192.0.2.1",
            "passwordSecret": {"name": secret},
        },
    }


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


BASIC = "kubernetes.io/basic-auth"
SECRETS: dict[str, dict[str, Any] | None] = {
    "data": {"type": BASIC, "data": {"password": b64("s3cret"), "username": b64("u")}},
    "stringData": {"type": BASIC, "stringData": {"password": "s3cret"}},
    "wrong type": {"type": "Opaque", "data": {"password": b64("s3cret")}},
    "no password key": {"type": BASIC, "data": {"username": b64("u")}},
    "not base64": {"type": BASIC, "data": {"password": "%%%"}},
    "not UTF-8": {"type": BASIC, "data": {"password": base64.b64encode(b"\xff").decode()}},
    "missing": None,
}


def user_secrets(case: str) -> dict[str, Any]:
    body = SECRETS[case]
    if body is None:
        return {}
    return {"pw": {"kind": "Secret", "metadata": {"name": "pw", "namespace": NS}, **body}}


def outcome(res: ClusterResources) -> tuple[str, str]:
    """(the peer's password, or the error's class and MetalLB text)."""
    try:
        config = parse(res)
    except ConfigError as err:
        return type(err).__name__, err.message
    [router] = config.peers
    return "password", router.password


@pytest.mark.parametrize("case", sorted(SECRETS))
def test_the_speaker_parses_from_the_copy_what_the_controller_parses_from_the_secret(
    case: str,
) -> None:
    peers = [peer("router", "pw")]
    direct = ClusterResources(peers=list(peers), secrets=user_secrets(case), namespace=NS)
    copy = {"data": desired_copy(peers, user_secrets(case))}
    rebuilt = secrets_from_copy(copy, peers, NS)
    via_copy = ClusterResources(peers=list(peers), secrets=rebuilt, namespace=NS)
    assert outcome(via_copy) == outcome(direct)
    if case in ("data", "stringData"):
        assert outcome(via_copy) == ("password", "s3cret")
    if case == "missing":
        assert outcome(via_copy)[0] == TransientConfigError.__name__


def test_the_copy_is_keyed_by_peer_and_holds_nothing_else() -> None:
    peers = [peer("router", "pw"), peer("backup.dc-1", "pw"), peer("no-secret", "")]
    secrets = {**user_secrets("data"), "other": {"type": BASIC, "data": {"password": b64("x")}}}
    data = desired_copy(peers, secrets)
    assert sorted(data) == ["backup.dc-1", "router"]
    for value in data.values():
        decoded = base64.b64decode(value).decode()
        assert "username" not in decoded and b64("x") not in decoded
    # Stable: the same inputs give the same bytes (no rewrite without a change).
    assert desired_copy(list(reversed(peers)), dict(secrets)) == data


def test_an_entry_for_another_secret_is_not_used() -> None:
    """The peer now names another Secret and the copy is not updated yet: not found (transient),
    never the old Secret's password."""
    copy = {"data": desired_copy([peer("router", "old")], {"old": SECRETS["data"] or {}})}
    rebuilt = secrets_from_copy(copy, [peer("router", "new")], NS)
    assert rebuilt == {}
    assert secrets_from_copy({"data": {"router": "%%%"}}, [peer("router", "old")], NS) == {}


def test_the_node_snapshot_reads_the_copy_only() -> None:
    snap = Snapshot(namespace=NS, peer_passwords=COPY_SECRET)
    snap.add(peer("router", "pw"))
    # A Secret named like the user's but not the copy (the speaker's source never lists one).
    snap.add(user_secrets("data")["pw"])
    assert snap.cluster_resources().secrets == {}
    data = desired_copy([peer("router", "pw")], user_secrets("data"))
    snap.add({"kind": "Secret", "metadata": {"name": COPY_SECRET, "namespace": NS}, "data": data})
    assert outcome(snap.cluster_resources()) == ("password", "s3cret")


def step(reconciler: ControllerReconciler, now: float) -> list[Any]:
    """The timer fired at `now`: the commands issued until the reconciler is idle again, IPAM
    answering as an empty one (no Services)."""
    reconciler.handle_timer(now)
    issued: list[Any] = []
    answers: dict[type, object] = {
        SetPools: None,
        GetStatus: IpamStatus("ipam-1", restore_complete=True),
        Converge: ([], []),
        ListPools: [],
    }
    while commands := reconciler.commands():
        issued += commands
        for command in commands:
            answer = answers.get(type(command))
            reconciler.handle_result(command.request_id, answer, now)
    assert not reconciler.busy
    return issued


def full_pass(reconciler: ControllerReconciler) -> list[Any]:
    commands = step(reconciler, 0.0)
    assert isinstance(commands[0], FlushWrites)
    return commands


def test_the_controller_writes_the_copy_only_when_it_differs() -> None:
    source = FakeSource(POOL, peer("router", "pw"))
    for secret in user_secrets("data").values():
        source.put(secret)
    reconciler = ControllerReconciler(source, copy_peer_passwords=True)
    commands = full_pass(reconciler)
    [write] = [c for c in commands if isinstance(c, WritePeerPasswords)]
    assert any(isinstance(c, SetPools) for c in commands)
    assert set(write.data) == {"router"}
    assert b64("s3cret") not in repr(write) and "s3cret" not in repr(write)
    # The copy as written comes back: nothing to write; its echo costs no full pass.
    copy = {"kind": "Secret", "metadata": {"name": COPY_SECRET, "namespace": NS}}
    source.put({**copy, "data": dict(write.data)})
    reconciler.handle(("Secret", f"{NS}/{COPY_SECRET}"), 1.0)
    quiet = step(reconciler, 2.0)
    assert not [c for c in quiet if isinstance(c, (WritePeerPasswords, FlushWrites))]
    # Someone empties it: written again, still without a full pass.
    source.put({**copy, "data": {}})
    reconciler.handle(("Secret", f"{NS}/{COPY_SECRET}"), 3.0)
    again = step(reconciler, 4.0)
    assert [c.data for c in again if isinstance(c, WritePeerPasswords)] == [write.data]
    assert not [c for c in again if isinstance(c, FlushWrites)]
    assert copy_data(None) == {}


def test_without_the_copy_the_controller_writes_none() -> None:
    """Folder mode: the speaker reads the folder's Secrets itself."""
    source = FakeSource(POOL, peer("router", "pw"))
    for secret in user_secrets("data").values():
        source.put(secret)
    commands = full_pass(ControllerReconciler(source))
    assert not [c for c in commands if isinstance(c, WritePeerPasswords)]
