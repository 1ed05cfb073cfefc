"""Failing writes, on virtual time: reported (a Warning event, metrics, the ConfigurationState
condition `statusWriterValid`, readiness) while they fail, tried again later, and cleared when
they go through or their object is gone. The write queue's reports (`WriteOutcome`) are inputs
like changes; the queue itself is tested in test_write_queue.py."""

from typing import Any

from gateway.configuration_state import UNKNOWN_ERROR, WRITES_CONDITION
from gateway.controller.reconciler import (
    BATCH_WAIT,
    FAILING_AFTER,
    IDLE_CHECK,
    STATUS_UPDATE_FAILED,
    WRITE_RETRY,
    Command,
    EmitEvent,
    WriteConfigurationState,
)
from gateway.controller.writes import WriteOutcome
from tests.gateway.test_controller_reconciler import describe as describe_command
from tests.gateway.test_controller_reconciler import service, started
from tests.gateway.virtual_time import Advance, Change, Check, Expect, play

REFUSED = '422 Unprocessable Entity: Service "web" is invalid'


def describe(command: Command) -> object:
    """As the reconciler tests describe commands, with the writes condition and the events'
    messages shown."""
    match command:
        case WriteConfigurationState(valid=valid, extra=(writes,)):
            assert writes.type == WRITES_CONDITION
            if writes.ok:
                return ("ConfigurationState", valid, "writes ok")
            assert writes.reason == UNKNOWN_ERROR
            return ("ConfigurationState", valid, writes.message)
        case EmitEvent(event=event):
            return ("Event", event.type, event.reason, event.message)
    return describe_command(command)


def sample(h: Any, name: str, labels: dict[str, str] | None = None) -> float:
    value = h.reconciler.metrics.registry.get_sample_value(name, labels or {})
    return 0.0 if value is None else float(value)


def only_idle_checks(h: Any) -> bool:
    """Nothing but the idle GetStatus (every `IDLE_CHECK`) was issued since the last look."""
    issued = h.vt.take()
    assert set(issued) <= {("GetStatus",)}, issued
    return len(issued) >= 1 / IDLE_CHECK


def failed(key: str, tries: int, error: str = REFUSED, *, dropped: bool = False) -> Change:
    return Change(WriteOutcome(key, error, tries, dropped))


def test_a_refused_status_write_is_reported_tried_again_later_and_cleared_when_it_succeeds() -> (
    None
):
    h = started(service("web"))
    h.source.put(service("web"))  # the first pass's write of web's status never landed
    h.vt.describe = describe
    drop_event = (
        "Event",
        "Warning",
        STATUS_UPDATE_FAILED,
        f"failed to update the status after 3 tries, trying again in {WRITE_RETRY:g}s: {REFUSED}",
    )
    failing = f"status writes failing for 1 object(s): Service/ns/web: {REFUSED}"
    play(
        h.vt,
        [
            # The first write of web's status (from the first pass) is refused, tried again.
            failed("Service/ns/web", 1),
            failed("Service/ns/web", FAILING_AFTER - 1),
            Expect(),  # a write that failed twice is not yet "failing"
            Check(lambda: h.reconciler.healthy),
            failed("Service/ns/web", FAILING_AFTER),
            # Failing: the condition names it; not ready.
            Expect(("ConfigurationState", True, failing)),
            Check(lambda: not h.reconciler.healthy),
            failed("Service/ns/web", FAILING_AFTER, dropped=True),
            # Dropped: the Service gets a Warning event.
            Expect(drop_event),
            Check(lambda: h.reconciler.failing_writes == {"Service/ns/web": REFUSED}),
            Check(
                lambda: (
                    sample(h, "metallb_k8s_client_write_errors_total", {"kind": "Service"})
                    == FAILING_AFTER
                )
            ),
            Check(
                lambda: (
                    sample(h, "metallb_k8s_client_dropped_writes_total", {"kind": "Service"}) == 1
                )
            ),
            Check(lambda: sample(h, "metallb_k8s_client_failing_writes") == 1),
            # Nothing waits on it: other Services are decided and written meanwhile.
            Check(lambda: h.source.put(service("other"))),
            Change(("Service", "ns/other")),
            Advance(BATCH_WAIT),
            Check(h.serve),
            Expect(
                ("Converge", "batch", ("ns/other",)),
                ("Write", "ns/other", ("192.0.2.1",)),
                ("Event", "Normal", "IPAllocated", 'Assigned IP ["192.0.2.1"]'),
                ("ListPools",),
                ("PoolStatus", "p", 2),
            ),
            # WRITE_RETRY after the drop web is decided again, and its status written again.
            Advance(WRITE_RETRY - BATCH_WAIT - 0.01),
            Check(h.serve),
            Check(lambda: only_idle_checks(h)),
            Advance(0.01),
            Check(h.serve),
            Expect(
                ("Converge", "batch", ("ns/web",)),
                ("Write", "ns/web", ("192.0.2.0",)),
                # (the Service still shows no address: MetalLB tells its assignment again)
                ("Event", "Normal", "IPAllocated", 'Assigned IP ["192.0.2.0"]'),
                ("ListPools",),
            ),
            Check(lambda: not h.reconciler.healthy),  # until it has gone through
            Change(WriteOutcome("Service/ns/web")),
            Expect(("ConfigurationState", True, "writes ok")),
            Check(lambda: h.reconciler.healthy),
            Check(lambda: sample(h, "metallb_k8s_client_failing_writes") == 0),
        ],
    )


