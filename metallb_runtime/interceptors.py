"""Server interceptors shared by every service: error mapping and request logging/metrics.

Error mapping turns a `DomainError` into the gRPC status it names, with the offending field in
the message, and any other exception into INTERNAL (logged with its traceback), so a client never
sees a bare UNKNOWN.
"""

import logging
import time
import traceback
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter

from metallb_rules.errors import DomainError
from metallb_runtime.handlers import WrappingInterceptor, stream_items, with_behavior

log = logging.getLogger("metallb_runtime.rpc")

Behavior = Callable[[Any, grpc.aio.ServicerContext], Any]


#: Longest status message sent back: an error may quote what the client sent, and a client
#: could send megabytes (status details travel in trailing metadata, itself bounded at 16 KiB).
MAX_DETAILS_CHARS = 1024


def bounded(text: str, limit: int = MAX_DETAILS_CHARS) -> str:
    """`text`, or its first `limit` characters and how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def _fail(err: Exception, context: grpc.aio.ServicerContext, method: str) -> None:
    """Set the call's status from `err`; the handler then returns and gRPC sends that status.

    Not `context.abort()`: its exception stays referenced from the call until the call ends, and
    its traceback holds the handlers' frames, which hold the call's context: a reference cycle
    keeping the request (up to 4 MiB) and `err`'s own frames until the cyclic collector runs,
    which the servers run rarely (metallb_runtime/runtime.py). 16 refused 4 MiB GetPool calls in
    a row kept 150 MB (bench/limits.py)."""
    if isinstance(err, DomainError):
        context.set_code(grpc.StatusCode[err.status])
        context.set_details(bounded(err.describe()))
        return
    # The traceback without the exception's own text, which may quote a huge request.
    trace = "".join(traceback.format_tb(err.__traceback__))
    log.error("%s failed: %s\n%s", method, bounded(repr(err)), trace)
    context.set_code(grpc.StatusCode.INTERNAL)
    context.set_details(bounded(f"internal error: {type(err).__name__}: {err}"))


def _wrap_handler(
    handler: grpc.RpcMethodHandler,
    method: str,
    observe: Callable[[str, grpc.aio.ServicerContext, float], None],
) -> grpc.RpcMethodHandler:
    if handler.unary_unary is not None:
        inner_uu: Callable[..., Awaitable[Any]] = handler.unary_unary

        async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            start = time.perf_counter()
            try:
                call = inner_uu(request, context)
                del request  # the handler's alone: it may drop it once converted
                return await call
            except Exception as err:
                if _is_abort(err):
                    raise
                _fail(err, context, method)
                return None
            finally:
                observe(method, context, start)

        return with_behavior(handler, unary_unary)
    if handler.unary_stream is not None:
        inner_us: Callable[..., Any] = handler.unary_stream

        async def unary_stream(
            request: Any, context: grpc.aio.ServicerContext
        ) -> AsyncIterator[Any]:
            start = time.perf_counter()
            try:
                async for item in stream_items(inner_us(request, context)):
                    yield item
            except Exception as err:
                if _is_abort(err):
                    raise
                _fail(err, context, method)
            finally:
                observe(method, context, start)

        return with_behavior(handler, unary_stream)
    return handler


_COUNTERS: "weakref.WeakKeyDictionary[CollectorRegistry, Counter]" = weakref.WeakKeyDictionary()


def _calls_counter(registry: CollectorRegistry) -> Counter:
    """One call counter per registry, shared by every server that reports into it."""
    counter = _COUNTERS.get(registry)
    if counter is None:
        counter = _COUNTERS[registry] = Counter(
            "metallb_grpc_server_handled",
            "gRPC calls completed by the server, by method and status code.",
            ["method", "code"],
            registry=registry,
        )
    return counter


def _is_abort(err: Exception) -> bool:
    # context.abort() raises grpc.aio.AbortError; it must pass through untouched.
    return isinstance(err, grpc.aio.AbortError)


class ObservingInterceptor(WrappingInterceptor):
    """Maps errors to statuses, logs each call, and counts calls by method and code."""

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__()
        self._calls = _calls_counter(registry)
        self._counted: dict[tuple[str, str], Any] = {}  # (method, code) -> its counter child

    def _observe(self, method: str, context: grpc.aio.ServicerContext, start: float) -> None:
        code = context.code()
        name = code.name if isinstance(code, grpc.StatusCode) else "OK"
        counter = self._counted.get((method, name))
        if counter is None:
            counter = self._counted[method, name] = self._calls.labels(method, name)
        counter.inc()
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s %.1f ms", method, name, (time.perf_counter() - start) * 1000)
        elif name not in {"OK", "CANCELLED"}:
            log.info("%s %s: %s", method, name, context.details())

    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        return _wrap_handler(handler, method, self._observe)
