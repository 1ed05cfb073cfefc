"""Interop prerequisites: root (namespaces, TCP MD5) and the daemons, failing under CI."""

from __future__ import annotations

import os

import pytest

from tests.conftest import require_binary

from .lab import require_root


@pytest.fixture
def bird_lab() -> None:
    require_root()
    require_binary("ip")
    require_binary("bird")
    require_binary("birdc")


@pytest.fixture
def frr_lab() -> None:
    require_root()
    require_binary("ip")
    require_binary("vtysh")
    if not os.path.exists("/usr/lib/frr/bgpd"):
        require_binary("/usr/lib/frr/bgpd")


@pytest.fixture
def gobgp_lab() -> None:
    require_root()
    require_binary("ip")
    require_binary("gobgpd")
    require_binary("gobgp")
