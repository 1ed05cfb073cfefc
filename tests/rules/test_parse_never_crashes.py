"""Configuration parsing never raises anything but `ConfigError`, whatever the objects hold.

The issue's findings (14): an IPAddressPool with `addresses: 5` crashed both roles with a
TypeError, and a BGP password Secret whose bytes are not UTF-8 with a UnicodeDecodeError. In a
cluster the API server's CRD schemas stop most wrong types, but not in a manifests folder, nor a
Secret's bytes; either way a role must report, not die (§2: the last good configuration stays).
"""

import base64
import contextlib
import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metallb_rules.config.model import ConfigError, Node
from metallb_rules.config.parse import parse
from metallb_rules.config.resources import ClusterResources

NS = "metallb-system"


def obj(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "metadata": {"name": name, "namespace": NS}, "spec": spec}


def valid() -> ClusterResources:
    return ClusterResources(
        pools=[obj("IPAddressPool", "p", {"addresses": ["192.0.2.0/28"], "autoAssign": True})],
        peers=[
            obj(
                "BGPPeer",
                "r",
                {
                    "myASN": 64512,
                    "peerASN": 64513,
                    "peerAddress": "192.0.2.100",
                    "holdTime": "90s",
                    "passwordSecret": {"name": "s"},
                    "bfdProfile": "b",
                    "nodeSelectors": [{"matchLabels": {"a": "b"}}],
                },
            )
        ],
        bfd_profiles=[obj("BFDProfile", "b", {"receiveInterval": 300, "detectMultiplier": 3})],
        bgp_advertisements=[
            obj(
                "BGPAdvertisement",
                "ba",
                {"ipAddressPools": ["p"], "communities": ["65000:1"], "localPref": 100},
            )
        ],
        l2_advertisements=[obj("L2Advertisement", "la", {"ipAddressPools": ["p"]})],
        communities=[obj("Community", "c", {"communities": [{"name": "x", "value": "65000:2"}]})],
        nodes=[Node("n1", {"a": "b"})],
        secrets={
            "s": {
                "type": "kubernetes.io/basic-auth",
                "data": {"password": base64.b64encode(b"pw").decode()},
            }
        },
    )


def test_the_valid_configuration_parses() -> None:
    parse(valid())


def test_addresses_that_are_not_a_list() -> None:
    res = valid()
    res.pools[0]["spec"]["addresses"] = 5
    with pytest.raises(ConfigError) as exc:
        parse(res)
    assert "ipaddresspools/p" in str(exc.value.field) and "addresses" in str(exc.value.field)


def test_a_password_secret_that_is_not_utf8() -> None:
    res = valid()
    res.secrets["s"]["data"]["password"] = base64.b64encode(b"\xff\xfe").decode()
    with pytest.raises(ConfigError) as exc:
        parse(res)
    assert "bgppeers/r" in str(exc.value.field)
    assert "UTF-8" in exc.value.message


def test_a_password_secret_that_is_not_base64() -> None:
    res = valid()
    res.secrets["s"]["data"]["password"] = "%%%"
    with pytest.raises(ConfigError):
        parse(res)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)

KINDS = ["pools", "peers", "bfd_profiles", "bgp_advertisements", "l2_advertisements", "communities"]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), pick=st.integers(0, 10_000), value=JSON)
def test_any_value_anywhere_is_a_config_error_at_worst(kind: str, pick: int, value: Any) -> None:
    res = valid()
    target = copy.deepcopy(getattr(res, kind)[0])
    paths = _paths(target)
    path = paths[pick % len(paths)]
    if not path:
        target = value if isinstance(value, dict) else {"kind": "X", "spec": value}
    else:
        holder = target
        for step in path[:-1]:
            holder = holder[step]
        holder[path[-1]] = value
    getattr(res, kind)[0] = target
    with contextlib.suppress(ConfigError):
        parse(res)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=12))
def test_any_secret_bytes_are_a_password_or_a_config_error(data: bytes) -> None:
    res = valid()
    res.secrets["s"]["data"]["password"] = base64.b64encode(data).decode()
    with contextlib.suppress(ConfigError):
        parse(res)
