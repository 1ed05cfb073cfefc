"""A graceful stop ends open Watch streams at once instead of waiting out the grace period."""

import time
from collections.abc import Callable
from typing import Any

import grpc
from prometheus_client import CollectorRegistry

from metallb.ipam.v1 import ipam_pb2, ipam_pb2_grpc
from metallb_runtime.server import Server
from services.ipam.service import ipam_binding


def test_stop_with_a_watch_open_takes_well_under_the_grace(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        registry = CollectorRegistry()
        server = Server([ipam_binding(registry)], "127.0.0.1:0", registry=registry, grace=5.0)
        address = await server.start()
        async with grpc.aio.insecure_channel(address) as channel:
            stub = ipam_pb2_grpc.IPAMServiceStub(channel)
            call = stub.WatchAllocations(ipam_pb2.WatchAllocationsRequest())
            first = await call.read()
            assert first.HasField("end_of_snapshot")
            started = time.monotonic()
            await server.stop()
            assert time.monotonic() - started < 2.0
            assert await call.read() == grpc.aio.EOF  # ended cleanly, not cut
            assert await call.code() == grpc.StatusCode.OK

    arun(scenario())
