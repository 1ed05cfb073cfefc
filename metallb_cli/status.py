"""`metallb-grpc status`: the whole installation on one screen (pure: facts in, summary out;
the readers are metallb_cli/facts_readers.py).

- pools: addresses in use per family, as bars, from the very allocation rules the controller runs
  (re-run over every Service, as `explain` does);
- BGP peers, like `birdc show protocols`: name, node, state, since, prefixes sent, and the last
  error (from each node's BGPSessionState);
- BFD sessions (the BGPSessionStates with a BFD profile);
- L2 announcements: each address, the node whose responder holds it, the interfaces it answers
  on, and the Services on it (from each node's L2NodeState);
- configuration: each component's ConfigurationState.

`healthy` is False when a configuration is invalid, a session is not Established, a BFD session
is not up, or a held address is answered nowhere.
"""

from dataclasses import asdict, dataclass, field
from typing import Any

from metallb_cli.explain import BROKEN, INFO, OK, UNKNOWN, Allocation, Facts, parse_readable
from metallb_cli.render import paint
from metallb_rules.config.model import ConfigError


@dataclass(frozen=True)
class PoolUse:
    name: str
    ipv4: tuple[int, int]  # (in use, total)
    ipv6: tuple[int, int]
    services: int


@dataclass(frozen=True)
class Session:
    node: str
    peer: str
    address: str
    state: str
    since: str
    prefixes_sent: int
    bfd: str
    error: str


@dataclass(frozen=True)
class L2Address:
    ip: str
    node: str
    answering_on: tuple[str, ...]
    services: tuple[str, ...]


@dataclass(frozen=True)
class ComponentState:
    name: str
    result: str
    summary: str


@dataclass(frozen=True)
class Summary:
    source: str
    pools: tuple[PoolUse, ...] = ()
    config_error: str = ""
    sessions: tuple[Session, ...] = ()
    l2: tuple[L2Address, ...] = ()
    components: tuple[ComponentState, ...] = ()
    nodes_without_facts: tuple[str, ...] = field(default=())

    @property
    def healthy(self) -> bool:
        return (
            not self.config_error
            and all(c.result == "Valid" for c in self.components)
            and all(s.state == "Established" and s.bfd in ("N/A", "up") for s in self.sessions)
            and all(a.answering_on for a in self.l2)
        )

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["healthy"] = self.healthy
        return out


def status_summary(facts: Facts) -> Summary:
    snap = facts.snapshot
    pools: list[PoolUse] = []
    error = ""
    owners: dict[str, list[str]] = {}
    try:
        config = parse_readable(snap, facts.unreadable)
    except ConfigError as err:
        error = err.describe()
    else:
        allocation = Allocation.run(snap, config, facts.lb_class)
        for name in sorted(config.pools):
            usage = allocation.allocator.usage(name)
            pools.append(
                PoolUse(
                    name,
                    (usage.ipv4_in_use, usage.ipv4_total),
                    (usage.ipv6_in_use, usage.ipv6_total),
                    usage.services,
                )
            )
        for key, decision in allocation.decisions.items():
            for ip in decision.ingress:
                owners.setdefault(ip, []).append(key)
    sessions = []
    for obj in snap.of("BGPSessionState"):
        s = obj.get("status") or {}
        sessions.append(
            Session(
                node=str(s.get("node") or ""),
                peer=str(s.get("bgpPeer") or ""),
                address=str(s.get("peer") or ""),
                state=str(s.get("bgpStatus") or "Unknown"),
                since=str(s.get("since") or ""),
                prefixes_sent=int(s.get("prefixesSent") or 0),
                bfd=str(s.get("bfdStatus") or "N/A"),
                error=str(s.get("lastError") or ""),
            )
        )
    l2 = []
    reporting = set()
    for obj in snap.of("L2NodeState"):
        s = obj.get("status") or {}
        node = str(s.get("node") or "")
        reporting.add(node)
        for a in s.get("announcements") or []:
            ip = str(a.get("ip"))
            answering = tuple(str(i) for i in a.get("answeringOn") or ())
            l2.append(L2Address(ip, node, answering, tuple(sorted(owners.get(ip, ())))))
    reporting |= {s.node for s in sessions}
    components = tuple(
        ComponentState(
            str((o.get("metadata") or {}).get("name")),
            str((o.get("status") or {}).get("result") or "Unknown"),
            str((o.get("status") or {}).get("errorSummary") or ""),
        )
        for o in snap.of("ConfigurationState")
    )
    silent = tuple(sorted({n.name for n in snap.nodes()} - reporting))
    return Summary(
        facts.source,
        tuple(pools),
        error,
        tuple(sorted(sessions, key=lambda s: (s.peer, s.node))),
        tuple(sorted(l2, key=lambda a: (a.ip, a.node))),
        components,
        silent,
    )


# ------------------------------------------------------------------------------ the screen

BAR = 20


