"""How a server listens and a client connects: unix-socket modes, TLS, mutual TLS, size limits.

Safe by default: a unix socket is created mode 0600 (0660 with a named group) whatever the
process's umask; TCP listeners are plaintext unless a certificate and key are given; with a
client CA every client must present a certificate that CA signed (mutual TLS). Certificate files
are read again when they change (checked at each new connection, as kubelet and most operators'
tooling expect from a rotated Secret mount), so rotation needs no restart. Messages are bounded
(4 MiB, gRPC's own default, unless raised), in both directions.
"""

from __future__ import annotations

import argparse
import contextlib
import grp
import logging
import os
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc

from metallb_runtime.admission import DEFAULT_CALL_WAIT, DEFAULT_MAX_CALLS
from metallb_runtime.limits import DEFAULT_MAX_STREAMS, DEFAULT_MAX_STREAMS_PER_CLIENT

log = logging.getLogger(__name__)

DEFAULT_MAX_MESSAGE_BYTES = 4 << 20


def message_size_options(limit: int = DEFAULT_MAX_MESSAGE_BYTES) -> tuple[tuple[str, int], ...]:
    return (
        ("grpc.max_receive_message_length", limit),
        ("grpc.max_send_message_length", limit),
    )


def server_options(limit: int = DEFAULT_MAX_MESSAGE_BYTES) -> tuple[tuple[str, int], ...]:
    """A server's channel arguments: the size limits, and BDP probing off. With probing on,
    gRPC grows each stream's receive window towards the connection's bandwidth-delay product
    whether or not the server reads, so a client could push megabytes into a call still waiting
    for admission (metallb_runtime/admission.py); off, an unread stream holds one 64 KiB window."""
    return (*message_size_options(limit), ("grpc.http2.bdp_probe", 0))


@dataclass(frozen=True)
class ServerTransport:
    """The transport flags of one server (`--tls-cert`, `--tls-key`, `--tls-client-ca`,
    `--socket-group`, `--max-message-bytes`, `--max-streams`, `--max-streams-per-client`)."""

    tls_cert: Path | None = None
    tls_key: Path | None = None
    client_ca: Path | None = None
    socket_group: str | None = None
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    max_streams: int = DEFAULT_MAX_STREAMS
    max_streams_per_client: int = DEFAULT_MAX_STREAMS_PER_CLIENT
    max_calls: int = DEFAULT_MAX_CALLS
    call_wait: float = DEFAULT_CALL_WAIT

    def __post_init__(self) -> None:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("--tls-cert and --tls-key go together")
        if self.client_ca is not None and self.tls_cert is None:
            raise ValueError("--tls-client-ca needs --tls-cert and --tls-key")
        if self.max_message_bytes <= 0:
            raise ValueError("--max-message-bytes must be positive")
        if self.max_streams <= 0 or self.max_streams_per_client <= 0:
            raise ValueError("--max-streams and --max-streams-per-client must be positive")
        if self.max_calls <= 0:
            raise ValueError("--max-calls must be positive")
        if self.call_wait < 0:
            raise ValueError("--call-wait must not be negative")

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


class _ReloadingCertificates:
    """The fetcher of grpc's dynamic server credentials: a new configuration when the files'
    (size, mtime) changed since the last read, else None (keep the current one). A file caught
    half-written keeps the previous configuration and is read again at the next handshake."""

    def __init__(self, transport: ServerTransport) -> None:
        self.transport = transport
        self._lock = threading.Lock()
        self._stamp = self._stamp_now()
        self.initial = self._configuration()

    def _files(self) -> list[Path]:
        t = self.transport
        return [p for p in (t.tls_cert, t.tls_key, t.client_ca) if p is not None]

    def _stamp_now(self) -> tuple[tuple[int, int], ...]:
        return tuple((st.st_size, st.st_mtime_ns) for st in (p.stat() for p in self._files()))

    def _configuration(self) -> grpc.ServerCertificateConfiguration:
        t = self.transport
        assert t.tls_cert is not None and t.tls_key is not None
        pair = (t.tls_key.read_bytes(), t.tls_cert.read_bytes())
        roots = t.client_ca.read_bytes() if t.client_ca is not None else None
        return grpc.ssl_server_certificate_configuration([pair], root_certificates=roots)

    def __call__(self) -> grpc.ServerCertificateConfiguration | None:
        with self._lock:
            try:
                stamp = self._stamp_now()
                if stamp == self._stamp:
                    return None
                config = self._configuration()
            except (OSError, ValueError) as err:
                log.warning("TLS files unreadable, keeping the current certificate: %s", err)
                return None
            self._stamp = stamp
            log.info("TLS certificate files changed: new connections use them")
            return config


