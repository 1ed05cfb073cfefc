"""The human format of `explain` (and the colours `status` shares): one line per finding,
indented under its parent, wrapped to fit `width` columns; colour only when asked (a terminal)."""

import textwrap

from metallb_cli.explain import BROKEN, INFO, OK, UNKNOWN, Finding, Report

MARKS = {OK: "ok", BROKEN: "!!", UNKNOWN: "??", INFO: "--"}
COLOURS = {OK: "32", BROKEN: "31;1", UNKNOWN: "33", INFO: "2"}


def paint(text: str, state: str, colour: bool) -> str:
    return f"\033[{COLOURS[state]}m{text}\033[0m" if colour else text


def _lines(finding: Finding, depth: int, width: int, colour: bool) -> list[str]:
    indent = "  " * depth
    mark = paint(f"[{MARKS[finding.state]}]", finding.state, colour)
    head = f"{indent}{mark} "
    body_indent = indent + " " * 5
    wrapped = textwrap.wrap(
        f"{finding.topic}: {finding.text}",
        width=width - len(indent) - 5,
        break_on_hyphens=False,
    )
    out = [head + wrapped[0]] + [body_indent + line for line in wrapped[1:]]
    if finding.fix:
        out += textwrap.wrap(
            f"fix: {finding.fix}",
            width=width,
            initial_indent=body_indent,
            subsequent_indent=body_indent + "     ",
            break_on_hyphens=False,
        )
    for child in finding.children:
        out += _lines(child, depth + 1, width, colour)
    return out


def render_report(report: Report, *, width: int = 100, colour: bool = False) -> str:
    lines = [f"Service {report.service} ({report.source})"]
    for finding in report.findings:
        lines += _lines(finding, 0, width, colour)
    path = report.break_path()
    broken = path[-1] if path else None
    if broken is None:
        unknown = any(f.state == UNKNOWN for top in report.findings for f in top.walk())
        verdict = (
            "Nothing is broken, but some facts are unknown (??): a node does not report them."
            if unknown
            else "Nothing is broken: every link holds."
        )
        lines.append(paint(verdict, UNKNOWN if unknown else OK, colour))
    else:
        lines += textwrap.wrap(
            f"Breaks at {' / '.join(f.topic for f in path)}: {broken.text}",
            width=width,
            subsequent_indent="  ",
            break_on_hyphens=False,
        )
        if broken.fix:
            lines += textwrap.wrap(
                f"What to do: {broken.fix}",
                width=width,
                subsequent_indent="  ",
                break_on_hyphens=False,
            )
    return "\n".join(lines) + "\n"
