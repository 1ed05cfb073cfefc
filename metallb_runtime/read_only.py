"""The read-only listener: Get/List/Watch, health and reflection, nothing that changes state.

An operator debugs with grpcurl on this listener without being able to change anything; every
other method answers PERMISSION_DENIED before its handler runs.
"""

from typing import Any

import grpc

from metallb_runtime.handlers import WrappingInterceptor, with_behavior

READ_VERBS = ("Get", "List", "Watch")
OPEN_SERVICES = ("grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection")


def is_read_only(method: str) -> bool:
    """`/pkg.Service/Verb...`: health and reflection, or a verb that only reads."""
    service, _, name = method.lstrip("/").rpartition("/")
    return service in OPEN_SERVICES or name.startswith(READ_VERBS)


class ReadOnlyInterceptor(WrappingInterceptor):
    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        if is_read_only(method):
            return handler
        message = f"{method} changes state; this listener is read-only"

        async def deny(request: Any, context: grpc.aio.ServicerContext) -> None:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, message)

        return with_behavior(handler, deny)
