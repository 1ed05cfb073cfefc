"""Admission of unary calls (issue 15: IPAM's peak RSS under 16 concurrent maximum-size requests
< 2x idle): at most `--max-calls` calls read and run their request at once, and one at a time of a
serial method, the others wait with their message unread, a bounded time; Watch streams do not
hold a permit.

The tests serve a small generic service whose handlers block on events, and whose request
deserializer records which requests the server has read."""

import asyncio
import gc
import tempfile
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
from prometheus_client import CollectorRegistry

from metallb_rules.errors import InvalidArgumentError
from metallb_runtime.server import Server, ServiceBinding
from metallb_runtime.transport import ServerTransport
from tests.conftest import run_async

SERVICE = "test.admission.Blocking"
BIG = b"x" * (3 << 20)  # a large request: 3 MiB, under the default 4 MiB limit


class Request:
    """A parsed request (weak-referenceable, unlike protobuf messages)."""

    def __init__(self, data: bytes) -> None:
        self.data = data


class Backend:
    """Handlers that wait for the test: `Hold` (unary) until `release`, `Stream` (a Watch-like
    unary-stream) forever; `read` lists the requests deserialized, in order."""

    def __init__(self) -> None:
        self.read: list[bytes] = []
        self.started: dict[bytes, asyncio.Event] = {}
        self.release = asyncio.Event()
        self.parsed: list[weakref.ref[Request]] = []

    def event(self, name: bytes) -> asyncio.Event:
        return self.started.setdefault(name, asyncio.Event())

    def parse(self, data: bytes) -> Request:
        name = data[:8] if data != BIG else b"big"
        self.read.append(name)
        request = Request(data)
        self.parsed.append(weakref.ref(request))
        return request

    async def hold(self, request: Request, context: grpc.aio.ServicerContext) -> bytes:
        name = request.data[:8] if request.data != BIG else b"big"
        self.event(name).set()
        if name.startswith(b"fail"):
            raise InvalidArgumentError("refused by the test", "data")
        if name.startswith(b"hold"):
            await self.release.wait()
        return b"done:" + name

    async def drop(self, request: Request, context: grpc.aio.ServicerContext) -> bytes:
        """Drops its request, and says whether that freed it."""
        ref = weakref.ref(request)
        del request
        return b"freed" if ref() is None else b"kept"

    async def stream(
        self, request: Request, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        yield b"first"
        await asyncio.Event().wait()  # a Watch: open until its client leaves

    def register(self, server: grpc.aio.Server) -> None:
        handlers = {
            "Hold": grpc.unary_unary_rpc_method_handler(self.hold, request_deserializer=self.parse),
            "Serial": grpc.unary_unary_rpc_method_handler(
                self.hold, request_deserializer=self.parse
            ),
            "Drop": grpc.unary_unary_rpc_method_handler(self.drop, request_deserializer=self.parse),
            "Stream": grpc.unary_stream_rpc_method_handler(
                self.stream, request_deserializer=self.parse
            ),
        }
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))


@asynccontextmanager
async def serving(max_calls: int, call_wait: float = 60.0) -> AsyncIterator[tuple[Server, Backend]]:
    backend = Backend()
    folder = tempfile.mkdtemp(prefix="mlb-adm-")
    server = Server(
        [ServiceBinding(SERVICE, backend.register, serial=frozenset({f"/{SERVICE}/Serial"}))],
        f"unix:{folder}/s.sock",
        registry=CollectorRegistry(),
        grace=0.2,
        transport=ServerTransport(max_calls=max_calls, call_wait=call_wait),
    )
    await server.start()
    try:
        yield server, backend
    finally:
        backend.release.set()
        await server.stop()
        Path(folder, "s.sock").unlink(missing_ok=True)
        Path(folder).rmdir()


def hold(ch: grpc.aio.Channel) -> Callable[..., Any]:
    method: Callable[..., Any] = ch.unary_unary(f"/{SERVICE}/Hold")
    return method


async def until(server: Server, check: Callable[[], bool]) -> None:
    """Wait until the admission's counts satisfy `check` (woken at each change, no polling)."""
    admission = server.admission
    assert admission is not None
    while not check():
        await asyncio.wait_for(admission.changed(), 10)


