"""ConfigurationState (behaviour reference §5): the validity of the configuration a component
runs, one condition each. The controller writes `controller`, each node role `speaker-<node>`,
to Kubernetes (gateway/kube) or to the manifests folder (gateway/folder.py): the same status."""

import datetime
from typing import Any

CONTROLLER_LABELS = {"metallb.io/component-type": "controller"}
CONTROLLER_CONDITION = "poolReconcilerValid"
SPEAKER_CONDITION = "configReconcilerValid"


def configuration_status(condition: str, valid: bool, message: str) -> dict[str, Any]:
    """The status: `condition` True (Reconciled) or False (ConfigurationError), with `message`."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "conditions": [
            {
                "type": condition,
                "status": "True" if valid else "False",
                "reason": "Reconciled" if valid else "ConfigurationError",
                "message": message,
                "lastTransitionTime": now,
            }
        ],
        "result": "Valid" if valid else "Invalid",
        "errorSummary": message,
    }
