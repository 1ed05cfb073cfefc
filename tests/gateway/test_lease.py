"""Leases against the fake API server: one holder at a time, takeover only after expiry."""

import time

from gateway.kube.lease import LeaseLock
from tests.fakekube import FakeKube


def test_one_leader_and_takeover_after_expiry() -> None:
    with FakeKube() as kube:
        api = kube.api_client()
        try:
            a = LeaseLock(api, "metallb-system", "metallb-grpc-controller", "pod-a", duration=1)
            b = LeaseLock(api, "metallb-system", "metallb-grpc-controller", "pod-b", duration=1)
            assert a.try_hold()
            assert not b.try_hold()
            assert a.try_hold()  # renew
            assert b.holder() == "pod-a"
            time.sleep(1.2)  # a stops renewing
            assert b.holder() is None
            assert b.try_hold()
            assert not a.try_hold()
            lease = kube.get(
                "leases.coordination.k8s.io", "metallb-grpc-controller", "metallb-system"
            )
            assert lease["spec"]["holderIdentity"] == "pod-b"
            assert lease["spec"]["leaseTransitions"] == 1
        finally:
            api.close()
