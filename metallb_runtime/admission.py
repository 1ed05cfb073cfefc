"""Admission of unary-request calls: at most N read and run their request at once, the others
wait, a bounded time, with their message still unread.

grpc.aio reads a unary call's request before its handler runs, so a limit taken inside the
handler would come after the cost it should bound. `AdmissionInterceptor` serves each such method
as the client-streaming kind instead (the same bytes on the wire): its handler runs before any
message is read, takes a permit, and only then reads the one request and runs the method's own
handler. Until it reads, HTTP/2 flow control lets a client send one stream window (64 KiB; BDP
probing, which would grow it, is off: `metallb_runtime/server.py`), so a call waiting for
admission costs its window, not its 4 MiB message. A permit is given back when the call ends,
its response sent: what a call holds until then is counted (the message as gRPC received it, the
parsed request, the domain objects it was converted to, the response). Without it, 16 clients
each sending a 4 MiB ConvergeServices took IPAM from 92 MB to 470 MB (bench/limits.py; 155 MB
now, docs/security.md). Every
connection and every stream waits in the same queue, so opening more of them gains a client
nothing.

Streams are not counted: a Watch lives as long as its client wants and would hold a permit for
good (`metallb_runtime/limits.py` bounds how many are open). A Watch takes a permit only while
its request is read and parsed.

Methods named `serial` (a service's complete-set calls: IPAM's ConvergeServices, SetPools and
RestoreAllocations) are also admitted one call at a time per method, before the shared permit is
taken: such a call replaces the service's whole state, so its owner runs them one after the other
anyway, and two in progress at once would only hold two whole requests, their converted forms
and their responses together (each is the largest thing the service reads) for no gain. A second
one waits, its message unread, without holding a shared permit, so other calls go on meanwhile.

A call that waits `wait` seconds without a permit is answered RESOURCE_EXHAUSTED, saying why and
which flags raise the bounds; a call whose client gives up while waiting leaves the queue. An
admitted call whose message does not arrive within `read_wait` seconds is answered
RESOURCE_EXHAUSTED too and gives its permit back, so clients that open calls and never send
their message cannot keep the others out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import grpc

from metallb_runtime.handlers import WrappingInterceptor, kind_of, stream_items

log = logging.getLogger("metallb_runtime.rpc")

#: Calls reading or running their request at once, per server (both listeners). What a 4 MiB
#: request costs IPAM while it runs ranges from ~10 MB (a refused GetPool) to ~50 MB (a
#: ConvergeServices of 39,612 new Services, most of it the state they leave; one at a time, as
#: a serial method): the bound keeps the peak at a few of them. Two, not one, so that a slow
#: call (SetPools validating in a worker thread) leaves room for a health check; handlers share
#: one event loop, so a third call in progress would wait for the loop, not finish sooner.
DEFAULT_MAX_CALLS = 2
#: How long a call waits for admission before RESOURCE_EXHAUSTED: longer than sixteen 4 MiB
#: ConvergeServices of 33,000 Services take one after the other (bench/limits.py, ~40 s).
DEFAULT_CALL_WAIT = 60.0
#: How long an admitted call may take to deliver its request message: a permit is held while it
#: is read, so a client that opens calls and never sends their message must not keep every other
#: call out (a 4 MiB message over a unix socket or loopback takes milliseconds).
DEFAULT_READ_WAIT = 10.0


class Admission:
    """At most `limit` permits out at once, and one call at a time of each `serial` method (full
    names, `/package.Service/Method`); a caller waits at most `wait` seconds in all."""

    def __init__(
        self,
        limit: int = DEFAULT_MAX_CALLS,
        wait: float = DEFAULT_CALL_WAIT,
        read_wait: float = DEFAULT_READ_WAIT,
        serial: Iterable[str] = (),
    ) -> None:
        if limit <= 0:
            raise ValueError("--max-calls must be positive")
        if wait < 0:
            raise ValueError("--call-wait must not be negative")
        self.limit = limit
        self.wait = wait
        self.read_wait = read_wait
        self.serial = frozenset(serial)
        self.in_use = 0
        self.waiting = 0
        # Created in the server's loop, at its first call.
        self._free: asyncio.Semaphore | None = None
        self._serial: dict[str, asyncio.Lock] = {}
        self._changed: asyncio.Event | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        if self._free is None:
            self._free = asyncio.Semaphore(self.limit)
        return self._free

    async def acquire(self, method: str = "") -> bool:
        """True once a permit is ours (and, for a serial `method`, its turn); False when they did
        not come within `wait` seconds."""
        deadline = asyncio.get_running_loop().time() + self.wait
        turn = self._turn(method)
        if turn is not None and not await self._take(turn, deadline):
            return False
        admitted = False
        try:  # a turn not followed by a permit (timed out, or the client left) is given back
            admitted = await self._take(self._semaphore(), deadline)
        finally:
            if turn is not None and not admitted:
                turn.release()
        if not admitted:
            return False
        self.in_use += 1
        self._notify()
        return True

    def _turn(self, method: str) -> asyncio.Lock | None:
        if method not in self.serial:
            return None
        return self._serial.setdefault(method, asyncio.Lock())

    async def _take(self, lock: asyncio.Semaphore | asyncio.Lock, deadline: float) -> bool:
        if not lock.locked():
            await lock.acquire()  # returns at once: it is free
            return True
        self.waiting += 1
        self._notify()
        try:
            left = deadline - asyncio.get_running_loop().time()
            await asyncio.wait_for(lock.acquire(), max(left, 0))
        except TimeoutError:
            return False
        finally:
            self.waiting -= 1
        return True

    def release(self, method: str = "") -> None:
        assert self._free is not None
        self.in_use -= 1
        self._free.release()
        turn = self._serial.get(method)
        if turn is not None:
            turn.release()
        self._notify()

    def changed(self) -> Awaitable[bool]:
        """What to await until `in_use` or `waiting` changes after this call (for tests and
        diagnostics); the event is taken now, so a change before the await is not missed."""
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed.wait()

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def _one_at_a_time(self, method: str) -> str:
        if method not in self.serial:
            return ""
        return " or another call of this method (one at a time: each replaces the whole state)"

    def refusal(self, method: str) -> str:
        return (
            f"{method}: the server is busy: {self.in_use} calls in progress, its limit "
            f"(--max-calls {self.limit}){self._one_at_a_time(method)}, and this call waited "
            f"{self.wait:g} s for one to end (--call-wait)"
        )


async def _admitted_request(
    admission: Admission, method: str, context: grpc.aio.ServicerContext, *, hold: bool
) -> Any:
    """The call's one request, read once a permit is held; the permit is given back when the
    call ends (`hold`) or once the request is read."""
    if not await admission.acquire(method):
        log.info("%s RESOURCE_EXHAUSTED: waited %g s for admission", method, admission.wait)
        await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, admission.refusal(method))
    if hold:
        context.add_done_callback(lambda _: admission.release(method))
        request = await _read(admission, method, context)
    else:
        try:
            request = await _read(admission, method, context)
        finally:
            admission.release(method)
    if request is grpc.aio.EOF:  # a unary call without its message: not a client of ours
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{method}: no request message")
    return request


async def _read(admission: Admission, method: str, context: grpc.aio.ServicerContext) -> Any:
    """The request message, within `read_wait` seconds of admission (the permit is held)."""
    try:
        return await asyncio.wait_for(context.read(), admission.read_wait)
    except TimeoutError:
        log.info("%s RESOURCE_EXHAUSTED: no request within %g s", method, admission.read_wait)
        await context.abort(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"{method}: the request message did not arrive within {admission.read_wait:g} s of "
            "the call's admission (a permit is held while it is read)",
        )


def _unary(
    inner: Callable[..., Awaitable[Any]], admission: Admission, method: str
) -> Callable[..., Awaitable[Any]]:
    async def unary(requests: Any, context: grpc.aio.ServicerContext) -> Any:
        # The request is the handler's alone (not a local here): a handler may drop it once
        # converted, before the call ends (IPAM's ConvergeServices does).
        return await inner(await _admitted_request(admission, method, context, hold=True), context)

    return unary


def _stream(
    inner: Callable[..., Any], admission: Admission, method: str
) -> Callable[..., AsyncIterator[Any]]:
    async def stream(requests: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        request = await _admitted_request(admission, method, context, hold=False)
        async for item in stream_items(inner(request, context)):
            yield item

    return stream


class AdmissionInterceptor(WrappingInterceptor):
    """Serves each unary-request method so that its request is read only once `admission` gives
    the call a permit (see the module's docstring). Client-streaming methods are left as they
    are (our services have none)."""

    def __init__(self, admission: Admission) -> None:
        super().__init__()
        self.admission = admission

    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        kind = kind_of(handler)
        inner = getattr(handler, kind)
        if kind == "unary_unary":
            return grpc.stream_unary_rpc_method_handler(
                _unary(inner, self.admission, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if kind == "unary_stream":
            return grpc.stream_stream_rpc_method_handler(
                _stream(inner, self.admission, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler
