"""Fixtures for the fake API server's own tests."""

from tests.fakekube.fixtures import fake_kube, kube_api_client

__all__ = ["fake_kube", "kube_api_client"]
