"""Issue 15: one IPAM request carries a bounded number of items. An empty item is two bytes on
the wire, so the 4 MiB message alone let one call carry two million of them, each parsed and
answered; the bounds refuse such a call with INVALID_ARGUMENT naming the field, the bound and
the flag that raises it, and their defaults admit every real cluster's complete set."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import grpc
import pytest
from prometheus_client import CollectorRegistry

from metallb.common.v1 import common_pb2
from metallb.ipam.v1 import ipam_pb2, ipam_pb2_grpc
from metallb_cli.main import build_parser
from metallb_runtime.server import Server
from metallb_runtime.transport import DEFAULT_MAX_MESSAGE_BYTES
from services.ipam.limits import DEFAULT_LIMITS, IPAMLimits, from_arguments
from services.ipam.service import ipam_binding

KEY = common_pb2.ServiceKey(namespace="default", name="web")


@asynccontextmanager
async def ipam_stub(limits: IPAMLimits = DEFAULT_LIMITS) -> AsyncIterator[Any]:
    registry = CollectorRegistry()
    server = Server([ipam_binding(registry, limits)], "127.0.0.1:0", registry=registry, grace=0.5)
    address = await server.start()
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            yield ipam_pb2_grpc.IPAMServiceStub(channel)
    finally:
        await server.stop()


def _requests(n: int) -> dict[str, Any]:
    """One request of each bounded kind, with `n` empty items in the bounded field."""
    return {
        "SetPools": ipam_pb2.SetPoolsRequest(pools=[ipam_pb2.Pool()] * n),
        "ConvergeServices.services": ipam_pb2.ConvergeServicesRequest(
            services=[ipam_pb2.LoadBalancerService()] * n
        ),
        "ConvergeServices.deleted": ipam_pb2.ConvergeServicesRequest(deleted=[KEY] * n),
        "ConvergeServices.namespace_labels": ipam_pb2.ConvergeServicesRequest(
            namespace_labels={f"ns{i}": ipam_pb2.Labels() for i in range(n)}
        ),
        "AllocateBatch": ipam_pb2.AllocateBatchRequest(requests=[ipam_pb2.AllocateRequest()] * n),
        "RestoreAllocations": ipam_pb2.RestoreAllocationsRequest(
            restorations=[ipam_pb2.Restoration()] * n
        ),
    }


async def _outcomes(stub: Any, requests: dict[str, Any]) -> dict[str, tuple[str, str]]:
    out = {}
    for what, request in requests.items():
        method = getattr(stub, what.partition(".")[0])
        try:
            await method(request)
            out[what] = ("OK", "")
        except grpc.aio.AioRpcError as err:
            out[what] = (err.code().name, err.details() or "")
    return out


def test_the_default_bounds_refuse_one_item_more(arun: Callable[..., Any]) -> None:
    async def scenario() -> dict[str, tuple[str, str]]:
        async with ipam_stub() as stub:
            pools = await _outcomes(stub, {"SetPools": _requests(16_385)["SetPools"]})
            converge = {k: v for k, v in _requests(65_537).items() if k.startswith("Converge")}
            batch = {k: v for k, v in _requests(16_385).items() if k[0] in "AR"}
            return pools | await _outcomes(stub, converge) | await _outcomes(stub, batch)

    assert arun(scenario()) == {
        "SetPools": (
            "INVALID_ARGUMENT",
            "pools: 16385 pools, at most 16384 per request (--max-pools)",
        ),
        "ConvergeServices.services": (
            "INVALID_ARGUMENT",
            "services: 65537 services, at most 65536 per request (--max-services)",
        ),
        "ConvergeServices.deleted": (
            "INVALID_ARGUMENT",
            "deleted: 65537 deleted keys, at most 65536 per request (--max-services)",
        ),
        "ConvergeServices.namespace_labels": (
            "INVALID_ARGUMENT",
            "namespace_labels: 65537 namespaces, at most 65536 per request (--max-services)",
        ),
        "AllocateBatch": (
            "INVALID_ARGUMENT",
            "requests: 16385 requests, at most 16384 per request (--max-batch)",
        ),
        "RestoreAllocations": (
            "INVALID_ARGUMENT",
            "restorations: 16385 restorations, at most 16384 per request (--max-batch)",
        ),
    }


def test_the_flags_set_the_bounds_and_a_call_at_a_bound_is_served(
    arun: Callable[..., Any],
) -> None:
    args = build_parser().parse_args(
        ["ipam", "--max-pools", "2", "--max-services", "3", "--max-batch", "3"]
    )
    limits = from_arguments(args)

    async def scenario() -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
        async with ipam_stub(limits) as stub:
            await stub.RestoreAllocations(ipam_pb2.RestoreAllocationsRequest(complete=True))
            at = _requests(3)
            at["SetPools"] = ipam_pb2.SetPoolsRequest(
                pools=[
                    ipam_pb2.Pool(name="a", addresses=["192.0.2.0/30"]),
                    ipam_pb2.Pool(name="b", addresses=["192.0.2.4/30"]),
                ]
            )
            over = {
                "SetPools": _requests(3)["SetPools"],
                "ConvergeServices.deleted": _requests(4)["ConvergeServices.deleted"],
            }
            return await _outcomes(stub, at), await _outcomes(stub, over)

    at_bound, over_bound = arun(scenario())
    # At the bound, nothing is refused for its count (the empty items get per-item errors).
    assert at_bound == dict.fromkeys(at_bound, ("OK", ""))
    assert len(at_bound) == 6
    assert over_bound == {
        "SetPools": ("INVALID_ARGUMENT", "pools: 3 pools, at most 2 per request (--max-pools)"),
        "ConvergeServices.deleted": (
            "INVALID_ARGUMENT",
            "deleted: 4 deleted keys, at most 3 per request (--max-services)",
        ),
    }


@pytest.mark.parametrize("flag", ["--max-pools", "--max-services", "--max-batch"])
def test_a_bound_must_be_a_positive_integer(flag: str) -> None:
    dest = flag.removeprefix("--").replace("-", "_")
    assert getattr(build_parser().parse_args(["ipam", flag, "5"]), dest) == 5
    for value in ("0", "-1", "x"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["ipam", flag, value])


def test_the_default_bound_admits_the_documented_complete_set() -> None:
    """docs/security.md: the default 4 MiB message carries a complete set of 25,000-33,000
    Services (127-164 bytes each); the default count must admit every Service it carries.
    The Service is as the controller sends one: a LoadBalancer in `default`, its cluster IP,
    family, policy, one TCP port, an app selector and label, and its address once assigned."""
    svc = ipam_pb2.LoadBalancerService(
        namespace="default",
        name="web-00001",
        type="LoadBalancer",
        cluster_ips=["10.96.12.34"],
        ip_families=[common_pb2.IP_FAMILY_IPV4],
        ip_family_policy=common_pb2.IP_FAMILY_POLICY_SINGLE_STACK,
        external_traffic_policy="Cluster",
        selector={"app": "web-00001"},
        labels={"app": "web-00001"},
        annotations={"metallb.io/ip-allocated-from-pool": "default"},
        ports=[common_pb2.Port(protocol=common_pb2.PROTOCOL_TCP, port=80)],
        ingress_ips=["198.18.0.1"],
    )
    per_service = ipam_pb2.ConvergeServicesRequest(services=[svc]).ByteSize()
    fits = DEFAULT_MAX_MESSAGE_BYTES // per_service
    assert 10_000 < fits < IPAMLimits().services  # 10,000: bench/gateway.py, Kubernetes' SLO


def test_a_batch_of_failing_items_at_its_bound_is_answered(arun: Callable[..., Any]) -> None:
    """Each item of AllocateBatch and RestoreAllocations is answered, a failure with a status:
    at the bound, every item failing, the response still fits the default message (65,536
    items answered RESOURCE_EXHAUSTED: the response was over 4 MiB; found by bench/limits.py)."""

    async def scenario() -> dict[str, tuple[str, str]]:
        async with ipam_stub() as stub:
            await stub.RestoreAllocations(ipam_pb2.RestoreAllocationsRequest(complete=True))
            batch = {k: v for k, v in _requests(DEFAULT_LIMITS.batch).items() if k[0] in "AR"}
            return await _outcomes(stub, batch)

    assert arun(scenario()) == {"AllocateBatch": ("OK", ""), "RestoreAllocations": ("OK", "")}


def test_a_name_longer_than_any_kubernetes_name_is_refused_unquoted(
    arun: Callable[..., Any],
) -> None:
    """A 4 MiB "name" was looked up and quoted whole in the NOT_FOUND text (bench/limits.py:
    16 such GetPool at once took IPAM from 90 MB to 355 MB). Now refused first, unquoted."""
    long = "a" * 254
    ok = "a" * 253

    async def scenario() -> dict[str, tuple[str, str]]:
        async with ipam_stub() as stub:
            await stub.RestoreAllocations(ipam_pb2.RestoreAllocationsRequest(complete=True))
            return await _outcomes(
                stub,
                {
                    "GetPool": ipam_pb2.GetPoolRequest(name=long),
                    "GetPool.253": ipam_pb2.GetPoolRequest(name=ok),
                    "ListAllocations": ipam_pb2.ListAllocationsRequest(namespace=long),
                    "Release": ipam_pb2.ReleaseRequest(
                        service=common_pb2.ServiceKey(namespace="demo", name=long)
                    ),
                    "SetPools": ipam_pb2.SetPoolsRequest(
                        pools=[ipam_pb2.Pool(name=long, addresses=["192.0.2.0/30"])]
                    ),
                    "Allocate": ipam_pb2.AllocateRequest(
                        service=ipam_pb2.Service(namespace="demo", name="web", requested_pool=long)
                    ),
                },
            )

    why = "254 characters, at most 253 (a Kubernetes name)"
    assert arun(scenario()) == {
        "GetPool": ("INVALID_ARGUMENT", f"name: {why}"),
        "GetPool.253": ("NOT_FOUND", f'name: unknown pool "{ok}"'),
        "ListAllocations": ("INVALID_ARGUMENT", f"namespace: {why}"),
        "Release": ("INVALID_ARGUMENT", f"service.name: {why}"),
        "SetPools": ("INVALID_ARGUMENT", f"pools[0].name: {why}"),
        "Allocate": ("INVALID_ARGUMENT", f"service.requested_pool: {why}"),
    }


def test_the_complete_set_calls_are_admitted_one_at_a_time() -> None:
    """ConvergeServices, SetPools and RestoreAllocations each replace a whole set, and are the
    largest requests IPAM reads: the binding names them serial (metallb_runtime/admission.py;
    tests/test_admission.py shows what that does), by names the service really has."""
    binding = ipam_binding(CollectorRegistry())
    service = ipam_pb2.DESCRIPTOR.services_by_name["IPAMService"]
    methods = {f"/{service.full_name}/{method.name}" for method in service.methods}
    assert binding.serial <= methods
    complete_set = {"ConvergeServices", "SetPools", "RestoreAllocations"}
    assert {name.rpartition("/")[2] for name in binding.serial} == complete_set


def test_a_converge_with_a_malformed_service_is_refused_naming_it(
    arun: Callable[..., Any],
) -> None:
    """ConvergeServices reads each Service of the message on its own (services/ipam/wire.py): a
    Service whose bytes are not a LoadBalancerService (here a field cut short, and text that is
    not UTF-8) refuses the whole call with INVALID_ARGUMENT naming the item (it was UNKNOWN,
    the whole message failing to parse)."""
    good = ipam_pb2.LoadBalancerService(namespace="default", name="web").SerializeToString()
    cut = b"\x0a\x05ab"  # field 1 (namespace): 5 bytes announced, 2 sent
    not_utf8 = b"\x0a\x02\xff\xfe"
    item = bytes([0x0A])  # ConvergeServicesRequest.services, length-delimited

    def message(*services: bytes) -> bytes:
        return b"".join(item + bytes([len(s)]) + s for s in services)

    async def scenario() -> list[tuple[str, str]]:
        registry = CollectorRegistry()
        server = Server([ipam_binding(registry)], "127.0.0.1:0", registry=registry, grace=0.5)
        address = await server.start()
        out = []
        try:
            async with grpc.aio.insecure_channel(address) as channel:
                converge = channel.unary_unary("/metallb.ipam.v1.IPAMService/ConvergeServices")
                for data in (message(good, cut), message(good, good, not_utf8)):
                    try:
                        await converge(data)
                        out.append(("OK", ""))
                    except grpc.aio.AioRpcError as err:
                        out.append((err.code().name, err.details() or ""))
        finally:
            await server.stop()
        return out

    assert arun(scenario()) == [
        ("INVALID_ARGUMENT", "services[1]: not a valid LoadBalancerService message"),
        ("INVALID_ARGUMENT", "services[2]: not a valid LoadBalancerService message"),
    ]
