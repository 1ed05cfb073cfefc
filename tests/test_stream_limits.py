"""Concurrent streams are bounded per server and per client (issue 15: "a bound on concurrent
streams and watchers per service"); before, a client could open Watch streams without end."""

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from metallb.ipam.v1 import ipam_pb2, ipam_pb2_grpc
from metallb_runtime.transport import ServerTransport, channel
from tests.conftest import run_async
from tests.test_transport_security import Pki, _build, _key, _pem_key, ipam, new_pki, write

OPTS: tuple[tuple[str, int], ...] = ()


async def open_watch(
    ch: grpc.aio.Channel,
) -> tuple[grpc.StatusCode, str, grpc.aio.UnaryStreamCall[Any, Any]]:
    """Start WatchAllocations and read its first response (so the server has counted it)."""
    call = ipam_pb2_grpc.IPAMServiceStub(ch).WatchAllocations(ipam_pb2.WatchAllocationsRequest())
    try:
        await call.read()
    except grpc.aio.AioRpcError as err:
        return err.code(), err.details() or "", call
    return grpc.StatusCode.OK, "", call


def test_a_server_refuses_streams_over_its_total(tmp_path: Path) -> None:
    """Over a unix socket clients are not told apart: the server's total bounds them."""
    short = Path(tempfile.mkdtemp(prefix="mlb-"))

    async def scenario() -> list[tuple[grpc.StatusCode, str]]:
        transport = ServerTransport(max_streams=2)
        async with (
            ipam(f"unix:{short}/ipam.sock", transport) as server,
            channel(server.address, OPTS) as ch,
        ):
            first, second, third = [await open_watch(ch) for _ in range(3)]
            first[2].cancel()
            # The cancelled stream's slot is free once its handler has ended.
            for _ in range(100):
                again = await open_watch(ch)
                if again[0] is grpc.StatusCode.OK:
                    break
                await asyncio.sleep(0.01)  # real sockets: the cancel reaches the server
            return [r[:2] for r in (first, second, third, again)]

    try:
        results = run_async(scenario())
    finally:
        shutil.rmtree(short, ignore_errors=True)
    codes = [code for code, _ in results]
    assert codes[:2] == [grpc.StatusCode.OK, grpc.StatusCode.OK]
    assert codes[2] == grpc.StatusCode.RESOURCE_EXHAUSTED and "--max-streams" in results[2][1]
    assert codes[3] == grpc.StatusCode.OK


def _second_client(pki: Pki, folder: Path) -> tuple[Path, Path]:
    """Another client certificate from the same CA (another subject)."""
    ca_key = serialization.load_pem_private_key(pki.ca.key, None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca-limits")])
    key = _key()
    cert, key_file = folder / "second.crt", folder / "second.key"
    cert.write_bytes(_build("second-client", key, (issuer, ca_key), ca=False))
    key_file.write_bytes(_pem_key(key))
    return cert, key_file


@pytest.mark.parametrize("tls", [False, True], ids=["by-ip", "by-certificate"])
def test_a_client_is_refused_streams_over_its_own_bound(tmp_path: Path, tls: bool) -> None:
    """Per client: its IP address over plain TCP; over mutual TLS its certificate, so two
    clients on one host (two certificates) each get their own bound."""
    pki = new_pki("limits")
    files = write(pki, tmp_path / "pki")
    transport = ServerTransport(max_streams=8, max_streams_per_client=1)
    if tls:
        transport = ServerTransport(
            tls_cert=files["cert"], tls_key=files["key"], client_ca=files["ca"],
            max_streams=8, max_streams_per_client=1,
        )  # fmt: skip

    async def scenario() -> list[tuple[grpc.StatusCode, str]]:
        async with ipam("localhost:0" if tls else "127.0.0.1:0", transport) as server:

            def connect(cert: Path | None = None, key: Path | None = None) -> grpc.aio.Channel:
                if not tls:
                    return channel(server.address, OPTS)
                return channel(server.address, OPTS, ca=files["ca"], cert=cert, key=key)

            a = connect(files["client_cert"], files["client_key"])
            b = connect(*_second_client(pki, tmp_path)) if tls else connect()
            async with a, b:
                results = [await open_watch(a), await open_watch(a), await open_watch(b)]
                return [r[:2] for r in results]

    first, second, third = run_async(scenario())
    assert first[0] == grpc.StatusCode.OK
    assert second[0] == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "--max-streams-per-client" in second[1]
    # A second client: another certificate gets its own bound; the same IP does not.
    assert third[0] == (grpc.StatusCode.OK if tls else grpc.StatusCode.RESOURCE_EXHAUSTED)
