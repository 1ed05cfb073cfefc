"""Batch RPCs: AllocateBatch (many Allocate calls in one round trip) and ConvergeServices
(convergeBalancer for a batch of Services inside IPAM); per-item failures are google.rpc.Status."""

from collections.abc import Callable
from typing import Any

import grpc
from google.rpc import code_pb2, error_details_pb2, status_pb2

from gateway.controller.converge import decision_from_proto, load_balancer_service
from metallb.common.v1 import common_pb2
from metallb.ipam.v1 import ipam_pb2
from metallb_rules.balancer import Event, Outcome
from metallb_rules.service import service_from_k8s
from tests.ipam.test_grpc_service import V4, V6, _error, ipam_server, service


def bad_request_fields(status: status_pb2.Status) -> list[str]:
    fields = []
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        assert detail.Unpack(bad)
        fields += [v.field for v in bad.field_violations]
    return fields


def test_items_are_handled_in_order_each_with_its_own_result(arun: Callable[..., Any]) -> None:
    async def scenario() -> None:
        async with ipam_server() as (_, stub):
            pool = ipam_pb2.Pool(name="small", addresses=["192.0.2.0/31"])
            await stub.SetPools(ipam_pb2.SetPoolsRequest(pools=[pool]))
            batch = ipam_pb2.AllocateBatchRequest(
                requests=[
                    ipam_pb2.AllocateRequest(service=service("a", V4)),
                    ipam_pb2.AllocateRequest(service=service("bad", 99)),
                    ipam_pb2.AllocateRequest(service=service("b", V4)),
                    ipam_pb2.AllocateRequest(service=service("c", V4)),
                    ipam_pb2.AllocateRequest(service=service("v6", V6)),
                ]
            )
            # Before restoration the whole call is refused, exactly as Allocate is.
            err = await _error(stub.AllocateBatch(batch))
            assert err.code() == grpc.StatusCode.UNAVAILABLE
            await stub.RestoreAllocations(ipam_pb2.RestoreAllocationsRequest(complete=True))
            reply = await stub.AllocateBatch(batch)
            results = list(reply.results)
            assert [r.WhichOneof("result") for r in results] == [
                "allocation",
                "error",
                "allocation",
                "error",
                "error",
            ]
            assert list(results[0].allocation.ips) == ["192.0.2.0"]
            assert list(results[2].allocation.ips) == ["192.0.2.1"]
            bad = results[1].error
            assert bad.code == code_pb2.INVALID_ARGUMENT
            assert bad.message.startswith("requests[1].service.ip_families")
            assert bad_request_fields(bad) == ["requests[1].service.ip_families[0]"]
            # The same codes and texts as the unary call gives for the same request.
            for index, request in ((3, batch.requests[3]), (4, batch.requests[4])):
                unary = await _error(stub.Allocate(request))
                assert results[index].error.code == unary.code().value[0]
                assert results[index].error.message == unary.details()
            listed = await stub.ListAllocations(ipam_pb2.ListAllocationsRequest())
            assert sorted(a.name for a in listed.allocations) == ["a", "b"]

    arun(scenario())


def k8s_service(
    name: str, *, ingress: tuple[str, ...] = (), annotations: dict[str, str] | None = None
) -> Any:
    return service_from_k8s(
        {
            "metadata": {"namespace": "demo", "name": name, "annotations": annotations or {}},
            "spec": {
                "type": "LoadBalancer",
                "clusterIPs": ["172.30.0.1"],
                "ports": [{"port": 80, "protocol": "TCP"}],
            },
            "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ingress]}},
        }
    )


def test_converge_services_decides_a_batch_inside_ipam(arun: Callable[..., Any]) -> None:
    """One call: a complete set restores status before handing out anything new; then batches
    decide new and deleted services; a malformed item gets its google.rpc.Status alone."""

    async def scenario() -> None:
        async with ipam_server() as (server, stub):
            pool = ipam_pb2.Pool(name="p", addresses=["192.0.2.0/30"])
            await stub.SetPools(ipam_pb2.SetPoolsRequest(pools=[pool]))
            new, old = k8s_service("new"), k8s_service("old", ingress=("192.0.2.0",))
            partial = ipam_pb2.ConvergeServicesRequest(services=[load_balancer_service(new)])
            err = await _error(stub.ConvergeServices(partial))
            assert err.code() == grpc.StatusCode.UNAVAILABLE  # no complete set yet
            full = ipam_pb2.ConvergeServicesRequest(
                services=[load_balancer_service(new), load_balancer_service(old)],
                complete_set=True,
            )
            reply = await stub.ConvergeServices(full)
            first, second = (decision_from_proto(d) for d in reply.decisions)
            assert (first.key, first.ingress, first.pool, first.changed) == (
                "demo/new",
                ["192.0.2.1"],
                "p",
                True,
            )
            assert first.events == [Event("Normal", "IPAllocated", 'Assigned IP ["192.0.2.1"]')]
            # The old one keeps its address; only the pool annotation is new to it.
            assert (second.ingress, second.events, second.changed) == (["192.0.2.0"], [], True)
            bad = load_balancer_service(k8s_service("bad"))
            bad.ip_families.append(99)  # type: ignore[arg-type]  # not an IPFamily
            batch = ipam_pb2.ConvergeServicesRequest(
                services=[load_balancer_service(k8s_service("third")), bad],
                deleted=[common_pb2.ServiceKey(namespace="demo", name="old")],
            )
            reply = await stub.ConvergeServices(batch)
            assert list(reply.deleted) == [ipam_pb2.SYNC_OUTCOME_REPROCESS_ALL]
            third = decision_from_proto(reply.decisions[0])
            assert (third.ingress, third.outcome) == (["192.0.2.0"], Outcome.SUCCESS)
            error = reply.decisions[1].error
            assert error.code == code_pb2.INVALID_ARGUMENT
            assert bad_request_fields(error) == ["services[1].ip_families[0]"]
            # The controller leaves such a service as it is, to be retried on a full pass.
            kept = decision_from_proto(reply.decisions[1], k8s_service("bad", ingress=("x",)))
            assert (kept.ingress, kept.changed, kept.outcome) == (
                ["x"],
                False,
                Outcome.ERROR_NO_RETRY,
            )
            calls = server.registry.get_sample_value(
                "metallb_grpc_server_handled_total",
                {"method": "/metallb.ipam.v1.IPAMService/ConvergeServices", "code": "OK"},
            )
            assert calls == 2.0

    arun(scenario())