def _bar(used: int, total: int) -> str:
    if not total:
        return ""
    filled = min(BAR, -(-used * BAR // total)) if used else 0
    return f"[{'#' * filled}{'.' * (BAR - filled)}] {used}/{total}"


def _table(rows: list[list[str]], states: list[str], width: int, colour: bool) -> list[str]:
    """Columns as wide as their widest cell; the last column is cut to fit `width`."""
    sizes = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for row, state in zip(rows, states, strict=True):
        line = "  " + "  ".join(cell.ljust(sizes[i]) for i, cell in enumerate(row[:-1]))
        line = (line + "  " + row[-1]).rstrip()
        if len(line) > width:
            line = line[: width - 1] + "…"
        out.append(paint(line, state, colour) if state != INFO else line)
    return out


def render_status(summary: Summary, *, width: int = 100, colour: bool = False) -> str:
    lines = [f"MetalLB status ({summary.source})", "", "Pools (addresses in use)"]
    if summary.config_error:
        lines.append(paint(f"  configuration invalid: {summary.config_error}", BROKEN, colour))
    elif not summary.pools:
        lines.append("  none")
    else:
        rows = [["NAME", "IPv4", "IPv6", "SERVICES"]]
        for p in summary.pools:
            rows.append([p.name, _bar(*p.ipv4) or "-", _bar(*p.ipv6) or "-", str(p.services)])
        lines += _table(rows, [INFO] * len(rows), width, colour)
    lines += ["", "BGP peers"]
    if summary.sessions:
        rows = [["NAME", "NODE", "STATE", "SINCE", "SENT", "INFO"]]
        states = [INFO]
        for s in summary.sessions:
            info = s.error or f"{s.address}"
            rows.append([s.peer, s.node, s.state, s.since or "-", str(s.prefixes_sent), info])
            states.append(OK if s.state == "Established" else BROKEN)
        lines += _table(rows, states, width, colour)
    else:
        lines.append("  none reported")
    lines += ["", "BFD sessions"]
    bfd = [s for s in summary.sessions if s.bfd != "N/A"]
    if bfd:
        rows = [["PEER", "NODE", "ADDRESS", "STATE"]]
        states = [INFO]
        for s in bfd:
            rows.append([s.peer, s.node, s.address, s.bfd])
            states.append(OK if s.bfd == "up" else BROKEN)
        lines += _table(rows, states, width, colour)
    else:
        lines.append("  none")
    lines += ["", "L2 announcements"]
    if summary.l2:
        rows = [["ADDRESS", "NODE", "ANSWERING ON", "SERVICES"]]
        states = [INFO]
        for a in summary.l2:
            on = ",".join(a.answering_on) or "nowhere"
            rows.append([a.ip, a.node, on, ",".join(a.services) or "-"])
            states.append(OK if a.answering_on else BROKEN)
        lines += _table(rows, states, width, colour)
    else:
        lines.append("  none reported")
    lines += ["", "Configuration"]
    if summary.components:
        rows = [["COMPONENT", "RESULT", "ERRORS"]]
        states = [INFO]
        for c in summary.components:
            rows.append([c.name, c.result, c.summary.replace("\n", " ")])
            states.append(
                OK if c.result == "Valid" else BROKEN if c.result == "Invalid" else UNKNOWN
            )
        lines += _table(rows, states, width, colour)
    else:
        lines.append("  no ConfigurationState written yet")
    if summary.nodes_without_facts:
        silent = ", ".join(summary.nodes_without_facts)
        lines += [
            "",
            paint(f"Nodes publishing nothing (node role not running?): {silent}", UNKNOWN, colour),
        ]
    return "\n".join(lines) + "\n"


def up_summary(
    summary: Summary,
    *,
    folder: str,
    node: str,
    sockets: dict[str, str],
    services: dict[str, list[str]],
    peers: dict[str, str],
    shown: int = 5,
) -> str:
    """What `metallb-grpc up` prints once it serves: what it holds and what to try next.
    `services`: the Services that have addresses; `peers`: BGPPeer name -> address."""
    pad = " " * 13
    lines = [f"metallb-grpc up: serving {folder} as node {node}"]
    if summary.config_error:
        lines.append(f"  config     invalid: {summary.config_error}")
    pools = []
    for p in summary.pools:
        use = [f"IPv{v} {used}/{total}" for v, (used, total) in ((4, p.ipv4), (6, p.ipv6)) if total]
        pools.append(f"{p.name}: {', '.join(use)} in use")
    lines += _labelled("pools", pools or ["none"], pad)
    width = max((len(key) for key in services), default=0)
    allocated = [f"{key.ljust(width)}  {', '.join(ips)}" for key, ips in sorted(services.items())]
    if len(allocated) > shown:
        allocated = [*allocated[:shown], f"and {len(allocated) - shown} more"]
    lines += _labelled("services", [f"{len(services)} allocated", *allocated], pad)
    states = {s.peer: s.state for s in summary.sessions}
    described = [f"{n} {a}: {states.get(n, 'starting')}" for n, a in sorted(peers.items())]
    lines += _labelled("peers", described or ["none"], pad)
    lines += _labelled("sockets", _socket_lines(sockets), pad)
    first = min(services, default="NAMESPACE/NAME")
    lines += _labelled(
        "try",
        [
            f"metallb-grpc status --manifests {folder}",
            f"metallb-grpc explain --manifests {folder} {first}",
        ],
        pad,
    )
    return "\n".join(lines) + "\n"


def _labelled(label: str, items: list[str], pad: str) -> list[str]:
    return [f"  {label.ljust(len(pad) - 2)}{items[0]}", *(pad + item for item in items[1:])]


def _socket_lines(sockets: dict[str, str]) -> list[str]:
    """Unix sockets of one folder as `DIR/{a,b}.sock`; other addresses as they are."""
    folders: dict[str, list[str]] = {}
    others = []
    for name, address in sockets.items():
        path = address.removeprefix("unix:")
        folder, _, file = path.rpartition("/")
        if address.startswith("unix:") and file == f"{name}.sock":
            folders.setdefault(folder, []).append(name)
        else:
            others.append(f"{name} {address}")
    grouped = [
        f"{folder}/{{{','.join(names)}}}.sock" if len(names) > 1 else f"{folder}/{names[0]}.sock"
        for folder, names in folders.items()
    ]
    return [*grouped, *others] or ["none"]
