"""L2 failover as a client sees it (issue 13), on the lab of tests/e2e/failover_lab.py.

    python3 bench/failover.py         (root: network namespaces, raw sockets; about 30 min)

One run gives every figure below: 20 failovers per fault and mode (`--runs`, `--bfd300-runs`,
`--lease-runs`), 10 hand-offs of each kind, 10 isolations, a 60 s API outage, 30 s of skewed
clocks. It first prints `bench_estimated_duration` (from the per-part costs in `COST`) and
last `bench_duration`. The lease-only section, the longest (windows of 15 s: about 22 min for
its 60 failovers), runs beside the others in a process and namespaces of its own, so the whole
takes about as long as the rest (serially, `--serial`: about 50 min); its windows are too long
for the others' load to matter. A section that fails prints `# <section> failed: ...` and the
run goes on. Small counts check the bench itself: `--runs 2 --handoffs 1 --isolations 1
--outage 10 --skew-seconds 5` (about 5 min).

Three node namespaces on one bridge, each running the BFD service, the L2 service and the node
role (every process as in production, over gRPC), the fake API server reachable over the bridge,
and a client probing the two service addresses every 10 ms (ARP for IPv4, NS for IPv6, and ICMP
echo to each through the client's kernel: every node accepts traffic for the addresses as
kube-proxy in IPVS mode would, so an echo reply comes from the node the client's neighbour cache
points at). Both addresses belong to one dual-stack Service, so they have one owner and every
failover measures both.

Figures (`name value unit`; the window is from the last answer before the fault to the first
one after it, per address whose owner was the faulted node):

- `failover_stop_<mode>_{double_answers,resumed_answers}_after_resume` (target 0): after each
  SIGCONT, until the peers could count the resumed node in again (`BEFORE_HAND_BACK`), the probe
  intervals answered by two MACs and the answers from the resumed node;
- `failover_<fault>_<mode>_{p50,p99,max}` for fault = kill (every process SIGKILLed), link (its
  bridge port down), stop (every process SIGSTOPped), mode = bfd50 (our default, 50 ms x 3),
  bfd300 (MetalLB's BFDProfile defaults, 300 ms x 3), lease (Leases alone, `--liveness lease`);
  `failover_<fault>_ratio_bfd50_over_lease_{p50,p99}` (target <= 0.05; p99 target <= 500 ms);
  `failover_<fault>_<mode>_icmp_{p50,p99,max}`: the same window for the echo probe (a killed or
  frozen owner's kernel keeps answering echo until the client's cache follows the new owner's
  gratuitous ARP / unsolicited NA, so there it is short; a cut link shows the whole window);
- `handoff_{sigterm,exclude,selector}_lost_probes` (target 0): the owner's node role stopped
  with SIGTERM, the owner labelled node.kubernetes.io/exclude-from-external-load-balancers, the
  L2Advertisement's nodeSelectors changed to leave it out; `handoff_<kind>_overlap_{p50,p99,max}`:
  how long the old owner still answered after the new one's first answer (it stops once it has
  seen the new owner announce; `--handoff`, 1 s, is the bound);
- `api_outage_lost_probes`, `api_outage_owner_changes` (target 0) over `--outage` seconds with
  every node healthy, and `api_outage_kill_failover` for an owner killed during the outage;
- `skew_double_answers`, `skew_owner_changes` (target 0): node roles writing their Leases with
  wall clocks -30 s, 0 and +30 s off;
- `isolated_stop_answering_{p50,max}`: an owner cut from its peers and the API server (IPv4
  dropped on its link, ARP and NDP still reach the client) until its L2 service withdrew, and
  `isolated_double_answers_after_bound`: probes answered by two MACs after that (target 0).

`--only` picks sections; the load average is printed before and after the run and each section
(`machine_load_average_*_<section>_{before,after}`, bench/load.py).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "protos")]


from bench.load import print_load  # noqa: E402
from tests.e2e.failover_lab import NODES, FailoverLab, failover_lab  # noqa: E402
from tests.e2e.lab import wait_for  # noqa: E402

# One dual-stack Service holds both addresses: one owner, so every failover measures both.
MODES = {
    "bfd50": {"liveness": "bfd", "dual_stack": True},
    "bfd300": {"liveness": "bfd", "bfd_profile": "metallb-defaults", "dual_stack": True},
    "lease": {"liveness": "lease", "dual_stack": True},
}
FAULTS = ("kill", "link", "stop")
# Seconds of one steady owner per address before a fault: a node back from the previous one
# reclaims its addresses after BFD comes Up again (slow start, about 1 s) and the 2 s hold.
QUIET = 5.0
# Seconds after a SIGCONT during which the resumed node owns nothing in its peers' eyes: its BFD
# sessions come Up again (slow start) and must then stay Up for the 2 s rejoin hold.
BEFORE_HAND_BACK = 1.9
# Seconds to wait for echo replies from the new owner after a takeover (the client's neighbour
# cache follows the gratuitous ARP / unsolicited NA at once; a stale entry is probed after
# 5 s, `delay_first_probe_time`).
ECHO_WAIT = 30.0


def emit(name: str, value: float, unit: str) -> None:
    print(f"{name} {value:.3f} {unit}", flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def one_failover(
    lab: FailoverLab,
    fault: str,
    echo: list[float] | None = None,
    resumes: list[tuple[float, str]] | None = None,
) -> list[float]:
    """Fault the owner of the IPv4 address; the unanswered windows of the addresses it owned
    (ARP/NDP), in `echo` those of the ICMP echo probe (when the lab accepts traffic), and, for a
    SIGSTOP, when and which node was resumed, in `resumes`."""
    prober = lab.prober
    assert prober is not None
    owners = lab.settle(QUIET)
    owner = owners[4]
    families = [f for f, n in owners.items() if n == owner]
    start = time.monotonic()
    if fault == "kill":
        lab.kill(owner)
    elif fault == "link":
        lab.link(owner, up=False)
    else:
        lab.signal(owner, 19)  # SIGSTOP
    try:
        for family in families:
            another = functools.partial(lab.answered_by_another, family, owner)
            wait_for("a new owner", another, 60, 0.01)
        if echo is not None and lab.accept:
            for family in families:  # the client's neighbour cache follows the new owner (until
                # then a killed or frozen owner's kernel still answers, as a node whose speaker
                # died keeps forwarding with kube-proxy)
                moved = functools.partial(lab.answered_by_another, family, owner, "echo")
                wait_for("echo replies from the new owner", moved, ECHO_WAIT, 0.01)
        time.sleep(0.3)  # real time: the answers after the takeover
        end = time.monotonic()
        if echo is not None and lab.accept:
            echo += [prober.silence_after(f, start, end, "echo") for f in families]
        return [prober.silence_after(f, start, end) for f in families]
    finally:
        if fault == "kill":
            lab.restart(owner)
        elif fault == "link":
            lab.link(owner, up=True)
        else:
            if resumes is not None:
                resumes.append((time.monotonic(), owner))
            lab.signal(owner, 18)  # SIGCONT


def after_resumes(lab: FailoverLab, resumes: list[tuple[float, str]]) -> tuple[int, int]:
    """Probe intervals answered by two MACs, and answers from the resumed node, within
    BEFORE_HAND_BACK of each resume (both families)."""
    prober = lab.prober
    assert prober is not None
    doubles = stale = 0
    for at, node in resumes:
        end = at + BEFORE_HAND_BACK
        for family in (4, 6):
            doubles += prober.double_answers(family, at, end)
            stale += sum(1 for h in prober.answers(family, at, end) if h.mac == lab.macs[node])
    return doubles, stale


def bench_failovers(mode: str, runs: int, faults: list[str]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    with failover_lab(**MODES[mode]) as lab:
        lab.settle(QUIET)
        for fault in faults:
            windows: list[float] = []
            echo: list[float] = []
            resumes: list[tuple[float, str]] = []
            try:
                for _ in range(runs):
                    windows += one_failover(lab, fault, echo, resumes)
            except Exception as err:  # what was measured is still reported; the next fault runs
                print(f"# failover_{fault}_{mode} stopped after {len(windows)} windows: {err}")
            if not windows:
                continue
            out[fault] = windows
            report(f"failover_{fault}_{mode}", windows)
            if echo:
                report(f"failover_{fault}_{mode}_icmp", echo)
            if resumes:
                lab.settle(QUIET)  # (past the last resume's window)
                doubles, stale = after_resumes(lab, resumes)
                emit(f"failover_{fault}_{mode}_double_answers_after_resume", doubles,
                     f"probes_in_{len(resumes)}_resumes")  # fmt: skip
                emit(f"failover_{fault}_{mode}_resumed_answers_after_resume", stale,
                     f"probes_in_{len(resumes)}_resumes")  # fmt: skip
    return out


def report(name: str, windows: list[float]) -> None:
    ms = [w * 1000 for w in windows]
    emit(f"{name}_p50", percentile(ms, 0.5), "ms")
    emit(f"{name}_p99", percentile(ms, 0.99), "ms")
    emit(f"{name}_max", max(ms), "ms")
    emit(f"{name}_samples", len(ms), "count")


def bench_handoffs(lab: FailoverLab, runs: int) -> None:
    prober = lab.prober
    assert prober is not None
    for kind in ("sigterm", "exclude", "selector"):
        lost = 0
        overlaps: list[float] = []
        for _ in range(runs):
            owners = lab.settle(QUIET)
            owner = owners[4]
            start = time.monotonic()
            lab.hand_off(kind, owner)
            wait_for("a new owner", functools.partial(lab.answered_by_another, 4, owner), 30, 0.01)
            time.sleep(2.0)  # real time: past the hand-off's bound
            end = time.monotonic()
            lost += sum(prober.lost_probes(f, start, end) for f in (4, 6))
            for family in (f for f, node in owners.items() if node == owner):
                overlaps.append(prober.overlap(family, start, end, lab.macs[owner]))
            lab.take_back(kind, owner)
        emit(f"handoff_{kind}_lost_probes", lost, f"probes_in_{runs}_handoffs")
        report(f"handoff_{kind}_overlap", overlaps)


def bench_api_outage(lab: FailoverLab, outage: float) -> None:
    prober = lab.prober
    assert prober is not None
    owners = lab.settle(QUIET)
    start = time.monotonic()
    lab.api_link(up=False)
    try:
        time.sleep(outage)  # real time: the outage itself
        end = time.monotonic()
        lost = sum(prober.lost_probes(f, start, end) for f in (4, 6))
        changes = sum(len(prober.owners(f, start, end)) - 1 for f in (4, 6))
        emit("api_outage_lost_probes", lost, f"probes_in_{outage:.0f}s")
        emit("api_outage_owner_changes", changes, "changes")
        # An owner killed while the API server is still away.
        owner = owners[4]
        killed = time.monotonic()
        lab.kill(owner)
        wait_for("a new owner", functools.partial(lab.answered_by_another, 4, owner), 30, 0.01)
        time.sleep(0.3)  # real time: the answers after the takeover
        window = prober.silence_after(4, killed, time.monotonic())
        emit("api_outage_kill_failover", window * 1000, "ms")
    finally:
        lab.api_link(up=True)
    lab.restart(owner)
    lab.settle(QUIET)


def bench_skew(seconds: float) -> None:
    skews = dict(zip(NODES, (-30.0, 0.0, 30.0), strict=True))
    with failover_lab(skews=skews) as lab:
        prober = lab.prober
        assert prober is not None
        lab.settle(QUIET)
        start = time.monotonic()
        time.sleep(seconds)  # real time: watch the owners
        end = time.monotonic()
        emit("skew_double_answers", sum(prober.double_answers(f, start, end) for f in (4, 6)),
             f"probes_in_{seconds:.0f}s")  # fmt: skip
        emit("skew_owner_changes", sum(len(prober.owners(f, start, end)) - 1 for f in (4, 6)),
             "changes")  # fmt: skip


def bench_isolation(lab: FailoverLab, runs: int) -> None:
    prober = lab.prober
    assert prober is not None
    stops: list[float] = []
    doubles = 0
    for _ in range(runs):
        # Every node counted in by every other first: a node back from an earlier section (the
        # outage's killed owner) or round, still in its peers' hold, makes the two others
        # disagree for a moment about the election, and both answer.
        lab.wait_rejoined()
        owner = lab.settle(QUIET)[4]
        start = time.monotonic()
        lab.isolate(owner, on=True)
        try:
            gone = functools.partial(lambda node: not lab.announced(node), owner)
            wait_for("the isolated owner to withdraw", gone, 30, 0.01)
            bound = time.monotonic()
            stops.append(bound - start)
            time.sleep(3.0)  # real time: probes after the bound
            doubles += sum(prober.double_answers(f, bound, time.monotonic()) for f in (4, 6))
        finally:
            lab.isolate(owner, on=False)
    emit("isolated_stop_answering_p50", percentile(stops, 0.5) * 1000, "ms")
    emit("isolated_stop_answering_max", max(stops) * 1000, "ms")
    emit("isolated_double_answers_after_bound", doubles, f"probes_in_{runs}x3s")


SECTIONS = ("failover", "bfd300", "lease", "handoff", "outage", "isolation", "skew")
# Seconds each part takes on this 2-core machine (measured in full runs, load 1-4), for the
# estimate printed first: a lab's start, one failover per mode (the fault, the takeover, the
# owner's return and QUIET seconds of one steady owner), one hand-off round of each kind, one
# isolation, and what the outage and skew sections add to their own durations.
COST = {"lab": 12.0, "bfd50": 10.0, "bfd300": 10.0, "lease": 21.0, "handoff": 20.0,
        "isolation": 15.0, "outage": 25.0, "skew": 15.0}  # fmt: skip


def estimate(args: argparse.Namespace, sections: list[str], faults: list[str]) -> float:
    """Seconds the run will take, the lease-only lab running beside the rest when `args.serial`
    is off (it is the longest part: windows of 15 s)."""
    n = len(faults)
    parts = {
        "failover": COST["lab"] + COST["bfd50"] * n * args.runs,
        "bfd300": COST["lab"] + COST["bfd300"] * n * (args.bfd300_runs or args.runs),
        "lease": COST["lab"] + COST["lease"] * n * (args.lease_runs or args.runs),
        "handoff": COST["handoff"] * args.handoffs,
        "outage": args.outage + COST["outage"],
        "isolation": COST["isolation"] * args.isolations,
        "skew": COST["lab"] + args.skew_seconds + COST["skew"],
    }
    shared = {"handoff", "outage", "isolation"} & set(sections)
    serial = sum(parts[s] for s in sections if s != "lease") + (COST["lab"] if shared else 0.0)
    lease = parts["lease"] if "lease" in sections else 0.0
    return float(serial + lease if args.serial else max(serial, lease))


def figures(text: str) -> dict[str, float]:
    """The `name value unit` lines of a run's output."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and not line.startswith("#"):
            with contextlib.suppress(ValueError):
                out[parts[0]] = float(parts[1])
    return out