def test_a_large_call_is_not_read_until_the_admitted_one_ends() -> None:
    """Bound 1: a 3 MiB call on the same connection (another stream) and one on another
    connection wait with their request unread while the first call runs; both are then served,
    one at a time."""

    async def scenario() -> None:
        async with (
            serving(max_calls=1) as (server, backend),
            grpc.aio.insecure_channel(server.address) as one,
            grpc.aio.insecure_channel(server.address) as two,
        ):
            first = asyncio.ensure_future(hold(one)(b"hold-1"))
            await backend.event(b"hold-1").wait()
            same_connection = asyncio.ensure_future(hold(one)(BIG))
            other_connection = asyncio.ensure_future(hold(two)(b"other"))
            assert server.admission is not None
            await until(server, lambda: server.admission.waiting == 2)  # type: ignore[union-attr]
            assert backend.read == [b"hold-1"]  # neither waiting request was read
            backend.release.set()
            answers = list(await asyncio.gather(first, same_connection, other_connection))
            assert answers == [b"done:hold-1", b"done:big", b"done:other"]
            assert backend.read[0] == b"hold-1" and sorted(backend.read[1:]) == [b"big", b"other"]
            assert server.admission.in_use == 0

    run_async(scenario())


def test_a_serial_method_runs_one_call_at_a_time_and_leaves_the_other_permits() -> None:
    """Bound 2, `Serial` named serial (as IPAM's complete-set calls are): while one Serial call
    runs, a second one waits with its 3 MiB request unread, holding no permit, so another
    method's call is still served; it is read once the first ends."""

    async def scenario() -> None:
        async with (
            serving(max_calls=2) as (server, backend),
            grpc.aio.insecure_channel(server.address) as ch,
        ):
            serial: Callable[..., Any] = ch.unary_unary(f"/{SERVICE}/Serial")
            first = asyncio.ensure_future(serial(b"hold-1"))
            await backend.event(b"hold-1").wait()
            second = asyncio.ensure_future(serial(BIG))
            await until(server, lambda: server.admission.waiting == 1)  # type: ignore[union-attr]
            assert await asyncio.wait_for(hold(ch)(b"other"), 10) == b"done:other"
            assert backend.read == [b"hold-1", b"other"]  # the second Serial call is unread
            backend.release.set()
            assert list(await asyncio.gather(first, second)) == [b"done:hold-1", b"done:big"]
            assert server.admission is not None and server.admission.in_use == 0

    run_async(scenario())


def test_a_serial_call_that_waits_too_long_is_refused_and_gives_its_turn_back() -> None:
    """A Serial call waiting past `--call-wait` for the running one is refused, naming why; the
    next Serial call is served once the first ends (the refused call left no turn taken)."""

    async def scenario() -> None:
        async with (
            serving(max_calls=2, call_wait=0.2) as (server, backend),
            grpc.aio.insecure_channel(server.address) as ch,
        ):
            serial: Callable[..., Any] = ch.unary_unary(f"/{SERVICE}/Serial")
            first = asyncio.ensure_future(serial(b"hold-1"))
            await backend.event(b"hold-1").wait()
            try:
                await serial(BIG)
            except grpc.aio.AioRpcError as err:
                assert err.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
                assert "another call of this method" in (err.details() or "")
            else:
                raise AssertionError("the waiting Serial call was served")
            backend.release.set()
            assert await first == b"done:hold-1"
            assert await asyncio.wait_for(serial(b"again"), 10) == b"done:again"
            assert b"big" not in backend.read

    run_async(scenario())


def test_a_watch_stream_holds_no_permit() -> None:
    """Bound 1 with a Watch-like stream open: a unary call is still admitted (the stream holds
    no permit), and a second one waits for it (the bound applies)."""

    async def scenario() -> None:
        async with (
            serving(max_calls=1) as (server, backend),
            grpc.aio.insecure_channel(server.address) as ch,
        ):
            watch = ch.unary_stream(f"/{SERVICE}/Stream")(b"watch")
            assert await watch.read() == b"first"
            first = asyncio.ensure_future(hold(ch)(b"hold-1"))
            await backend.event(b"hold-1").wait()
            second = asyncio.ensure_future(hold(ch)(b"second"))
            await until(server, lambda: server.admission.waiting == 1)  # type: ignore[union-attr]
            assert b"second" not in backend.read
            backend.release.set()
            assert list(await asyncio.gather(first, second)) == [b"done:hold-1", b"done:second"]
            watch.cancel()

    run_async(scenario())


