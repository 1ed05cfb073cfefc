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


def test_a_service_deleted_while_the_controller_was_down_is_released(
    arun: Callable[..., Any],
) -> None:
    """Issue 14: IPAM kept the address of a Service deleted while the controller was down
    (ListAllocations still held it after the restart). The restarted controller sends its
    complete set, which no longer holds the Service: IPAM releases it."""

    async def scenario() -> None:
        async with ipam_server() as (_, stub):
            pool = ipam_pb2.Pool(name="p", addresses=["192.0.2.0/30"])
            await stub.SetPools(ipam_pb2.SetPoolsRequest(pools=[pool]))
            web, gone = k8s_service("web"), k8s_service("gone")
            first = ipam_pb2.ConvergeServicesRequest(
                services=[load_balancer_service(web), load_balancer_service(gone)],
                complete_set=True,
            )
            reply = await stub.ConvergeServices(first)
            held = {d.service.name: list(d.ingress_ips) for d in reply.decisions}
            # The controller goes away; `gone` is deleted meanwhile; it comes back with what
            # the cluster now holds, `web` with the status it was written.
            web_now = k8s_service("web", ingress=tuple(held["web"]))
            again = ipam_pb2.ConvergeServicesRequest(
                services=[load_balancer_service(web_now)], complete_set=True
            )
            await stub.ConvergeServices(again)
            listed = await stub.ListAllocations(ipam_pb2.ListAllocationsRequest())
            names = {a.name for a in listed.allocations}
            assert names == {"web"}

    arun(scenario())


def test_failed_items_leave_no_garbage_for_the_cyclic_collector() -> None:
    """Errors kept as per-item results are freed with the call, not left in reference cycles
    (an error's traceback holds the frame whose result list holds the error) that only the
    cyclic collector frees; the servers run it rarely, so 16 AllocateBatch calls of 16,384
    failing items took IPAM from 92 MB to 396 MB (bench/limits.py)."""
    import asyncio
    import gc

    from prometheus_client import CollectorRegistry

    from services.ipam.service import IPAMServicer, IPAMState

    items = 1000
    no_context: Any = None

    async def scenario() -> list[int]:
        state = IPAMState(CollectorRegistry())
        await state.start()
        servicer = IPAMServicer(state)
        pool = ipam_pb2.Pool(name="p", addresses=["192.0.2.0/24"])
        await servicer.SetPools(ipam_pb2.SetPoolsRequest(pools=[pool]), no_context)
        empty = ipam_pb2.AllocateRequest()
        unknown = ipam_pb2.Restoration(service=service("x", V4), ips=["198.51.100.1"])
        garbage = []
        gc.collect()
        await servicer.RestoreAllocations(
            ipam_pb2.RestoreAllocationsRequest(restorations=[unknown] * items, complete=True),
            no_context,
        )
        garbage.append(gc.collect())
        await servicer.AllocateBatch(
            ipam_pb2.AllocateBatchRequest(requests=[empty] * items), no_context
        )
        garbage.append(gc.collect())
        await state.stop()
        return garbage

    gc.disable()
    try:
        garbage = asyncio.run(scenario())
    finally:
        gc.enable()
    assert all(found < items // 10 for found in garbage), garbage
