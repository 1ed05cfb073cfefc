#!/usr/bin/env python3
"""`metallb-grpc-health`: a grpc.health.v1 probe for Kubernetes exec probes.

    metallb-grpc-health ADDRESS [--service NAME] [--live] [--timeout SECONDS]

ADDRESS is what `--listen` took: `unix:/run/metallb/bgp.sock` or `host:port`. Exit 0 when the
server reports SERVING for NAME (default "", the whole server); with `--live`, exit 0 on any
answer at all, so a server draining on SIGTERM (NOT_SERVING) is not restarted by its liveness
probe. Otherwise print why and exit 1: kubelet shows that line in the pod's events.

The speaker's services listen on Unix sockets, which kubelet's native `grpc:` probe cannot reach
(it dials the pod IP, the node's own address under hostNetwork), so the image ships this script
(deploy/Dockerfile copies it to /usr/local/bin).
"""

import argparse
import sys
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def check(address: str, service: str = "", *, live: bool = False, timeout: float = 2.0) -> str:
    """ "" when healthy, else the reason."""
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError as err:
            code = err.code() if isinstance(err, grpc.Call) else None
            if live and code == grpc.StatusCode.NOT_FOUND:
                return ""  # answered: the server runs, it just does not know the name
            return f"{address} {service!r}: {code.name if code else 'error'}: {err}"
    if live or response.status == health_pb2.HealthCheckResponse.SERVING:
        return ""
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    return f"{address} {service!r}: {status}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="metallb-grpc-health", description=__doc__)
    parser.add_argument("address", help="unix:/path or host:port")
    parser.add_argument("--service", default="", help="service name (default: the server)")
    parser.add_argument("--live", action="store_true", help="any answer counts as healthy")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds (default 2)")
    args = parser.parse_args(argv)
    reason = check(args.address, args.service, live=args.live, timeout=args.timeout)
    if reason:
        print(reason, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