def test_a_call_that_waits_too_long_is_refused_with_the_flags_to_raise() -> None:
    """The wait is bounded: past `--call-wait` the waiting call is answered RESOURCE_EXHAUSTED
    naming the bound, its request never read; the admitted call is unaffected."""

    async def scenario() -> None:
        async with (
            serving(max_calls=1, call_wait=0.2) as (server, backend),
            grpc.aio.insecure_channel(server.address) as ch,
        ):
            first = asyncio.ensure_future(hold(ch)(b"hold-1"))
            await backend.event(b"hold-1").wait()
            try:
                await hold(ch)(BIG)
            except grpc.aio.AioRpcError as err:
                refused = err
            else:
                raise AssertionError("the waiting call was served")
            assert refused.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            details = refused.details() or ""
            assert "--max-calls 1" in details and "--call-wait" in details
            assert backend.read == [b"hold-1"]
            backend.release.set()
            assert await first == b"done:hold-1"

    run_async(scenario())


def test_a_call_that_never_sends_its_request_gives_its_permit_back() -> None:
    """Bound 1, a client that opens a call and never sends its message: the call is answered
    RESOURCE_EXHAUSTED once `read_wait` has passed and the next call is served (without the
    bound the permit was held until the client left, and every other call was refused after
    `--call-wait`)."""

    async def scenario() -> None:
        async with (
            serving(max_calls=1) as (server, _backend),
            grpc.aio.insecure_channel(server.address) as ch,
        ):
            assert server.admission is not None
            server.admission.read_wait = 0.2
            never = asyncio.Event()

            async def nothing() -> AsyncIterator[bytes]:
                await never.wait()  # the message never comes (until the test ends)
                yield b"late"

            silent = ch.stream_unary(f"/{SERVICE}/Hold")(nothing())
            await until(server, lambda: server.admission.in_use == 1)  # type: ignore[union-attr]
            served = await asyncio.wait_for(hold(ch)(b"next"), 5)
            assert served == b"done:next"
            try:
                await silent
            except grpc.aio.AioRpcError as err:
                assert err.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
                assert "did not arrive within 0.2 s" in (err.details() or "")
            else:
                raise AssertionError("the silent call was served")
            never.set()

    run_async(scenario())


def test_a_refused_request_is_freed_when_its_call_ends() -> None:
    """An error answer does not keep the request alive in a reference cycle until the cyclic
    collector runs (the servers run it rarely): it is freed when the call ends."""

    async def scenario() -> None:
        async with (
            serving(max_calls=2) as (server, backend),
            grpc.aio.insecure_channel(server.address) as ch,
        ):
            try:
                await hold(ch)(b"fail-big" + BIG)
            except grpc.aio.AioRpcError as err:
                assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
                assert err.details() == "data: refused by the test"
            await until(server, lambda: server.admission.in_use == 0)  # type: ignore[union-attr]
            assert [ref() for ref in backend.parsed] == [None]

    gc.disable()
    try:
        run_async(scenario())
    finally:
        gc.enable()


def test_a_handler_that_drops_its_request_frees_it_while_the_call_runs() -> None:
    """The wrappers around a handler (admission, error mapping and metrics) keep no reference to
    the request: a handler that has converted a large request can free it before it decides
    and answers (IPAM's ConvergeServices does; a 4 MiB complete set parsed is tens of MB)."""

    async def scenario() -> None:
        async with (
            serving(max_calls=2) as (server, _backend),
            grpc.aio.insecure_channel(server.address) as ch,
        ):
            drop: Callable[..., Any] = ch.unary_unary(f"/{SERVICE}/Drop")
            assert await drop(BIG) == b"freed"

    gc.disable()  # freed by its reference count, not by a collection
    try:
        run_async(scenario())
    finally:
        gc.enable()
