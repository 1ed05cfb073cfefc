"""services/ipam/wire.py: ConvergeServices read and answered as encodings (issue 15), decoding
exactly as the messages they stand for."""

from metallb.common.v1 import common_pb2
from metallb.ipam.v1 import ipam_pb2
from services.ipam import wire


def _decision(name: str, message: str) -> ipam_pb2.ServiceDecision:
    return ipam_pb2.ServiceDecision(
        service=common_pb2.ServiceKey(namespace="demo", name=name),
        ingress_ips=["192.0.2.1"],
        events=[
            ipam_pb2.ServiceEvent(type=ipam_pb2.EVENT_TYPE_NORMAL, reason="r", message=message)
        ],
        outcome=ipam_pb2.SYNC_OUTCOME_SUCCESS,
    )


def test_an_answer_set_in_any_order_decodes_as_the_response_in_request_order() -> None:
    decisions = [_decision("a", "short"), _decision("b", "x" * 300), _decision("c", "y" * 20_000)]
    answer = wire.ConvergeAnswer(4)  # the fourth is never set: an empty decision, as add() gave
    for i in (2, 0, 1):  # lengths of one, two and three varint bytes, set out of order
        answer.set(i, decisions[i])
    deleted = [ipam_pb2.SYNC_OUTCOME_REPROCESS_ALL, ipam_pb2.SYNC_OUTCOME_SUCCESS]
    data = answer.encode(deleted)
    expected = ipam_pb2.ConvergeServicesResponse(
        decisions=[*decisions, ipam_pb2.ServiceDecision()], deleted=deleted
    )
    assert ipam_pb2.ConvergeServicesResponse.FromString(data) == expected
    assert len(data) == expected.ByteSize()


def test_a_request_read_with_its_services_as_bytes_keeps_every_other_field() -> None:
    services = [ipam_pb2.LoadBalancerService(namespace="demo", name=f"s{i}") for i in range(3)]
    request = ipam_pb2.ConvergeServicesRequest(
        services=services,
        namespace_labels={"demo": ipam_pb2.Labels(labels={"team": "a"})},
        deleted=[common_pb2.ServiceKey(namespace="demo", name="gone")],
        complete_set=True,
    )
    raw = wire.RawConvergeServicesRequest.FromString(request.SerializeToString())
    assert [wire.parse_service(data, "s") for data in raw.services] == services  # type: ignore[attr-defined]
    assert dict(raw.namespace_labels["demo"].labels) == {"team": "a"}  # type: ignore[attr-defined]
    assert list(raw.deleted) == list(request.deleted)  # type: ignore[attr-defined]
    assert raw.complete_set  # type: ignore[attr-defined]
