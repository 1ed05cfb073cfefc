"""ConfigurationState (behaviour reference §5): the validity of the configuration a component
runs, one condition per reconciler. The controller writes `controller`, each node role
`speaker-<node>`, to Kubernetes (gateway/kube) or to the manifests folder (gateway/folder.py):
the same status.

Beside MetalLB's `poolReconcilerValid`, the controller reports whether its status writes go
through (`statusWriterValid`): False with reason `UnknownError` (MetalLB's reason for what is
not a configuration error) while writes fail. As in MetalLB, only a `ConfigurationError` makes
`result` Invalid and goes into `errorSummary`: failing writes are not the user's configuration.
"""

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

CONTROLLER_LABELS = {"metallb.io/component-type": "controller"}
CONTROLLER_CONDITION = "poolReconcilerValid"
SPEAKER_CONDITION = "configReconcilerValid"
WRITES_CONDITION = "statusWriterValid"
RECONCILED, CONFIGURATION_ERROR, UNKNOWN_ERROR = "Reconciled", "ConfigurationError", "UnknownError"


@dataclass(frozen=True)
class Condition:
    """One condition: `ok` True (reason Reconciled) or False with `reason` and `message`."""

    type: str
    ok: bool
    message: str = ""
    reason: str = CONFIGURATION_ERROR  # when not ok


def configuration_status(
    condition: str, valid: bool, message: str, extra: Sequence[Condition] = ()
) -> dict[str, Any]:
    """The status: `condition` True (Reconciled) or False (ConfigurationError), with `message`,
    then the `extra` conditions; `result` and `errorSummary` as MetalLB computes them (§5)."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    conditions = [Condition(condition, valid, message), *extra]
    errors = [c.message for c in conditions if not c.ok and c.reason == CONFIGURATION_ERROR]
    return {
        "conditions": [
            {
                "type": c.type,
                "status": "True" if c.ok else "False",
                "reason": RECONCILED if c.ok else c.reason,
                "message": c.message,
                "lastTransitionTime": now,
            }
            for c in conditions
        ],
        "result": "Invalid" if errors else "Valid",
        "errorSummary": "\n".join(errors),
    }