def lease_child(args: argparse.Namespace, faults: list[str]) -> subprocess.Popen[str]:
    """The lease-only section in its own process and namespaces, beside the rest: its windows
    are 15 s long, so the others' load does not change them, and a process of its own keeps
    its prober's thread off this one's interpreter lock."""
    argv = [sys.executable, __file__, "--only", "lease", "--serial", "--faults", ",".join(faults),
            "--lease-runs", str(args.lease_runs or args.runs)]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)


def guarded(name: str, work: Callable[[], None]) -> None:
    """Run one section with the load average beside its figures; a section that fails says so
    and the run goes on to the next (one run gives every figure it can)."""
    print(f"# {name}", flush=True)
    print_load(f"{name}_before")
    try:
        work()
    except Exception as err:  # reported, and the other sections still run
        print(f"# {name} failed: {type(err).__name__}: {err}", flush=True)
    print_load(f"{name}_after")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="failovers per fault (bfd modes)")
    parser.add_argument("--lease-runs", type=int, help="failovers per fault, lease-only mode")
    parser.add_argument("--bfd300-runs", type=int, help="failovers per fault, 300 ms x 3")
    parser.add_argument("--faults", default=",".join(FAULTS), help="kill,link,stop")
    parser.add_argument("--handoffs", type=int, default=10, help="hand-offs of each kind")
    parser.add_argument("--isolations", type=int, default=10)
    parser.add_argument("--outage", type=float, default=60.0)
    parser.add_argument("--skew-seconds", type=float, default=30.0)
    parser.add_argument("--only", default="", help="comma-separated: " + ",".join(SECTIONS))
    parser.add_argument(
        "--serial", action="store_true", help="the lease-only section in turn, not beside"
    )
    args = parser.parse_args()
    only = {s for s in args.only.split(",") if s}
    sections = [s for s in SECTIONS if not only or s in only]
    faults = [f for f in args.faults.split(",") if f]
    started = time.monotonic()
    emit("bench_estimated_duration", estimate(args, sections, faults) / 60, "min")
    print_load("before")
    child = None
    if "lease" in sections and not args.serial:
        print("# lease: running beside the other sections, in its own namespaces", flush=True)
        child = lease_child(args, faults)
    results: dict[str, dict[str, list[float]]] = {}

    def failovers(mode: str, runs: int) -> Callable[[], None]:
        def work() -> None:
            results[mode] = bench_failovers(mode, runs, faults)

        return work

    for name, mode, runs in (("failover", "bfd50", args.runs),
                             ("bfd300", "bfd300", args.bfd300_runs or args.runs),
                             ("lease", "lease", args.lease_runs or args.runs)):  # fmt: skip
        if name in sections and (name != "lease" or child is None):
            guarded(name, failovers(mode, runs))
    shared = {
        "handoff": lambda lab: bench_handoffs(lab, args.handoffs),
        "outage": lambda lab: bench_api_outage(lab, args.outage),
        "isolation": lambda lab: bench_isolation(lab, args.isolations),
    }
    wanted = [(name, work) for name, work in shared.items() if name in sections]
    if wanted:
        with failover_lab() as lab:
            for name, work in wanted:
                guarded(name, functools.partial(work, lab))
    if "skew" in sections:
        guarded("skew", lambda: bench_skew(args.skew_seconds))
    ours = {f: results["bfd50"][f] for f in faults if f in results.get("bfd50", {})}
    theirs: dict[str, float] = {}
    if child is not None:
        out, _ = child.communicate()
        print("# lease (its own process, beside the sections above)", flush=True)
        print(out, end="", flush=True)
        theirs = figures(out)
    elif "lease" in results:
        for fault, windows in results["lease"].items():
            for q, label in ((0.5, "p50"), (0.99, "p99")):
                theirs[f"failover_{fault}_lease_{label}"] = percentile(windows, q) * 1000
    for fault, windows in ours.items():
        for q, label in ((0.5, "p50"), (0.99, "p99")):
            lease = theirs.get(f"failover_{fault}_lease_{label}")
            if lease:
                ratio = percentile(windows, q) * 1000 / lease
                emit(f"failover_{fault}_ratio_bfd50_over_lease_{label}", ratio, "ratio")
    print_load("after")
    emit("bench_duration", (time.monotonic() - started) / 60, "min")


if __name__ == "__main__":
    main()
