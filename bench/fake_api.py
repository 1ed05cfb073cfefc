"""The fake API server of tests/fakekube in a process of its own, driven over stdin/stdout.

bench/gateway.py runs it as a child so that the server's CPU is not charged to the gateway
processes it measures. Protocol (one line each way):

    -> port <n>                       once serving on 127.0.0.1:<n>
    <- seed <json list of objects>    create them (config objects); -> seeded
    <- services <n> <node>            create n LoadBalancer Services and their EndpointSlices
                                      "at once" (straight into the store, as one burst of
                                      watch events); -> created <t_start> <t_end> (monotonic)
    <- wait-status <n>                -> status <t> when n Services have an ingress address
    <- wait-bgp-status <n> <timeout>  -> bgp-status <t> <count> when n ServiceBGPStatus objects
                                      name a peer (or at the timeout)
    <- requests                       -> requests <json {"METHOD resource[/sub]": count}>
    <- quit
"""

from __future__ import annotations

import collections
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from tests.fakekube import FakeKube  # noqa: E402


def service(index: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"svc-{index}", "namespace": "default"},
        "spec": {
            "type": "LoadBalancer",
            "clusterIP": f"10.96.{index // 256}.{index % 256}",
            "clusterIPs": [f"10.96.{index // 256}.{index % 256}"],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "externalTrafficPolicy": "Cluster",
            "selector": {"app": f"svc-{index}"},
            "ports": [{"port": 80, "protocol": "TCP"}],
        },
    }


def endpoint_slice(index: int, node: str) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"svc-{index}-abcde",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": f"svc-{index}"},
        },
        "addressType": "IPv4",
        "endpoints": [
            {
                "addresses": [f"10.244.{index // 256}.{index % 256}"],
                "conditions": {"ready": True, "serving": True},
                "nodeName": node,
            }
        ],
        "ports": [{"port": 8080, "protocol": "TCP"}],
    }


class Tally:
    """Counts the objects of one resource for which `wanted(object)` holds, following the
    store's event history incrementally (polling a list of 10,000 objects would cost the server
    more than what it measures)."""

    def __init__(
        self, kube: FakeKube, plural: str, wanted: Callable[[dict[str, Any]], bool], since: int
    ) -> None:
        self._store = kube.store
        self._plural = plural
        self._wanted = wanted
        self._cursor = since
        self.names: set[str] = set()

    def count(self) -> int:
        events = self._store.events_after(self._cursor)
        for event in events:
            if event.kind.plural != self._plural:
                continue
            name = event.new["metadata"]["name"]
            if event.type != "DELETED" and self._wanted(event.new):
                self.names.add(name)
            else:
                self.names.discard(name)
        if events:
            self._cursor = events[-1].rv
        return len(self.names)


def has_ingress(service: dict[str, Any]) -> bool:
    return bool((service.get("status") or {}).get("loadBalancer", {}).get("ingress"))


def names_a_peer(status_object: dict[str, Any]) -> bool:
    return bool((status_object.get("status") or {}).get("peers"))


def _request_kind(method: str, path: str) -> str:
    """`PUT services/status`: the method, the resource and the subresource of a request."""
    parts = [p for p in path.split("/") if p]
    if "namespaces" in parts[:-1] and len(parts) > parts.index("namespaces") + 2:
        parts = parts[parts.index("namespaces") + 2 :]
    else:
        parts = parts[2:] if parts[:1] == ["api"] else parts[3:]
    resource = parts[0] if parts else "?"
    return f"{method} {resource}" + ("/" + parts[2] if len(parts) > 2 else "")


PROGRESS = bool(os.environ.get("BENCH_PROGRESS"))


def main() -> None:
    # A real apiserver keeps minutes of watch history: a burst of 20,000 events must not 410.
    with FakeKube(history_limit=200_000) as kube:
        print(f"port {kube.port}", flush=True)
        for line in sys.stdin:
            command, _, arg = line.strip().partition(" ")
            if command == "seed":
                for obj in json.loads(arg):
                    kube.create(obj)
                print("seeded", flush=True)
            elif command == "services":
                count, node = arg.split()
                allocated = Tally(kube, "services", has_ingress, since=kube.store.resource_version)
                start = time.monotonic()
                # One burst: watchers wait for the store lock and then see every event at once.
                with kube.store.lock:
                    for i in range(int(count)):
                        kube.create(service(i))
                        kube.create(endpoint_slice(i, node))
                print(f"created {start} {time.monotonic()}", flush=True)
            elif command == "wait-status":
                want = int(arg)
                last = time.monotonic()
                while (count := allocated.count()) < want:
                    time.sleep(0.02)
                    if PROGRESS and time.monotonic() - last >= 1.0:
                        last = time.monotonic()
                        print(f"progress {last - start:.1f} s {count}", file=sys.stderr)
                print(f"status {time.monotonic()}", flush=True)
                if PROGRESS:
                    counts = collections.Counter(
                        _request_kind(r.method, r.path) for r in kube.requests
                    )
                    print(f"requests at status: {json.dumps(counts)}", file=sys.stderr)
            elif command == "wait-bgp-status":
                want, timeout = int(arg.split()[0]), float(arg.split()[1])
                reported = Tally(kube, "servicebgpstatuses", names_a_peer, 0)
                deadline = time.monotonic() + timeout
                while reported.count() < want and time.monotonic() < deadline:
                    time.sleep(0.05)
                print(f"bgp-status {time.monotonic()} {reported.count()}", flush=True)
            elif command == "requests":
                counts = collections.Counter(_request_kind(r.method, r.path) for r in kube.requests)
                print(f"requests {json.dumps(counts)}", flush=True)
            elif command == "quit":
                return


if __name__ == "__main__":
    main()
