"""Hypothesis strategies for any protobuf message, built from its descriptor.

Random text rarely gets past the first check of a request, so strings are drawn from three
pools: values a field of ours accepts or nearly accepts (addresses, prefixes, names, durations,
communities), short random text, and long runs up to 64 KiB; numbers include their type's
bounds; enums include unknown values; well-known types (Duration, Timestamp, FieldMask) get
values of every sign and size. `mutated` changes octets of an encoded message and keeps those
results protobuf still parses (what gRPC would hand a servicer).
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st

MAX_INPUT = 64 * 1024

INTERESTING = [
    "",
    "0",
    "-1",
    "default",
    "demo",
    "web",
    "p1",
    "metallb-system",
    "eth0",
    "lo",
    "192.0.2.1",
    "192.0.2.0/30",
    "192.0.2.10-192.0.2.1",
    "198.51.100.7/32",
    "10.0.0.0/8",
    "0.0.0.0/0",
    "255.255.255.255",
    "127.0.0.1",
    "2001:db8::1",
    "2001:db8::/126",
    "2001:db8::10/128",
    "::/0",
    "::1",
    "fe80::1%eth0",
    "1.2.3.4/33",
    "300.1.1.1",
    "65000:100",
    "large:1:2:3",
    "no-advertise",
    "64512",
    "90s",
    "500ms",
    "IP_FAMILY_IPV4",
    "LoadBalancer",
    "Local",
    "Cluster",
    "metallb.io/address-pool",
    "metallb.io/loadBalancerIPs",
    "metallb.io/allow-shared-ip",
    "p1,p2",
    "a/b",
    "../../x",
    "\x00",
    "é",
]

_INT_BOUNDS = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}


def _integers(lo: int, hi: int) -> st.SearchStrategy[int]:
    edges = [v for v in (lo, hi, 0, 1, 3, 100, 255, 256, 65535, 65536, 2**31 - 1) if lo <= v <= hi]
    return st.one_of(st.sampled_from(edges), st.integers(lo, hi), st.integers(max(lo, 0), 1000))


def strings() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(INTERESTING),
        st.text(max_size=24),
        st.integers(256, MAX_INPUT).map(lambda n: "a" * n),
    )


def _scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    t = field.type
    if t in _INT_BOUNDS:
        return _integers(*_INT_BOUNDS[t])
    if t == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if t in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        return st.floats(width=32 if t == FieldDescriptor.TYPE_FLOAT else 64)
    if t == FieldDescriptor.TYPE_STRING:
        return strings()
    if t == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if t == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None
        known = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(known), st.integers(-5, 100))
    raise AssertionError(f"unhandled field type {t} of {field.full_name}")


def _type_of(field: FieldDescriptor) -> Descriptor:
    """The message type of a message field."""
    assert field.message_type is not None, field.full_name
    return field.message_type


def _is_map(field: FieldDescriptor) -> bool:
    return bool(
        field.type == FieldDescriptor.TYPE_MESSAGE and _type_of(field).GetOptions().map_entry
    )


def _built(cls: type[Message], **values: Any) -> Message:
    msg = cls()
    for name, value in values.items():
        setattr(msg, name, value)
    return msg


def _is_repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def _well_known(desc: Descriptor) -> st.SearchStrategy[Message] | None:
    cls = GetMessageClass(desc)
    if desc.full_name in ("google.protobuf.Duration", "google.protobuf.Timestamp"):
        return st.builds(
            lambda s, n: _built(cls, seconds=s, nanos=n),
            _integers(-(2**63), 2**63 - 1),
            _integers(-(2**31), 2**31 - 1),
        )
    if desc.full_name == "google.protobuf.FieldMask":
        return st.lists(strings(), max_size=4).map(lambda paths: _mask(cls, paths))
    return None


def _mask(cls: type[Message], paths: list[str]) -> Message:
    msg = cls()
    getattr(msg, "paths").extend(paths)  # noqa: B009 (Message declares no fields)
    return msg


@st.composite
def _message(draw: st.DrawFn, desc: Descriptor, depth: int) -> Message:
    special = _well_known(desc)
    if special is not None:
        return draw(special)
    msg = GetMessageClass(desc)()
    if depth <= 0:
        return msg
    for field in desc.fields:
        if not draw(st.booleans()):
            continue
        if _is_map(field):
            key_field = _type_of(field).fields_by_name["key"]
            value_field = _type_of(field).fields_by_name["value"]
            keys = draw(st.lists(_scalar(key_field), max_size=4, unique=True))
            target = getattr(msg, field.name)
            for key in keys:
                if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                    target[key].CopyFrom(draw(_message(_type_of(value_field), depth - 1)))
                else:
                    target[key] = draw(_scalar(value_field))
        elif _is_repeated(field):
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                items = draw(st.lists(_message(_type_of(field), depth - 1), max_size=4))
                getattr(msg, field.name).extend(items)
            else:
                getattr(msg, field.name).extend(draw(st.lists(_scalar(field), max_size=4)))
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            getattr(msg, field.name).CopyFrom(draw(_message(_type_of(field), depth - 1)))
        else:
            setattr(msg, field.name, draw(_scalar(field)))
    return msg


def messages(desc: Descriptor, depth: int = 5) -> st.SearchStrategy[Message]:
    """Any message of type `desc`, nested up to `depth` levels."""
    return _message(desc, depth)


@st.composite
def mutated(draw: st.DrawFn, desc: Descriptor) -> bytes:
    """An encoded message of type `desc` with octets changed, inserted or cut, that protobuf
    still parses (unknown fields and all): what gRPC hands the servicer."""
    raw = bytearray(draw(messages(desc)).SerializeToString())
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["set", "insert", "cut"]))
        at = draw(st.integers(0, len(raw)))
        if op == "set" and at < len(raw):
            raw[at] = draw(st.integers(0, 255))
        elif op == "insert" and len(raw) < MAX_INPUT:
            raw[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "cut":
            del raw[at : at + draw(st.integers(1, 8))]
    data = bytes(raw)
    try:
        GetMessageClass(desc).FromString(data)
    except DecodeError:
        return GetMessageClass(desc)().SerializeToString()
    return data


def _mutate_once(draw: st.DrawFn, msg: Message, depth: int) -> None:
    """Change one field of `msg` (or of a message inside it) to a random value, clear it, or
    grow or shrink a list."""
    fields: list[Any] = list(msg.DESCRIPTOR.fields)
    if not fields:
        return
    field: FieldDescriptor = draw(st.sampled_from(fields))
    target: Any = getattr(msg, field.name)
    if draw(st.integers(0, 5)) == 0:
        msg.ClearField(field.name)
        return
    if _is_map(field):
        key_field = _type_of(field).fields_by_name["key"]
        value_field = _type_of(field).fields_by_name["value"]
        key = draw(_scalar(key_field))
        if value_field.type == FieldDescriptor.TYPE_MESSAGE:
            target[key].CopyFrom(draw(_message(_type_of(value_field), depth)))
        else:
            target[key] = draw(_scalar(value_field))
    elif _is_repeated(field):
        is_message = field.type == FieldDescriptor.TYPE_MESSAGE
        if len(target) and draw(st.booleans()):
            at = draw(st.integers(0, len(target) - 1))
            if is_message:
                _mutate_once(draw, target[at], depth)
            else:
                target[at] = draw(_scalar(field))
        elif len(target) and draw(st.booleans()):
            target.append(target[draw(st.integers(0, len(target) - 1))])  # a duplicate
        elif is_message:
            target.add().CopyFrom(draw(_message(_type_of(field), depth)))
        else:
            target.append(draw(_scalar(field)))
    elif field.type == FieldDescriptor.TYPE_MESSAGE:
        if msg.HasField(field.name) and draw(st.booleans()):
            _mutate_once(draw, target, depth)
        else:
            target.CopyFrom(draw(_message(_type_of(field), depth)))
    else:
        setattr(msg, field.name, draw(_scalar(field)))


@st.composite
def near(draw: st.DrawFn, seed: Message) -> Message:
    """`seed` with one to four fields changed somewhere in it (`_mutate_once`)."""
    msg = type(seed)()
    msg.CopyFrom(seed)
    for _ in range(draw(st.integers(1, 4))):
        _mutate_once(draw, msg, 2)
    return msg