def server_credentials(transport: ServerTransport) -> grpc.ServerCredentials | None:
    """Credentials that follow the files, or None for plaintext."""
    if not transport.tls:
        return None
    fetcher = _ReloadingCertificates(transport)
    return grpc.dynamic_ssl_server_credentials(
        fetcher.initial, fetcher, require_client_authentication=transport.client_ca is not None
    )


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def bind(
    add_port: Callable[[str], int], address: str, transport: ServerTransport
) -> tuple[str, Callable[[], None]]:
    """Bind `address` (`host:port` or `unix:/path`) through `add_port`; return the address
    really bound and what to call once the server has started (which fixes a socket's mode)."""
    if not address.startswith("unix:"):
        port = add_port(address)
        if port == 0:
            raise OSError(f"cannot listen on {address}")
        return f"{address.rpartition(':')[0]}:{port}", lambda: None
    path = Path(address.removeprefix("unix:"))
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    gid = grp.getgrnam(transport.socket_group).gr_gid if transport.socket_group else None
    mode = 0o660 if gid is not None else 0o600
    # The socket is created with the strictest mode from the start; chmod then sets exactly the
    # intended one (the umask could only have removed bits).
    with _umask(0o177):
        add_port(address)

    def fix_mode() -> None:
        if gid is not None:
            os.chown(path, -1, gid)
        os.chmod(path, mode)

    return address, fix_mode


def private_directory(path: Path, group: str | None = None) -> Path:
    """Create (or check) a directory only its owner can enter, for sockets: mode 0700 whatever
    the umask (0710 and that group with `group`: its members may reach the sockets, which the
    sockets' own 0660 then admits, but not list or change the folder), owned by this process's
    user, not a symbolic link. An existing directory that another user owns, or that is a link,
    is refused rather than used (someone could have created it first in a shared parent such
    as /tmp, to read or replace our sockets)."""
    gid = grp.getgrnam(group).gr_gid if group else None
    path.parent.mkdir(parents=True, exist_ok=True)
    with _umask(0o077), contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode):
        raise OSError(f"{path}: not a directory (a symbolic link or a file is not used)")
    if st.st_uid != os.geteuid():
        raise OSError(f"{path}: owned by uid {st.st_uid}, not by this user ({os.geteuid()})")
    if gid is not None:
        os.chown(path, -1, gid, follow_symlinks=False)
    os.chmod(path, 0o710 if gid is not None else 0o700, follow_symlinks=False)
    return path


@dataclass(frozen=True)
class ClientTLS:
    """How a client reaches our services: plaintext (nothing set), TLS verifying the server
    against `ca`, mutual TLS adding `cert` and `key` (`--tls-ca`, `--tls-client-cert`,
    `--tls-client-key`)."""

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise ValueError("--tls-client-cert and --tls-client-key go together")


def add_client_tls_arguments(
    parser: argparse.ArgumentParser, prefix: str = "", target: str = "the services"
) -> None:
    """`--{prefix}tls-ca`, `--{prefix}tls-client-cert`, `--{prefix}tls-client-key`: how a
    client reaches `target` (read back with `client_tls_from_arguments`)."""
    group = parser.add_argument_group(f"TLS to {target}")
    group.add_argument(
        f"--{prefix}tls-ca", type=Path, help=f"speak TLS to {target}, trusting this CA (PEM)"
    )
    group.add_argument(
        f"--{prefix}tls-client-cert", type=Path, help="mutual TLS: present this certificate (PEM)"
    )
    group.add_argument(
        f"--{prefix}tls-client-key", type=Path, help="the client certificate's key (PEM)"
    )


def client_tls_from_arguments(args: argparse.Namespace, prefix: str = "") -> ClientTLS:
    """The `ClientTLS` of `add_client_tls_arguments(parser, prefix)`; inconsistent flags exit."""
    attr = prefix.replace("-", "_")
    try:
        return ClientTLS(
            ca=getattr(args, f"{attr}tls_ca"),
            cert=getattr(args, f"{attr}tls_client_cert"),
            key=getattr(args, f"{attr}tls_client_key"),
        )
    except ValueError as err:
        text = str(err).replace("--tls-", f"--{prefix}tls-")
        raise SystemExit(f"metallb-grpc {args.command}: {text}") from None


# A unix socket has no host name to check a server certificate against: the name checked is
# this one (the services' certificates name it), unless the client says otherwise.
UNIX_SERVER_NAME = "localhost"


def channel(
    address: str,
    options: tuple[tuple[str, int], ...],
    ca: Path | None = None,
    cert: Path | None = None,
    key: Path | None = None,
) -> grpc.aio.Channel:
    """A channel to one of our services: plaintext, TLS (server verified against `ca`), or
    mutual TLS (with `cert` and `key`). Over a unix socket the server's certificate must name
    `localhost`."""
    if ca is None and cert is None:
        return grpc.aio.insecure_channel(address, options=options)
    if (cert is None) != (key is None):
        raise ValueError("a client certificate and its key go together")
    creds = grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes() if ca else None,
        private_key=key.read_bytes() if key else None,
        certificate_chain=cert.read_bytes() if cert else None,
    )
    extra: tuple[tuple[str, str], ...] = ()
    if address.startswith("unix:"):
        extra = (("grpc.ssl_target_name_override", UNIX_SERVER_NAME),)
    return grpc.aio.secure_channel(address, creds, options=(*options, *extra))
