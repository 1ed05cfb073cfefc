"""`ServiceInstance` changes from a service's watch stream (the adapter side of
gateway/instances.py).

`watch_instances` keeps a server-streaming watch open (`WatchEvents`, `WatchPeers`,
`WatchSessions`), reconnecting with backoff (0.1 s doubling to 0.5 s), and reports the instance
that answers on its first message, and None when the stream breaks. `instance_of(message)` reads
the id a service puts in its watch; without one (today's L2, BGP and BFD watches) every new
stream counts as a new instance.
"""

import asyncio
import itertools
import logging
from collections.abc import AsyncGenerator, AsyncIterable, Callable

import grpc

from gateway.instances import ServiceInstance

log = logging.getLogger(__name__)

BACKOFF_FIRST, BACKOFF_MAX = 0.1, 0.5


async def watch_instances(
    service: str,
    open_stream: Callable[[], AsyncIterable[object]],
    instance_of: Callable[[object], str] | None = None,
) -> AsyncGenerator[ServiceInstance, None]:
    streams = itertools.count(1)
    backoff = BACKOFF_FIRST
    while True:
        call = open_stream()
        try:
            first = True
            async for message in call:
                if first:
                    first = False
                    number = next(streams)
                    instance = instance_of(message) if instance_of else f"stream-{number}"
                    yield ServiceInstance(service, instance)
                backoff = BACKOFF_FIRST
        except grpc.aio.AioRpcError as err:
            log.info("%s watch ended (%s): will resend on reconnect", service, err.code().name)
        finally:
            cancel = getattr(call, "cancel", None)
            if cancel is not None:
                cancel()
        yield ServiceInstance(service, None)
        await asyncio.sleep(backoff)  # reconnect backoff (the adapter's own timing)
        backoff = min(backoff * 2, BACKOFF_MAX)
