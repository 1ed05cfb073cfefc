"""BFD benchmark: prints `name value unit` lines, each target and our ratio to it. Needs root.

    python bench/bfd.py

Figures (each phase in network namespaces it creates and removes, see tests/bfd/lab.py):
- detection: one session between our `metallb-grpc bfd` and FRR's bfdd at 50 ms x 3 (configured
  detection time 150 ms), cut silently CUTS times by pointing FRR's neighbour entry for our
  address at a MAC nobody has (FRR's packets stop reaching us; nothing tells either side). The
  time runs from the cut, as the kernel reports it (see `Cutter`), to the arrival of the Down
  event on a WatchSessions stream in this process: detection plus everything after it. p50,
  p99 and max (nearest rank; with fewer than 100 cuts p99 is the maximum). Beside them: the
  same from the moment the cutting command was issued (it waits for a kernel lock that other
  work on this machine holds for up to 100 ms and more; earlier runs timed from before
  spawning the command, which added its start-up too), the service's own part (Down minus
  the last packet received, both from the event: 150 ms plus our timer's lateness) and the
  event's delivery to this process;
- CPU: 200 single-hop sessions between our process and FRR's bfdd (200 address pairs on one veth
  link, so both daemons hold the same 200 sessions), share of one core (utime + stime from
  /proc/<pid>/stat) over CPU_WINDOW seconds for each, at 300 ms and then 50 ms, and the ratio;
- stability: at 50 ms, Down transitions seen by our process over STABLE_WINDOW seconds (which
  contain the 50 ms CPU window), and whether all 200 sessions stayed Up throughout; split by who
  gave up first (our detection timer, or FRR telling us Down); then the same 200 sessions against
  BIRD, which needs much less CPU than FRR. The share of the machine used by other processes is
  printed beside every CPU window: on a 2-core machine, other work starves both daemons, so
  both run at nice -10 (ours and the peer alike, see `prioritise`).
"""

import argparse
import datetime
import math
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "protos")]

from metallb.bfd.v1 import bfd_pb2  # noqa: E402
from tests.bfd.lab import (  # noqa: E402
    Bird,
    Frr,
    Lab,
    Ours,
    cpu_seconds,
    frr_profile,
    ms,
    run,
    wait_for,
)

SESSIONS = 200
CUTS = 25
CPU_WINDOW = 20.0
STABLE_WINDOW = 60.0
NICE = -10
TARGETS = {
    "bfd_detection_50ms_x3_p99": (170.0, "max"),
    "bfd_cpu_ratio_ours_to_frr_300ms": (1.0, "max"),
    "bfd_cpu_ratio_ours_to_frr_50ms": (1.0, "max"),
    "bfd_flaps_200_sessions_60s_50ms": (0.0, "max"),
}


def prioritise(*pids: int, level: int = NICE) -> None:
    """Run both daemons (every thread) at NICE, the same for ours and the peer's.

    This machine is shared: other test suites saturate its two cores at times and starve any
    process for hundreds of milliseconds (measured: 700 ms event-loop lag with all cores busy),
    far beyond a 150 ms detection time. Raising both BFD daemons above that unrelated load
    isolates what is measured; CPU shares are unaffected (they are CPU time, not waiting).
    """
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            os.setpriority(os.PRIO_PROCESS, int(task.name), level)


def emit(name: str, value: float, unit: str, fmt: str = ".1f") -> None:
    print(f"{name} {value:{fmt}} {unit}", flush=True)
    if name in TARGETS:
        target, kind = TARGETS[name]
        met = value <= target if kind == "max" else value >= target
        ratio = value / target if target else value
        verdict = "met" if met else "MISSED"
        print(f"{name}_vs_target {ratio:.2f} ratio ({kind} {target:g}: {verdict})", flush=True)


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


