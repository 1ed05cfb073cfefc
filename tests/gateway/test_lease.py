"""Leases against the fake API server: one holder at a time, takeover only after expiry, timed
on each contender's own clock (here a virtual one: no sleeping)."""

from gateway.kube.lease import LeaseLock
from tests.fakekube import FakeKube


def test_one_leader_and_takeover_after_expiry() -> None:
    with FakeKube() as kube:
        api = kube.api_client()
        try:
            now = [0.0]  # both contenders' monotonic clock, in seconds

            def lock(identity: str) -> LeaseLock:
                name = "metallb-grpc-controller"
                return LeaseLock(api, "metallb-system", name, identity, 1, clock=lambda: now[0])

            a, b = lock("pod-a"), lock("pod-b")
            assert a.try_hold()
            assert not b.try_hold()
            assert a.try_hold()  # renew
            assert b.holder() == "pod-a"
            now[0] = 0.9  # a stops renewing: still its lease for the rest of its duration
            assert not b.try_hold()
            now[0] = 1.2
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


def test_release_deletes_only_a_lease_we_hold() -> None:
    with FakeKube() as kube:
        api = kube.api_client()
        try:
            name = "metallb-grpc-node-node1"
            ours = LeaseLock(api, "metallb-system", name, "node1", 15)
            other = LeaseLock(api, "metallb-system", name, "impostor", 15)
            assert ours.try_hold()
            other.release()  # not its Lease: left alone
            assert kube.find("leases.coordination.k8s.io", name, "metallb-system") is not None
            ours.release()  # leaving: the others see it gone at once
            assert kube.find("leases.coordination.k8s.io", name, "metallb-system") is None
            ours.release()  # already gone: nothing to do
        finally:
            api.close()