def test_writes_failing_for_a_while_make_the_controller_unready_until_they_go_through() -> None:
    """An API answering 500 (or unreachable): every write is retried by the queue, never dropped;
    after `FAILING_AFTER` failures in a row the object counts as failing (no event: nothing was
    given up, and the event would fail too)."""
    h = started(service("a"), service("b"))
    h.vt.describe = describe
    outage = "500 Internal Server Error: injected failure"
    play(
        h.vt,
        [
            *(failed(f"Service/ns/{name}", n, outage) for n in (1, 2, 3) for name in "ab"),
            Expect(
                (
                    "ConfigurationState",
                    True,
                    f"status writes failing for 1 object(s): Service/ns/a: {outage}",
                ),
                (
                    "ConfigurationState",
                    True,
                    f"status writes failing for 2 object(s): Service/ns/a: {outage}",
                ),
            ),
            Check(lambda: not h.reconciler.healthy),
            failed("Service/ns/a", 4, outage),
            Expect(),  # the same report: not written again
            Change(WriteOutcome("Service/ns/a")),
            Check(lambda: not h.reconciler.healthy),  # b still fails
            Change(WriteOutcome("Service/ns/b")),
            Check(lambda: h.reconciler.healthy),
            Expect(
                (
                    "ConfigurationState",
                    True,
                    f"status writes failing for 1 object(s): Service/ns/b: {outage}",
                ),
                ("ConfigurationState", True, "writes ok"),
            ),
            # Even the retry timer of a drop is not armed: nothing was dropped.
            Advance(WRITE_RETRY + 1),
            Check(h.serve),
            Check(lambda: only_idle_checks(h)),
        ],
    )


def test_a_failing_object_that_is_deleted_is_no_longer_failing() -> None:
    h = started(service("web"))
    h.vt.describe = describe
    play(
        h.vt,
        [
            failed("Service/ns/web", FAILING_AFTER),
            failed("Service/ns/web", FAILING_AFTER, dropped=True),
            Check(lambda: not h.reconciler.healthy),
            Check(lambda: h.source.delete("Service", "ns/web")),
            Change(("Service", "ns/web")),
            Advance(BATCH_WAIT),
            Check(h.serve),
            Check(lambda: h.reconciler.healthy),
            Check(lambda: h.reconciler.failing_writes == {}),
        ],
    )
    assert ("ConfigurationState", True, "writes ok") in h.vt.take()


def test_a_failing_configuration_state_write_is_not_reported_through_itself() -> None:
    """The condition lives in ConfigurationState: its own failing write makes the controller
    unready but is left out of the condition (it could not be written anyway), and does not
    make the reconciler write ConfigurationState again and again."""
    h = started()
    h.vt.describe = describe
    play(
        h.vt,
        [
            failed("ConfigurationState", FAILING_AFTER, "403 Forbidden"),
            failed("ConfigurationState", FAILING_AFTER, "403 Forbidden", dropped=True),
            Expect(),
            Check(lambda: not h.reconciler.healthy),
            # WRITE_RETRY later, the ConfigurationState is written again.
            Advance(WRITE_RETRY),
            Check(h.serve),
            Check(lambda: ("ConfigurationState", True, "writes ok") in h.vt.take()),
            Change(WriteOutcome("ConfigurationState")),
            Check(lambda: h.reconciler.healthy),
        ],
    )


def test_a_failing_service_that_is_no_longer_ours_or_already_right_is_no_longer_failing() -> None:
    """A Service whose write failed and that became another implementation's (another
    loadBalancerClass) is never written again: it must not keep the controller unready
    forever; nor one whose status someone else made right meanwhile (the next decision has
    nothing to write). (A Service that became a ClusterIP one is still ours: its status is
    cleared, and that write must go through.)"""
    h = started(service("web"), service("db"))
    h.vt.describe = describe
    web_now = h.source.snapshot().objects["Service"]["ns/web"]
    other = {**web_now, "spec": {**web_now["spec"], "loadBalancerClass": "other"}}
    play(
        h.vt,
        [
            *(failed(f"Service/ns/{name}", FAILING_AFTER, dropped=True) for name in ("web", "db")),
            Check(lambda: set(h.reconciler.failing_writes) == {"Service/ns/web", "Service/ns/db"}),
            Check(lambda: h.source.put(other)),
            Change(("Service", "ns/web")),
            Advance(BATCH_WAIT),
            Check(h.serve),
            Check(lambda: set(h.reconciler.failing_writes) == {"Service/ns/db"}),
            # db's status already holds its address (the source has it): deciding it again
            # writes nothing, and it is no longer failing.
            Advance(WRITE_RETRY),
            Check(h.serve),
            Check(lambda: h.reconciler.healthy),
        ],
    )


def test_a_dropped_pool_status_write_gets_a_warning_event_on_the_pool() -> None:
    h = started(service("web"))
    events: list[tuple[str, str, str]] = []

    def on_pool(command: Command) -> object:
        if isinstance(command, EmitEvent):
            meta = command.involved["metadata"]
            events.append((command.involved["kind"], meta["namespace"], meta["name"]))
        return describe(command)

    h.vt.describe = on_pool
    refused = '422 Unprocessable Entity: IPAddressPool "p" is invalid'
    failing = f"status writes failing for 1 object(s): IPAddressPool/p: {refused}"
    dropped = f"failed to update the status after 3 tries, trying again in 30s: {refused}"
    play(
        h.vt,
        [
            failed("IPAddressPool/p", FAILING_AFTER, refused, dropped=True),
            Expect(
                ("Event", "Warning", STATUS_UPDATE_FAILED, dropped),
                ("ConfigurationState", True, failing),
            ),
        ],
    )
    assert events == [("IPAddressPool", "metallb-system", "p")]
