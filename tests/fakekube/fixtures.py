"""Pytest fixtures for the fake API server.

Use them from any conftest with `from tests.fakekube.fixtures import fake_kube, kube_api_client`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .fake import FakeKube

__all__ = ["fake_kube", "kube_api_client"]


@pytest.fixture
def fake_kube() -> Iterator[FakeKube]:
    """A started `FakeKube`, stopped after the test."""
    with FakeKube() as kube:
        yield kube


@pytest.fixture
def kube_api_client(fake_kube: FakeKube) -> Iterator[Any]:
    """A `kubernetes.client.ApiClient` pointed at `fake_kube`, closed after the test."""
    client = fake_kube.api_client()
    try:
        yield client
    finally:
        client.close()
