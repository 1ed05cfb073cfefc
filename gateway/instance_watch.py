"""`ServiceInstance` changes from a service's watch stream (the adapter side of
gateway/instances.py).

`watch_instances` keeps a server-streaming watch open (`WatchEvents`, `WatchPeers`,
`WatchSessions`), reconnecting with backoff (0.1 s doubling to 0.5 s), and reports the instance
that answers, and None when the stream breaks. Every service's watch carries the id of the
process that answers in its resume token (metallb.common.v1.ResumeToken, from the end of the
snapshot on): `resume_token_instance` reads it, so a reconnect to the same process resends
nothing. Without `instance_of`, every new stream counts as a new instance. With `report`, every
response is also yielded as what `report` makes of it (the node role's published facts,
gateway/node/facts.py), after the instance it came from.
"""

import asyncio
import itertools
import logging
from collections.abc import AsyncGenerator, AsyncIterable, Callable
from typing import Any, TypeVar

import grpc

from gateway.instances import ServiceInstance

log = logging.getLogger(__name__)

BACKOFF_FIRST, BACKOFF_MAX = 0.1, 0.5
ReportT = TypeVar("ReportT")


def resume_token_instance(message: Any) -> str | None:
    """The instance id in a Watch* response's resume token (None before the end of snapshot)."""
    if not message.HasField("resume_token"):
        return None
    return str(message.resume_token.instance_id) or None


async def watch_instances(
    service: str,
    open_stream: Callable[[], AsyncIterable[Any]],
    instance_of: Callable[[Any], str | None] | None = None,
    report: Callable[[Any], ReportT] | None = None,
) -> AsyncGenerator[ServiceInstance | ReportT, None]:
    streams = itertools.count(1)
    backoff = BACKOFF_FIRST
    while True:
        call = open_stream()
        try:
            reported = False
            async for message in call:
                if not reported:
                    number = next(streams)
                    instance = instance_of(message) if instance_of else f"stream-{number}"
                    if instance is not None:
                        reported = True
                        yield ServiceInstance(service, instance)
                if report is not None:
                    yield report(message)
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
