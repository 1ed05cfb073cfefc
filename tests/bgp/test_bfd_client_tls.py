"""BGP's client of the BFD service over mutual TLS (issue 15: TLS on every client).

The BFD service serves mutual TLS on a unix socket; BGP's client, given the flags `up` passes
(`--bfd-tls-ca`, `--bfd-tls-client-cert`, `--bfd-tls-client-key`), adds its session and follows
it Up over the watch stream, while a plaintext client and a client without a certificate are
refused and add nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from metallb.bfd.v1 import bfd_pb2_grpc
from metallb_cli.main import build_parser, up_service_arguments
from metallb_runtime.server import Server
from metallb_runtime.transport import (
    ClientTLS,
    ServerTransport,
    channel,
    client_tls_from_arguments,
)
from services.bfd.service import bfd_binding
from services.bgp.bfd_client import BfdRegistrationError, GrpcBfdClient
from tests.test_transport_security import new_pki, write

from .test_bfd_client import FAST, Calls, World, peer_conf, register, sessions


@asynccontextmanager
async def tls_bfd_service(
    world: World, files: dict[str, Path]
) -> AsyncIterator[bfd_pb2_grpc.BFDServiceStub]:
    """Our BFD service on a unix socket, mutual TLS only; a stub that presents a certificate."""
    registry = CollectorRegistry()
    server = Server(
        [bfd_binding(registry, world.ours, world.theirs)],
        f"unix:{world.path}",
        registry=registry,
        grace=0.2,
        transport=ServerTransport(
            tls_cert=files["cert"], tls_key=files["key"], client_ca=files["ca"]
        ),
    )
    await server.start()
    try:
        ch = channel(
            f"unix:{world.path}",
            (),
            ca=files["ca"],
            cert=files["client_cert"],
            key=files["client_key"],
        )
        async with ch:
            yield bfd_pb2_grpc.BFDServiceStub(ch)
    finally:
        await server.stop()


def bgp_client_tls(files: dict[str, Path], socket: Path) -> ClientTLS:
    """The ClientTLS `metallb-grpc bgp` builds from the command line `up` gives it."""
    given = ClientTLS(ca=files["ca"], cert=files["client_cert"], key=files["client_key"])
    argv = up_service_arguments("bgp", socket.parent, f"unix:{socket}", given)
    args = build_parser().parse_args(argv)
    assert args.bfd == f"unix:{socket}"
    return client_tls_from_arguments(args, "bfd-")


def test_bgp_reaches_bfd_over_mutual_tls_and_nothing_else_is_served(
    arun: Callable[..., Any], tmp_path: Path
) -> None:
    files = write(new_pki("bfd"), tmp_path / "pki")

    async def scenario() -> None:
        world = World(tmp_path)
        tls = bgp_client_tls(files, world.path)
        assert tls == ClientTLS(ca=files["ca"], cert=files["client_cert"], key=files["client_key"])
        async with tls_bfd_service(world, files) as stub, world.peer():
            for refused in (ClientTLS(), ClientTLS(ca=files["ca"])):
                client = GrpcBfdClient(f"unix:{world.path}", refused)
                client.remember(peer_conf(bfd=FAST))
                with pytest.raises(BfdRegistrationError, match="UNAVAILABLE"):
                    await register(client, Calls())
                await client.close()
                assert await sessions(stub) == {}
            client = GrpcBfdClient(f"unix:{world.path}", tls)
            client.remember(peer_conf(bfd=FAST))
            calls = Calls()
            await register(client, calls)
            assert list(await sessions(stub)) == ["127.0.0.2"]
            # The watch stream runs over the same channel: the session is followed Up.
            await calls.until("Up", lambda: calls.status == "up")
            await client.unregister("p1")
            assert await sessions(stub) == {}
            await client.close()
        assert calls.downs == []

    arun(scenario())


def test_bfd_tls_flags_need_bfd_and_a_certificate_needs_its_key() -> None:
    from metallb_cli.main import COMMANDS

    for argv, text in (
        (["bgp", "--bfd-tls-ca", "/ca.crt"], "--bfd-tls-* without --bfd"),
        (
            ["bgp", "--bfd", "unix:/x", "--bfd-tls-client-cert", "/c.crt"],
            "--bfd-tls-client-cert and --bfd-tls-client-key go together",
        ),
    ):
        args = build_parser().parse_args(argv)
        with pytest.raises(SystemExit, match=text.replace("*", r"\*")):
            COMMANDS["bgp"].bindings(args, CollectorRegistry())


def test_up_passes_no_bfd_tls_flags_when_it_speaks_plaintext() -> None:
    argv = up_service_arguments("bgp", Path("/run/x"), "unix:/run/x/bfd.sock", ClientTLS())
    assert argv == ["bgp", "--listen", "unix:/run/x/bgp.sock", "--bfd", "unix:/run/x/bfd.sock"]
    assert up_service_arguments("l2", Path("/run/x"), "", ClientTLS()) == [
        "l2",
        "--listen",
        "unix:/run/x/l2.sock",
    ]
