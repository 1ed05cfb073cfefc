"""The read-only listener: Get/List/Watch, health and reflection, nothing that changes state.

An operator debugs with grpcurl on this listener without being able to change anything; every
other method answers PERMISSION_DENIED before its handler runs.
"""

from collections.abc import Awaitable, Callable
from typing import Any

import grpc

READ_VERBS = ("Get", "List", "Watch")
OPEN_SERVICES = ("grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection")


def is_read_only(method: str) -> bool:
    """`/pkg.Service/Verb...`: health and reflection, or a verb that only reads."""
    service, _, name = method.lstrip("/").rpartition("/")
    return service in OPEN_SERVICES or name.startswith(READ_VERBS)


class ReadOnlyInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or is_read_only(method):
            return handler
        message = f"{method} changes state; this listener is read-only"

        async def deny(request: Any, context: grpc.aio.ServicerContext) -> None:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, message)

        kinds = {
            "unary_unary": grpc.unary_unary_rpc_method_handler,
            "unary_stream": grpc.unary_stream_rpc_method_handler,
            "stream_unary": grpc.stream_unary_rpc_method_handler,
            "stream_stream": grpc.stream_stream_rpc_method_handler,
        }
        kind = next(k for k in kinds if getattr(handler, k) is not None)
        return kinds[kind](
            deny,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
