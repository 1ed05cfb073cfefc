"""The human format of `explain`, against a text written by hand for what an operator must
read when one BGP session of one node is down (tests/explain/golden/)."""

from pathlib import Path

from metallb_cli.explain import explain
from metallb_cli.render import render_report
from tests.explain.cluster import World, session

GOLDEN = Path(__file__).parent / "golden"


def test_a_session_down_reads_as_written() -> None:
    world = World()
    down = session("node-2", "router", "192.0.2.1", "Active")
    down["lastError"] = "connection refused"
    world.facts[("bgpsessionstates", "node-2.router")] = down
    text = render_report(explain(world.pure(), "demo/api"), width=100)
    assert text == (GOLDEN / "api-session-down.txt").read_text()
    assert max(len(line) for line in text.splitlines()) <= 100


def test_colour_only_when_asked() -> None:
    report = explain(World().pure(), "demo/web")
    assert "\033[" not in render_report(report)
    assert "\033[32m[ok]\033[0m" in render_report(report, colour=True)
