"""Restart detection, one seam for every service: "service X has instance id Y" (pure).

A service that restarts has lost what a role sent it (L2 announcements, BGP peers and routes, IPAM
assignments), and the role must send it again. Every service reports the same fact: a
`ServiceInstance` change, naming the service and the instance that now answers, or None when it
cannot be reached. `InstanceTracker` holds the rule: what was sent is forgotten when the instance
id differs from the last one seen (a broken watch alone forgets nothing: the same instance may
answer again, and a failed request forgets on its own account).

Where the ids come from is the adapter's business (gateway/instance_watch.py): today each
successful opening of a service's watch stream counts as a new instance, which is conservative
(a reconnect to the same process resends once); a service that reports its own id (IPAM's
`GetStatus.instance_id`, and a uniform id in every service's watch) replaces the count without
any change to the roles.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceInstance:
    service: str  # "l2", "bgp", "bfd", "ipam"
    instance: str | None  # None: unreachable (its watch broke)


class InstanceTracker:
    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def observe(self, change: ServiceInstance) -> bool:
        """Record `change`; True when it is another instance than the last one seen (a restart:
        forget what that service held)."""
        if change.instance is None:
            return False
        previous = self._seen.get(change.service)
        self._seen[change.service] = change.instance
        return previous is not None and previous != change.instance

    def instance(self, service: str) -> str | None:
        return self._seen.get(service)
