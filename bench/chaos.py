"""Chaos benchmark: faults for N minutes, the invariants checked after each (issue 14).

    python3 bench/chaos.py [--minutes 30] [--services 1000] [--bound 180] [--seed 14]

Method: tests/chaos/scenario.py's world (every process as `metallb-grpc` runs it, the fake API
server, BIRD and an arping client in network namespaces; needs root, iproute2, BIRD 2, arping)
with `--services` LoadBalancer Services churned around every fault. First every fault kind once,
one at a time; then, until the time is up, random faults: half of them one kind, half two or
three kinds together. The API faults last as long as the issue says (500/429 for 10 s, a 30 s
stall, 60 s away). After each fault every invariant must hold within `--bound` seconds.

Prints, per fault kind (a fault of several kinds counts for each), `name value unit` lines:
injected, invariant checks passed and failed, and the p99 time from the fault's end to every
invariant holding; then the same for all faults, and the load average before and after.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "protos")]

from bench.load import print_load  # noqa: E402
from tests.chaos.scenario import FAULT_KINDS, Chaos, Outcome, Periods, p99  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--bound", type=float, default=180.0, help="seconds to converge")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    print_load("before")
    outcomes: list[Outcome] = []
    lifetime = int(args.minutes * 60 + 20 * args.bound + 600)
    start = time.monotonic()
    with Chaos(args.services, seed=args.seed, lifetime=lifetime, periods=Periods()) as chaos:
        taken, problems = chaos.converge(args.bound * 2)
        print(f"chaos_initial_converge {taken:.2f} s", flush=True)
        if problems:
            print(f"initial convergence failed: {problems[:10]}", file=sys.stderr)
        end = start + args.minutes * 60
        plan: list[tuple[str, ...]] = [(kind,) for kind in FAULT_KINDS]
        while time.monotonic() < end:
            kinds: tuple[str, ...]
            if plan:
                kinds = plan.pop(0)
            elif chaos.random.random() < 0.5:
                kinds = (chaos.random.choice(FAULT_KINDS),)
            else:
                count = chaos.random.choice((2, 3))
                kinds = tuple(sorted(chaos.random.sample(FAULT_KINDS, count)))
            outcome = chaos.fault(kinds, args.bound)
            outcomes.append(outcome)
            verdict = "ok" if outcome.passed else f"FAILED {outcome.problems[:5]}"
            elapsed = (time.monotonic() - start) / 60
            print(f"# {elapsed:5.1f} min {'+'.join(kinds)}: {outcome.seconds:.1f} s {verdict}",
                  file=sys.stderr, flush=True)  # fmt: skip
            if not outcome.passed:
                print(chaos.logs()[-4000:], file=sys.stderr, flush=True)
        churned = chaos.churned
    minutes = (time.monotonic() - start) / 60
    report(outcomes)
    print(f"chaos_services {args.services} services")
    print(f"chaos_churn_actions {churned} actions")
    print(f"chaos_duration {minutes:.1f} min")
    print_load("after")


def report(outcomes: list[Outcome]) -> None:
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        for kind in outcome.kinds:
            by_kind[kind].append(outcome)
        if len(outcome.kinds) > 1:
            by_kind["together"].append(outcome)
        by_kind["all"].append(outcome)
    for kind in [*FAULT_KINDS, "together", "all"]:
        done = by_kind.get(kind, [])
        name = kind.replace("-", "_")
        passed = sum(1 for o in done if o.passed)
        print(f"chaos_{name}_injected {len(done)} faults")
        print(f"chaos_{name}_checks_passed {passed} checks")
        print(f"chaos_{name}_checks_failed {len(done) - passed} checks")
        print(f"chaos_{name}_converge_p99 {p99([o.seconds for o in done]):.2f} s", flush=True)


if __name__ == "__main__":
    main()
