"""Where a node's published facts go (gateway/node/facts.py): the `FactsWriter` seam, with one
implementation per source (the folder: gateway/folder.py `FolderFactsWriter`; Kubernetes:
gateway/kube/node_facts.py), and how the node role queues its writes."""

import functools
from collections.abc import Mapping
from typing import Any, Protocol

from gateway.controller.writes import WriteQueue
from gateway.node.facts import FactOp, FactPrune, FactWrite


class FactsWriter(Protocol):
    def write_fact(
        self, plural: str, name: str, labels: Mapping[str, str], status: Mapping[str, Any] | None
    ) -> None:
        """Bring this node's object `name` to `status` (None: delete it)."""

    def prune(self, plural: str, keep: frozenset[str]) -> None:
        """Delete this node's objects of `plural` not named in `keep`."""


def queue_fact_op(op: FactOp, writer: FactsWriter, queue: WriteQueue) -> None:
    """One fact write on the node role's queue (keyed: the latest write per object wins)."""
    match op:
        case FactWrite(plural, name, labels, status):
            write = functools.partial(writer.write_fact, plural, name, labels, status)
            queue.put(f"facts/{plural}/{name}", write)
        case FactPrune(plural, keep):
            queue.put(f"facts-prune/{plural}", functools.partial(writer.prune, plural, keep))
