"""`ConvergeServicesRequest` as IPAM reads it off the wire: each Service left as its bytes.

A complete set in a 4 MiB message is ~39,600 Services; parsed whole, with each Service's
selector and labels maps, it takes ~36 MB (nine times its size on the wire), held while every
Service is converted. Read with `RawConvergeServicesRequest`, a wire-compatible view of the same
message whose `services` field is `repeated bytes` (an embedded message and bytes share the
length-delimited wire type, so every valid message reads the same), the request holds its 4 MiB
and each Service is parsed on its own, converted, and dropped (issue 15, bench/limits.py).
"""

from collections.abc import Iterable

from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass

from metallb.ipam.v1 import ipam_pb2
from metallb_rules.errors import InvalidArgumentError

_REAL = ipam_pb2.ConvergeServicesRequest.DESCRIPTOR
_PACKAGE = "metallb.ipam.v1.wire"


def _raw_class() -> type[Message]:
    """The view: `ConvergeServicesRequest`'s fields, numbers and nested map entry, with
    `services` as bytes (in its own package of the default pool, next to the real one)."""
    file = descriptor_pb2.FileDescriptorProto(
        name="metallb/ipam/v1/ipam_wire.proto",
        package=_PACKAGE,
        syntax="proto3",
        dependency=[_REAL.file.name],
    )
    message = file.message_type.add()
    _REAL.CopyToProto(message)
    for field in message.field:
        if field.name == "services":
            field.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
            field.ClearField("type_name")
        elif field.type_name.startswith(f".{_REAL.full_name}."):  # the map's own entry type
            entry = field.type_name.removeprefix(f".{_REAL.full_name}.")
            field.type_name = f".{_PACKAGE}.{_REAL.name}.{entry}"
    pool = descriptor_pool.Default()
    pool.Add(file)
    return GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{_REAL.name}"))


RawConvergeServicesRequest = _raw_class()


def raw_converge_request(request: Message) -> Message:
    """`request` as the view (a `ConvergeServicesRequest` given directly, not off the wire)."""
    if isinstance(request, ipam_pb2.ConvergeServicesRequest):
        return RawConvergeServicesRequest.FromString(request.SerializeToString())
    return request


def parse_service(data: bytes, field: str) -> ipam_pb2.LoadBalancerService:
    """One Service of the view; malformed bytes are the caller's error, naming the item."""
    try:
        return ipam_pb2.LoadBalancerService.FromString(data)
    except DecodeError:
        raise InvalidArgumentError("not a valid LoadBalancerService message", field) from None


class ConvergeAnswer:
    """A `ConvergeServicesResponse` built as its encoding: each Service's decision is encoded
    when it is made (in any order: a complete set is decided in restore order, answered in the
    request's), and the response is their concatenation. Built as one message, the answer to
    ~39,600 Services was ~12 MB of message objects, then its 4 MB encoding besides."""

    def __init__(self, count: int) -> None:
        self._decisions: list[bytes] = [_EMPTY_DECISION] * count

    def set(self, index: int, decision: ipam_pb2.ServiceDecision) -> None:
        """`decision` as the `index`th of the response's `decisions`."""
        data = decision.SerializeToString()
        self._decisions[index] = _DECISIONS_TAG + _varint(len(data)) + data

    def encode(self, deleted: Iterable[ipam_pb2.SyncOutcome]) -> bytes:
        """The response: its decisions, then `deleted` (fields in any order decode the same)."""
        rest = ipam_pb2.ConvergeServicesResponse(deleted=deleted).SerializeToString()
        decisions, self._decisions = self._decisions, []
        return b"".join(decisions) + rest if rest else b"".join(decisions)


def encoded(response: bytes | Message) -> bytes:
    """The response serializer of a method whose handler may answer with its encoding."""
    return response if isinstance(response, bytes) else response.SerializeToString()


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


# ConvergeServicesResponse.decisions' key: its field number, the length-delimited wire type (2).
_DECISIONS = ipam_pb2.ConvergeServicesResponse.DESCRIPTOR.fields_by_name["decisions"].number
_DECISIONS_TAG = _varint(_DECISIONS << 3 | 2)
_EMPTY_DECISION = _DECISIONS_TAG + b"\x00"
