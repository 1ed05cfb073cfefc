"""Against a running `metallb-grpc up`: its summary once it serves, then `explain` and `status`
reading the facts its own node role published (the example announces on an interface that does
not exist, so explain must say the L2 chain breaks there: MetalLB's announceFailed)."""

import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from metallb_cli.explain import explain
from metallb_cli.facts_readers import read_folder_facts
from metallb_cli.status import Summary, status_summary, up_summary
from tests.conftest import copy_manifests, require_binary, require_root
from tests.fakekube.fake import wait_for


def test_up_prints_a_summary_and_explain_reads_its_facts(tmp_path: Path) -> None:
    require_root("up's L2 and BGP services open raw sockets")
    folder = copy_manifests(tmp_path / "manifests")
    sockets = Path(tempfile.mkdtemp(prefix="mlb-"))  # a short path (unix socket limit)
    proc = subprocess.Popen(
        [require_binary("metallb-grpc"), "up", "--manifests", str(folder), "--node", "node-1",
         "--socket-dir", str(sockets / "run"), "--metrics-listen", ""],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].startswith("             metallb-grpc explain"):
            line = proc.stdout.readline()
            assert line, "up ended before its summary"
            lines.append(line.rstrip("\n"))
        summary = lines[lines.index(f"metallb-grpc up: serving {folder} as node node-1") :]
        assert summary[1:3] == [
            "  pools      default: IPv4 1/16, IPv6 1/16 in use",
            "             reserved: IPv4 1/11 in use",
        ]
        assert summary[3:7] == [
            "  services   3 allocated",
            "             demo/dns      198.51.100.10",
            "             demo/dns-tcp  198.51.100.10",
            "             demo/web      192.0.2.0, 2001:db8:1::",
        ]
        assert summary[7].startswith("  peers      router 127.0.0.1: ")
        assert summary[8] == f"  sockets    {sockets}/run/{{ipam,bfd,bgp,l2}}.sock"
        assert summary[9] == f"  try        metallb-grpc status --manifests {folder}"
        l2_state = folder / ".status" / "l2nodestates" / "node-1.yaml"
        wait_for(l2_state.exists, timeout=30, message="node-1's L2NodeState")
        report = explain(read_folder_facts(folder), "demo/web")
        assert report.breaks is not None
        assert (report.breaks.topic, report.breaks.text) == (
            "interfaces",
            "none of the L2Advertisement's interfaces can answer ARP on node-1 (mlbdemo0: does "
            "not exist): MetalLB's announceFailed",
        )
        status = status_summary(read_folder_facts(folder))
        assert [(a.ip, a.node, a.answering_on) for a in status.l2] == [
            ("192.0.2.0", "node-1", ()),
            ("2001:db8:1::", "node-1", ()),
        ]
        assert [(s.peer, s.node) for s in status.sessions] == [("router", "node-1")]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        shutil.rmtree(sockets, ignore_errors=True)


@pytest.mark.parametrize(
    ("sockets", "want"),
    [
        ({"ipam": "unix:/r/ipam.sock", "l2": "unix:/r/l2.sock"}, "/r/{ipam,l2}.sock"),
        ({"ipam": "127.0.0.1:50051", "l2": "unix:/r/l2.sock"}, "/r/l2.sock"),
    ],
)
def test_the_summary_names_the_sockets_compactly(sockets: dict[str, str], want: str) -> None:
    text = up_summary(Summary("test"), folder="f", node="n", sockets=sockets, services={}, peers={})
    assert f"  sockets    {want}" in text
    assert "  services   0 allocated" in text
    assert "             metallb-grpc explain --manifests f NAMESPACE/NAME" in text
