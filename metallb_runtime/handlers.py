"""What the server's interceptors share: each wraps a method's handler once, not per call.

grpc.aio asks every interceptor for the handler at every call; the handler of a method never
changes, so `WrappingInterceptor` wraps it the first time and answers from its cache after
that. `with_behavior` builds a handler of the same kind (unary/stream in and out) and the same
(de)serializers around a new function; `stream_items` reads what a streaming handler returned.
"""

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

KINDS = ("unary_unary", "unary_stream", "stream_unary", "stream_stream")
STREAMING = ("unary_stream", "stream_stream")
_BUILDERS = {
    "unary_unary": grpc.unary_unary_rpc_method_handler,
    "unary_stream": grpc.unary_stream_rpc_method_handler,
    "stream_unary": grpc.stream_unary_rpc_method_handler,
    "stream_stream": grpc.stream_stream_rpc_method_handler,
}


def kind_of(handler: grpc.RpcMethodHandler) -> str:
    return next(kind for kind in KINDS if getattr(handler, kind) is not None)


def with_behavior(handler: grpc.RpcMethodHandler, behavior: Callable[..., Any]) -> Any:
    """A handler of `handler`'s kind and (de)serializers that runs `behavior`."""
    return _BUILDERS[kind_of(handler)](
        behavior,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


async def stream_items(result: Any) -> AsyncIterator[Any]:
    """The items a streaming handler yields; nothing for one that writes with
    `context.write()` and returns an awaitable."""
    if inspect.isawaitable(result):
        await result
        return
    async for item in result:
        yield item


class WrappingInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """An interceptor that changes a method's handler, once per method."""

    def __init__(self) -> None:
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        raise NotImplementedError

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is None or cached[0] is not handler:
            cached = (handler, self.wrap(handler, method))
            self._wrapped[method] = cached
        return cached[1]
