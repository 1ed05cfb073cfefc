"""The BFD service's WatchSessions as node-role changes (the adapter side of
gateway/node/liveness.py).

Each session event becomes a `BfdSessionState` (Up or not, or deleted); the resume token's
instance id becomes a `ServiceInstance("bfd", ...)` (a restart: the role adds its sessions again).
When the stream breaks, every session seen is reported gone: without the service nothing says
whether a peer is alive, so the peers' Leases decide again (reporting them Down would make this
node believe it is the last one and take every address while its peers, without our packets,
have dropped us). The
stream is reopened with the same backoff as the other services' watches.
"""

import asyncio
import logging
from collections.abc import AsyncGenerator

import grpc

from gateway.instance_watch import BACKOFF_FIRST, BACKOFF_MAX, resume_token_instance
from gateway.instances import ServiceInstance
from gateway.node.liveness import BfdSessionState
from metallb.bfd.v1 import bfd_pb2, bfd_pb2_grpc

log = logging.getLogger(__name__)

BfdChange = BfdSessionState | ServiceInstance


async def watch_bfd(stub: bfd_pb2_grpc.BFDServiceStub) -> AsyncGenerator[BfdChange, None]:
    backoff = BACKOFF_FIRST
    seen: set[str] = set()
    while True:
        call = stub.WatchSessions(bfd_pb2.WatchSessionsRequest(), wait_for_ready=True)
        try:
            reported = False
            async for message in call:
                for event in message.events:
                    address = event.session.conf.peer_address
                    deleted = event.type == bfd_pb2.SESSION_EVENT_TYPE_DELETED
                    up = event.session.state.local_state == bfd_pb2.STATE_UP and not deleted
                    if deleted:
                        seen.discard(address)
                    else:
                        seen.add(address)
                    yield BfdSessionState(address, up, deleted)
                if not reported and (instance := resume_token_instance(message)) is not None:
                    reported = True
                    yield ServiceInstance("bfd", instance)
                backoff = BACKOFF_FIRST
        except grpc.aio.AioRpcError as err:
            log.info("bfd watch ended (%s)", err.code().name)
        finally:
            call.cancel()
        for address in sorted(seen):  # no verdict without the service: the Leases decide
            yield BfdSessionState(address, False, deleted=True)
        seen.clear()
        yield ServiceInstance("bfd", None)
        await asyncio.sleep(backoff)  # reconnect backoff (the adapter's own timing)
        backoff = min(backoff * 2, BACKOFF_MAX)