class Cutter:
    """Cuts and repairs FRR's side of the link, and tells when the kernel did it.

    Commands go to an `ip -batch -` already running in FRR's namespace (with `spawn`, the
    earlier method, a new `ip netns exec NS ip ...` per command). Either way the kernel applies
    a neighbour change under its routing-netlink lock, which other work on the machine (network
    namespaces being created or deleted) can hold for 100 ms and more: so the cut is timed by
    `ip -ts monitor neigh` in the same namespace, which reports each change as the kernel makes
    it. Both run at the daemons' priority. A monitor woken late would make a cut look later and
    its detection shorter: `bfd_detection_from_command_p99`, timed from before the command was
    issued, bounds that, and `bfd_detection_cuts_late_in_kernel` counts the cuts where the two
    differ by more than 5 ms.
    """

    def __init__(self, ns: str, *, spawn: bool = False) -> None:
        self.ns, self.spawn = ns, spawn
        self.batch = subprocess.Popen(
            ["ip", "-n", ns, "-batch", "-"], stdin=subprocess.PIPE, text=True, bufsize=1
        )
        self.monitor = subprocess.Popen(
            ["ip", "-n", ns, "-ts", "monitor", "neigh"],
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.seen: queue.Queue[tuple[float, str]] = queue.Queue()
        self.wall_offset = time.time() - time.monotonic()
        threading.Thread(target=self._follow, daemon=True).start()

    def pids(self) -> list[int]:
        return [self.batch.pid, self.monitor.pid]

    def _follow(self) -> None:
        assert self.monitor.stdout is not None
        for line in self.monitor.stdout:
            stamp, _, text = line.partition("] ")
            wall = datetime.datetime.fromisoformat(stamp.lstrip("[")).timestamp()
            self.seen.put((wall - self.wall_offset, text))

    def run(self, command: str, expect: str) -> tuple[float, float]:
        """Issue `command`; (when it was issued, when the kernel reported `expect`)."""
        while not self.seen.empty():
            self.seen.get_nowait()
        issued = time.monotonic()
        if self.spawn:
            run("ip", "netns", "exec", self.ns, "ip", *command.split())
        else:
            assert self.batch.stdin is not None
            self.batch.stdin.write(command + "\n")
            self.batch.stdin.flush()
        while True:
            at, text = self.seen.get(timeout=10)
            if expect in text:
                return issued, at

    def close(self) -> None:
        if self.batch.stdin is not None:
            self.batch.stdin.close()
        self.batch.wait(timeout=5)
        self.monitor.kill()
        self.monitor.wait(timeout=5)


def detection_phase(spawn: bool = False, verbose: bool = False) -> None:
    lab = Lab()
    samples: list[float] = []  # cut (as the kernel reported it) -> Down reaches this process
    from_command: list[float] = []  # command issued -> Down reaches this process
    applied: list[float] = []  # command issued -> cut
    in_service: list[float] = []  # last packet received -> Down (the service's detection)
    delivery: list[float] = []  # Down -> the event reaches this process
    try:
        us, frr_ns = lab.ns("bus"), lab.ns("bfrr")
        lab.link(us, "vF", frr_ns, "vU")
        lab.addr(us, "vF", "10.77.1.1/24")
        lab.addr(frr_ns, "vU", "10.77.1.2/24")
        conf = "bfd\n" + frr_profile("p50", 50, 50)
        conf += " peer 10.77.1.1 local-address 10.77.1.2 interface vU\n  profile p50\n !\n!\n"
        frr = Frr.start(lab, frr_ns, conf)
        ours = Ours.start(lab, us)
        cutter = Cutter(frr_ns, spawn=spawn)
        watch = ours.watch()
        # This process too: its Watch thread's clock ends every measurement.
        prioritise(ours.pid(), frr.bfdd_pid(), *cutter.pids(), os.getpid())
        ours.add("10.77.1.2", "10.77.1.1", "vF", receive_interval=ms(50), transmit_interval=ms(50))
        up = lambda: ours.state("10.77.1.2", "vF") == bfd_pb2.STATE_UP  # noqa: E731
        wait_for("session Up", up, 20)
        for _ in range(CUTS):
            time.sleep(0.5)  # let the session settle at 50 ms
            issued, cut = cutter.run(
                "neigh replace 10.77.1.1 lladdr 02:00:00:00:00:01 dev vU nud permanent",
                "lladdr 02:00:00:00:00:01 PERMANENT",
            )

            def down(t0: float = issued) -> bool:
                return watch.first_state(t0, "10.77.1.2", bfd_pb2.STATE_DOWN) is not None

            wait_for("Down", down, 5, 0.001)
            found = watch.first_state(issued, "10.77.1.2", bfd_pb2.STATE_DOWN)
            assert found is not None
            arrived, event = found
            samples.append((arrived - cut) * 1000)
            from_command.append((arrived - issued) * 1000)
            applied.append((cut - issued) * 1000)
            offset = cutter.wall_offset
            went_down = event.transition.time.ToNanoseconds() / 1e9 - offset
            last_rx = event.session.state.last_received_time.ToNanoseconds() / 1e9 - offset
            in_service.append((went_down - last_rx) * 1000)
            delivery.append((arrived - went_down) * 1000)
            if verbose:
                print(
                    f"# cut {len(samples)}: {samples[-1]:.1f} ms from the cut, command->cut "
                    f"{applied[-1]:.1f}, last rx->cut {(cut - last_rx) * 1000:.1f}, last rx->Down "
                    f"{in_service[-1]:.1f}, delivery {delivery[-1]:.2f}, diag "
                    f"{bfd_pb2.Diagnostic.Name(event.transition.diagnostic)}, load "
                    f"{os.getloadavg()[0]:.2f}",
                    flush=True,
                )
            cutter.run("neigh del 10.77.1.1 dev vU", "Deleted 10.77.1.1")
            wait_for("session Up again", up, 20, 0.02)
        watch.stop()
        cutter.close()
        ours.close()
        del frr
    finally:
        prioritise(os.getpid(), level=0)
        lab.close()
    emit("bfd_detection_configured", 150, "ms", "d")
    emit("bfd_detection_cuts", len(samples), "count", "d")
    emit("bfd_detection_50ms_x3_p50", nearest_rank(samples, 0.50), "ms")
    emit("bfd_detection_50ms_x3_p99", nearest_rank(samples, 0.99), "ms")
    emit("bfd_detection_50ms_x3_max", max(samples), "ms")
    emit("bfd_detection_50ms_x3_min", min(samples), "ms")
    emit("bfd_detection_from_command_p99", nearest_rank(from_command, 0.99), "ms")
    emit("bfd_detection_command_to_cut_max", max(applied), "ms", ".2f")
    emit("bfd_detection_cuts_late_in_kernel", sum(a > 5 for a in applied), "count", "d")
    emit("bfd_detection_last_rx_to_down_p50", nearest_rank(in_service, 0.50), "ms")
    emit("bfd_detection_last_rx_to_down_max", max(in_service), "ms")
    emit("bfd_detection_down_to_watcher_p50", nearest_rank(delivery, 0.50), "ms", ".2f")
    emit("bfd_detection_down_to_watcher_max", max(delivery), "ms", ".2f")
    emit("bfd_detection_load_average_1min", os.getloadavg()[0], "load", ".2f")


def machine_busy_seconds() -> float:
    """CPU time spent by everything on the machine (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_share(pids: list[int], seconds: float, label: str) -> list[float]:
    """Percent of one core for each pid; also prints what the rest of the machine used."""
    before = [cpu_seconds(p) for p in pids]
    busy = machine_busy_seconds()
    start = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - start
    shares = [(cpu_seconds(p) - b) / elapsed * 100 for p, b in zip(pids, before, strict=True)]
    others = (machine_busy_seconds() - busy) / elapsed * 100 - sum(shares)
    # Other work on this 2-core machine competes with both daemons for the CPU.
    emit(f"bfd_cpu_rest_of_machine_{label}", max(0.0, others), "%")
    return shares


def scale_phase() -> None:
    lab = Lab()
    try:
        us, frr_ns = lab.ns("sus"), lab.ns("sfrr")
        lab.link(us, "vF", frr_ns, "vU")
        pairs = [(f"10.77.10.{i}", f"10.77.20.{i}") for i in range(1, SESSIONS + 1)]
        lab.addr(us, "vF", *(f"{a}/16" for a, _ in pairs))
        lab.addr(frr_ns, "vU", *(f"{b}/16" for _, b in pairs))
        conf = "bfd\n" + frr_profile("p", 300, 300)
        for mine, theirs in pairs:
            conf += f" peer {mine} local-address {theirs} interface vU\n  profile p\n !\n"
        frr = Frr.start(lab, frr_ns, conf + "!\n")
        ours = Ours.start(lab, us)
        prioritise(ours.pid(), frr.bfdd_pid())
        for mine, theirs in pairs:
            ours.add(theirs, mine, "vF", receive_interval=ms(300), transmit_interval=ms(300))

        def up_count() -> int:
            response = ours.stub.ListSessions(bfd_pb2.ListSessionsRequest(), timeout=10)
            return sum(s.state.local_state == bfd_pb2.STATE_UP for s in response.sessions)

        wait_for("200 sessions Up", lambda: up_count() == SESSIONS, 60, 0.5)
        time.sleep(3)
        pids = [ours.pid(), frr.bfdd_pid()]
        ours_300, frr_300 = cpu_share(pids, CPU_WINDOW, "300ms")
        emit("bfd_cpu_ours_200_sessions_300ms", ours_300, "%")
        emit("bfd_cpu_frr_bfdd_200_sessions_300ms", frr_300, "%")
        emit("bfd_cpu_ratio_ours_to_frr_300ms", ours_300 / frr_300, "ratio", ".2f")

        frr.configure("profile p", "receive-interval 50", "transmit-interval 50")
        response = ours.stub.ListSessions(bfd_pb2.ListSessionsRequest(), timeout=10)
        for session in response.sessions:
            conf_msg = session.conf
            conf_msg.profile.receive_interval.FromMilliseconds(50)
            conf_msg.profile.transmit_interval.FromMilliseconds(50)
            ours.stub.UpdateSession(bfd_pb2.UpdateSessionRequest(session=conf_msg), timeout=10)

        def all_fast() -> bool:
            listed = ours.stub.ListSessions(bfd_pb2.ListSessionsRequest(), timeout=10).sessions
            return all(
                s.state.local_state == bfd_pb2.STATE_UP and s.state.detection_time == ms(150)
                for s in listed
            )

        wait_for("200 sessions Up at 50 ms", all_fast, 60, 0.5)
        time.sleep(2)
        watch = ours.watch()
        start = time.monotonic()
        ours_50, frr_50 = cpu_share(pids, CPU_WINDOW, "50ms")
        emit("bfd_cpu_ours_200_sessions_50ms", ours_50, "%")
        emit("bfd_cpu_frr_bfdd_200_sessions_50ms", frr_50, "%")
        emit("bfd_cpu_ratio_ours_to_frr_50ms", ours_50 / frr_50, "ratio", ".2f")
        time.sleep(max(0.0, STABLE_WINDOW - (time.monotonic() - start)))
        downs = [
            e
            for _, e in watch.since(start)
            if e.type == bfd_pb2.SESSION_EVENT_TYPE_STATE_CHANGED
            and e.transition.to != bfd_pb2.STATE_UP
        ]
        final_up = up_count()
        watch.stop()
        emit("bfd_flaps_200_sessions_60s_50ms", len(downs), "count", "d")
        # Who gave up first: we (no packet from FRR for 150 ms) or FRR (it told us Down).
        ours_detected = sum(
            e.transition.diagnostic == bfd_pb2.DIAGNOSTIC_CONTROL_DETECTION_TIME_EXPIRED
            for e in downs
        )
        emit("bfd_flaps_detected_by_us_60s_50ms", ours_detected, "count", "d")
        emit("bfd_flaps_signalled_by_frr_60s_50ms", len(downs) - ours_detected, "count", "d")
        stats = lab.exec(us, "nstat", "-az", "UdpRcvbufErrors").split()
        emit(
            "bfd_our_udp_rcvbuf_errors",
            int(stats[stats.index("UdpRcvbufErrors") + 1]),
            "count",
            "d",
        )
        emit("bfd_sessions_up_after_60s_50ms", final_up, "sessions", "d")
        emit("bfd_no_flap_60s_50ms", int(not downs and final_up == SESSIONS), "bool", "d")
        ours.close()
    finally:
        lab.close()


def bird_stability_phase() -> None:
    """The same 200 sessions at 50 ms against BIRD, which needs far less CPU than FRR here."""
    lab = Lab()
    try:
        us, bird_ns = lab.ns("bus"), lab.ns("bbird")
        lab.link(us, "vF", bird_ns, "vU")
        pairs = [(f"10.77.10.{i}", f"10.77.20.{i}") for i in range(1, SESSIONS + 1)]
        lab.addr(us, "vF", *(f"{a}/16" for a, _ in pairs))
        lab.addr(bird_ns, "vU", *(f"{b}/16" for _, b in pairs))
        neighbors = "".join(f'  neighbor {a} dev "vU" local {b};\n' for a, b in pairs)
        bird = Bird.start(
            lab,
            bird_ns,
            "router id 10.77.20.1;\nprotocol device { }\nprotocol bfd {\n"
            '  interface "vU" { min rx interval 50 ms; min tx interval 50 ms;\n'
            "                   idle tx interval 1000 ms; multiplier 3; };\n"
            f"{neighbors}}}\n",
        )
        ours = Ours.start(lab, us)
        prioritise(ours.pid(), bird.pid())
        for mine, theirs in pairs:
            ours.add(theirs, mine, "vF", receive_interval=ms(50), transmit_interval=ms(50))

        def up_count() -> int:
            response = ours.stub.ListSessions(bfd_pb2.ListSessionsRequest(), timeout=10)
            return sum(s.state.local_state == bfd_pb2.STATE_UP for s in response.sessions)

        wait_for("200 sessions Up with BIRD", lambda: up_count() == SESSIONS, 60, 0.5)
        time.sleep(3)
        watch = ours.watch()
        start = time.monotonic()
        ours_50, bird_50 = cpu_share([ours.pid(), bird.pid()], CPU_WINDOW, "bird_50ms")
        emit("bfd_cpu_ours_200_sessions_50ms_with_bird", ours_50, "%")
        emit("bfd_cpu_bird_200_sessions_50ms", bird_50, "%")
        time.sleep(max(0.0, STABLE_WINDOW - (time.monotonic() - start)))
        downs = [
            e
            for _, e in watch.since(start)
            if e.type == bfd_pb2.SESSION_EVENT_TYPE_STATE_CHANGED
            and e.transition.to != bfd_pb2.STATE_UP
        ]
        final_up = up_count()
        watch.stop()
        emit("bfd_flaps_200_sessions_60s_50ms_with_bird", len(downs), "count", "d")
        ours_detected = sum(
            e.transition.diagnostic == bfd_pb2.DIAGNOSTIC_CONTROL_DETECTION_TIME_EXPIRED
            for e in downs
        )
        emit("bfd_flaps_detected_by_us_60s_50ms_with_bird", ours_detected, "count", "d")
        emit("bfd_flaps_signalled_by_bird_60s_50ms", len(downs) - ours_detected, "count", "d")
        emit("bfd_no_flap_60s_50ms_with_bird", int(not downs and final_up == SESSIONS), "bool", "d")
        ours.close()
    finally:
        lab.close()


def main() -> None:
    if os.geteuid() != 0:
        raise SystemExit("bench/bfd.py needs root (network namespaces)")
    parser = argparse.ArgumentParser(description="BFD benchmark (root)")
    parser.add_argument("--only", choices=sorted(PHASES), help="run one phase")
    parser.add_argument(
        "--cut",
        choices=("batch", "spawn"),
        default="batch",
        help="how to cut: a line to a running `ip -batch` (default) or a spawned `ip netns exec`",
    )
    parser.add_argument("--verbose", action="store_true", help="print every cut's breakdown")
    args = parser.parse_args()
    emit("bfd_daemons_nice", NICE, "nice", "d")
    for name, phase in PHASES.items():
        if args.only in (None, name):
            if name == "detection":
                detection_phase(spawn=args.cut == "spawn", verbose=args.verbose)
            else:
                phase()


PHASES = {"detection": detection_phase, "frr": scale_phase, "bird": bird_stability_phase}

if __name__ == "__main__":
    main()
